/**
 * The relay transport handshake as a sans-I/O state machine (SECURITY.md §10.1,
 * "Framing"): Noise NK (RELAY_PROTOCOL) with the relay prologue, both payloads empty, each
 * message framed as a record. Bytes in, bytes out; noise-connection.ts puts it on a stream.
 *
 *   initiator (client): start() → framed message 1; receive(message 2) → session
 *   responder (relay):  receive(message 1) → framed message 2 to send, and the session
 */
import { utf8 } from "../../crypto/bytes.js";
import { CodecError, UsageError } from "../../crypto/errors.js";
import type { Rng } from "../../crypto/rng.js";
import { NOISE_TAG_BYTES } from "./noise-cipher-state.js";
import { HandshakeState, NOISE_DH_BYTES } from "./noise-handshake.js";
import { RELAY_PROTOCOL } from "./noise-protocol.js";
import { RECORD_HEADER_BYTES, encodeRecord } from "./record-codec.js";
import { SecureSession } from "./secure-session.js";

/** The relay transport prologue (Noise §6), SECURITY.md §10.1: a new version changes it. */
export const RELAY_PROLOGUE_TEXT = "SMSG-v1 relay transport";

/** Both NK messages with an empty payload: a 32-byte ephemeral key and a 16-byte tag. */
export const RELAY_HANDSHAKE_MESSAGE_BYTES = NOISE_DH_BYTES + NOISE_TAG_BYTES;

const FRAMED_BYTES = RECORD_HEADER_BYTES + RELAY_HANDSHAKE_MESSAGE_BYTES;
const EMPTY = new Uint8Array(0);

/** Who this side is: the client (initiator) pins the relay's key; the relay (responder) holds it. */
export type RelayHandshakeOptions =
  | {
      readonly role: "initiator";
      /** The relay's static X25519 public key, pinned from the invite (NK's `<- s`). */
      readonly relayStaticKey: Uint8Array;
      /** Randomness for the ephemeral key (docs/ARCHITECTURE.md §5.4). */
      readonly rng: Rng;
    }
  | {
      readonly role: "responder";
      /** The relay's static X25519 private key. */
      readonly staticPrivateKey: Uint8Array;
      /** Randomness for the ephemeral key (docs/ARCHITECTURE.md §5.4). */
      readonly rng: Rng;
    };

/** What one `receive` produced. */
export interface RelayHandshakeStep {
  /** Bytes to send to the peer now (the responder's framed message 2); empty if none. */
  readonly send: Uint8Array;
  /** The established channel, once the handshake is complete. */
  readonly session?: SecureSession;
  /**
   * With `session`: the bytes of the chunk after the last handshake message (the peer may
   * send its first transport records in the same segment). Feed them to `session.open`
   * before anything received later. A view of the chunk; may be empty.
   */
  readonly rest?: Uint8Array;
}

/**
 * One handshake of the relay transport. Holds only the 50-byte buffer of the message being
 * received and the HandshakeState. A message whose length prefix is not 48 (a non-empty
 * payload, garbage, another protocol) is refused as soon as the two length bytes arrive.
 * Any failure kills it (keys wiped); later calls throw UsageError.
 */
export class RelayHandshake {
  /** "initiator" or "responder". */
  readonly role: RelayHandshakeOptions["role"];
  private readonly hs: HandshakeState;
  private readonly buf = new Uint8Array(FRAMED_BYTES);
  private filled = 0;
  private state: "new" | "reading" | "done" | "failed";

  /**
   * Initialize (Noise §5.3) with RELAY_PROTOCOL and the relay prologue.
   * Throws UsageError for a key that is not 32 bytes.
   */
  constructor(opts: RelayHandshakeOptions) {
    this.role = opts.role;
    const prologue = utf8(RELAY_PROLOGUE_TEXT);
    this.hs =
      opts.role === "initiator"
        ? new HandshakeState({
            protocolName: RELAY_PROTOCOL,
            initiator: true,
            prologue,
            remoteStaticPublicKey: opts.relayStaticKey,
            rng: opts.rng,
          })
        : new HandshakeState({
            protocolName: RELAY_PROTOCOL,
            initiator: false,
            prologue,
            staticPrivateKey: opts.staticPrivateKey,
            rng: opts.rng,
          });
    this.state = opts.role === "initiator" ? "new" : "reading";
  }

  /** Whether the handshake finished (a session was handed out). */
  get isDone(): boolean {
    return this.state === "done";
  }

  /**
   * The initiator's first bytes: framed message 1 (`-> e, es`, empty payload; 50 bytes).
   * Throws UsageError for the responder (it speaks second) or when called twice;
   * CryptoVerificationError if the pinned relay key is a low-order point.
   */
  start(): Uint8Array {
    if (this.role !== "initiator" || this.state !== "new")
      throw new UsageError("start() is the initiator's first call, once");
    try {
      const m1 = this.hs.writeMessage(EMPTY);
      this.state = "reading";
      return encodeRecord(m1);
    } catch (err) {
      this.fail();
      throw err;
    }
  }

  /**
   * Takes the next bytes from the peer. Until the peer's handshake message is complete it
   * returns `{ send: empty }`; then it reads it (ReadMessage, Noise §5.3), the responder
   * writes message 2 (`<- e, ee`, empty payload), both Split (§5.2), and the step carries
   * the session, the bytes to send and the rest of the chunk.
   * Throws CodecError when the length prefix is not 48 (malformed, or a non-empty payload),
   * CryptoVerificationError("could not decrypt") when the message does not verify (wrong
   * relay key, wrong prologue, tampering, a low-order key); then the handshake is dead.
   * UsageError before the initiator's start(), after the handshake finished or failed.
   */
  receive(chunk: Uint8Array): RelayHandshakeStep {
    if (this.state !== "reading") {
      throw new UsageError(
        this.state === "new"
          ? "the initiator must call start() first"
          : `the handshake is ${this.state === "done" ? "over: feed transport bytes to the session" : "dead"}`,
      );
    }
    const take = Math.min(FRAMED_BYTES - this.filled, chunk.length);
    const before = this.filled;
    this.buf.set(chunk.subarray(0, take), before);
    this.filled += take;
    if (before < RECORD_HEADER_BYTES && this.filled >= RECORD_HEADER_BYTES) {
      const len = (this.buf[0]! << 8) | this.buf[1]!;
      if (len !== RELAY_HANDSHAKE_MESSAGE_BYTES) {
        this.fail();
        throw new CodecError(
          `malformed Noise handshake message: ${len} bytes, expected ${RELAY_HANDSHAKE_MESSAGE_BYTES} (empty payload)`,
        );
      }
    }
    if (this.filled < FRAMED_BYTES) return { send: EMPTY };
    try {
      const payload = this.hs.readMessage(this.buf.subarray(RECORD_HEADER_BYTES));
      if (payload.length !== 0) throw new CodecError("Noise handshake payload must be empty");
      const send = this.role === "responder" ? encodeRecord(this.hs.writeMessage(EMPTY)) : EMPTY;
      const hash = this.hs.handshakeHash;
      const session = new SecureSession(this.hs.split(), hash);
      this.state = "done";
      this.buf.fill(0);
      return { send, session, rest: chunk.subarray(take) };
    } catch (err) {
      this.fail();
      throw err;
    }
  }

  /** Abandons the handshake and wipes its secrets. Idempotent; a finished handshake is unaffected. */
  destroy(): void {
    if (this.state === "done") return;
    this.fail();
  }

  private fail(): void {
    this.state = "failed";
    this.hs.destroy();
  }
}
