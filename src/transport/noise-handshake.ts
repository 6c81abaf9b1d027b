/**
 * HandshakeState (Noise Protocol Framework, revision 34, §5.3) for 25519 / ChaChaPoly /
 * SHA256|BLAKE2b and the token-driven patterns of noise-patterns.ts (NK, IK, XX, with pskN
 * modifiers, §9). Sans-I/O: `writeMessage` returns the bytes to send, `readMessage` takes the
 * bytes received; framing and sockets are the caller's.
 *
 * Lifecycle: messages alternate starting with the initiator; after the last one
 * `handshakeHash` is readable and `split()` hands out this side's two CipherStates once.
 * Any error caused by the peer's bytes (or by a DH that fails) kills the handshake: every
 * later call throws UsageError, and the caller must close the connection (Noise §5.3 leaves
 * a failed handshake unrecoverable).
 */
import { utf8 } from "../../crypto/bytes.js";
import { CodecError, CryptoVerificationError, UsageError } from "../../crypto/errors.js";
import { wipe, x25519, x25519Base, x25519KeyPair, type X25519KeyPair } from "../../crypto/primitives.js";
import type { Rng } from "../../crypto/rng.js";
import { CipherState, NOISE_MAX_MESSAGE_BYTES, NOISE_TAG_BYTES } from "./noise-cipher-state.js";
import { isPskPattern, type NoiseToken } from "./noise-patterns.js";
import { parseProtocolName, type NoiseProtocol } from "./noise-protocol.js";
import { SymmetricState } from "./noise-symmetric-state.js";

/** DHLEN for 25519 (Noise §12.1). */
export const NOISE_DH_BYTES = 32;
/** A PSK is 32 bytes (Noise §9.1). */
export const NOISE_PSK_BYTES = 32;

/** What Initialize() (Noise §5.3) takes. Keys are copied; the caller keeps and wipes its own. */
export interface HandshakeOptions {
  /** Full protocol name, e.g. RELAY_PROTOCOL (Noise §8). */
  readonly protocolName: string;
  /** true for the side that sends the first message. */
  readonly initiator: boolean;
  /** Prologue (Noise §6): both sides must pass the same bytes or the handshake fails. Default empty. */
  readonly prologue?: Uint8Array;
  /** This side's static X25519 private key `s`, if the pattern uses one. */
  readonly staticPrivateKey?: Uint8Array;
  /** The peer's static public key `rs`, required exactly when it is a pre-message (e.g. NK, IK initiator). */
  readonly remoteStaticPublicKey?: Uint8Array;
  /** The peer's ephemeral public key `re`, only for patterns with an `e` pre-message. */
  readonly remoteEphemeralPublicKey?: Uint8Array;
  /**
   * This side's ephemeral private key, injected (test vectors, Noise §5.3 "e" for testing).
   * Used once. Without it, `rng` draws 32 bytes when the "e" token is written.
   */
  readonly ephemeralPrivateKey?: Uint8Array;
  /** Randomness for the ephemeral key (docs/ARCHITECTURE.md §5.4). */
  readonly rng?: Rng;
  /** Pre-shared keys, 32 bytes each, one per psk token in order (Noise §9). */
  readonly psks?: readonly Uint8Array[];
}

/** What to do next with a HandshakeState. */
export type HandshakeAction = "write" | "read" | "split" | "done" | "failed";

/** This side's transport CipherStates after Split() (Noise §5.2, §5.3). */
export interface TransportCiphers {
  /** Encrypts what this side sends. */
  readonly send: CipherState;
  /** Decrypts what this side receives. */
  readonly recv: CipherState;
}

function need32(b: Uint8Array | undefined, what: string): Uint8Array | undefined {
  if (b === undefined) return undefined;
  if (!(b instanceof Uint8Array) || b.length !== 32) throw new UsageError(`${what} must be 32 bytes`);
  return b.slice();
}

/** A HandshakeState (Noise §5.3). Mutable, single use. */
export class HandshakeState {
  /** The parsed protocol (Noise §8). */
  readonly protocol: NoiseProtocol;
  /** Whether this side is the initiator. */
  readonly initiator: boolean;

  private readonly sym: SymmetricState;
  private readonly psk: boolean;
  private s: X25519KeyPair | undefined;
  private e: X25519KeyPair | undefined;
  private rs: Uint8Array | undefined;
  private re: Uint8Array | undefined;
  private injectedE: Uint8Array | undefined;
  private readonly rng: Rng | undefined;
  private readonly psks: Uint8Array[];
  private pskIndex = 0;
  private index = 0;
  private state: "running" | "complete" | "split" | "failed" = "running";
  private finalHash: Uint8Array | undefined;

  /**
   * Initialize(handshake_pattern, initiator, prologue, s, e, rs, re) (Noise §5.3):
   * InitializeSymmetric(protocol_name), MixHash(prologue), then MixHash of every pre-message
   * public key, the initiator's first (and MixKey too for an "e" in a PSK handshake, §9.2).
   * Throws UsageError for an unsupported protocol, a wrong key length, or a key the pattern
   * needs but was not given, or was given but the pattern does not use.
   */
  constructor(opts: HandshakeOptions) {
    this.protocol = parseProtocolName(opts.protocolName);
    this.initiator = opts.initiator;
    const pattern = this.protocol.pattern;
    this.psk = isPskPattern(pattern);

    const sPriv = need32(opts.staticPrivateKey, "static private key");
    this.s = sPriv === undefined ? undefined : { privateKey: sPriv, publicKey: x25519Base(sPriv) };
    this.rs = need32(opts.remoteStaticPublicKey, "remote static public key");
    this.re = need32(opts.remoteEphemeralPublicKey, "remote ephemeral public key");
    this.injectedE = need32(opts.ephemeralPrivateKey, "ephemeral private key");
    this.rng = opts.rng;
    this.psks = (opts.psks ?? []).map((p, i) => need32(p, `psk ${i}`)!);

    // Check up front that this side has exactly the keys the pattern asks of it.
    const localPre = this.initiator ? pattern.initiatorPreMessage : pattern.responderPreMessage;
    const remotePre = this.initiator ? pattern.responderPreMessage : pattern.initiatorPreMessage;
    const mine = (i: number) => (i % 2 === 0) === this.initiator;
    const writes = pattern.messages.filter((_, i) => mine(i)).flat();
    const reads = pattern.messages.filter((_, i) => !mine(i)).flat();
    const all = [...writes, ...reads];
    const usesLocalS =
      localPre.includes("s") ||
      writes.includes("s") ||
      all.includes("ss") ||
      all.includes(this.initiator ? "se" : "es");
    const name = this.protocol.name;
    if (usesLocalS && !this.s) throw new UsageError(`${name}: this side needs a static key`);
    if (!usesLocalS && this.s) throw new UsageError(`${name}: this side does not use a static key`);
    if (remotePre.includes("s") && !this.rs)
      throw new UsageError(`${name}: the peer's static key must be known in advance`);
    if (!remotePre.includes("s") && this.rs) {
      throw new UsageError(
        `${name}: the peer's static key is not a pre-message; compare remoteStatic after the handshake`,
      );
    }
    if (remotePre.includes("e") !== (this.re !== undefined))
      throw new UsageError(`${name}: remote ephemeral pre-message mismatch`);
    const needsE = localPre.includes("e") || writes.includes("e");
    if (needsE && !this.injectedE && !this.rng) throw new UsageError(`${name}: need an ephemeral key or an rng`);
    if (!needsE && this.injectedE) throw new UsageError(`${name}: this side does not use an ephemeral key`);
    const pskCount = all.filter((t) => t === "psk").length;
    if (this.psks.length !== pskCount)
      throw new UsageError(`${name}: expected ${pskCount} psk(s), got ${this.psks.length}`);

    this.sym = new SymmetricState(this.protocol.hash, utf8(this.protocol.name));
    this.sym.mixHash(opts.prologue ?? new Uint8Array(0));
    const initiatorKeys = this.initiator ? this.localPre(localPre) : this.remotePre(remotePre);
    const responderKeys = this.initiator ? this.remotePre(remotePre) : this.localPre(localPre);
    for (const { token, key } of [...initiatorKeys, ...responderKeys]) {
      this.sym.mixHash(key);
      if (token === "e" && this.psk) this.sym.mixKey(key);
    }
  }

  /** What the caller should do next: write or read a handshake message, split, or nothing. */
  get action(): HandshakeAction {
    switch (this.state) {
      case "running":
        return (this.index % 2 === 0) === this.initiator ? "write" : "read";
      case "complete":
        return "split";
      case "split":
        return "done";
      case "failed":
        return "failed";
    }
  }

  /** Whether every handshake message has been written or read. */
  get isComplete(): boolean {
    return this.state === "complete" || this.state === "split";
  }

  /**
   * GetHandshakeHash() (Noise §5.2, §11.2): h after the last handshake message, HASHLEN bytes,
   * identical on both sides; the value to sign for channel binding. Throws UsageError before
   * the handshake is complete.
   */
  get handshakeHash(): Uint8Array {
    if (!this.finalHash) throw new UsageError("handshake hash is only available after the handshake");
    return this.finalHash.slice();
  }

  /** The peer's static public key `rs` (Noise §5.3), once known (pre-message or "s" token). */
  get remoteStatic(): Uint8Array | undefined {
    return this.rs?.slice();
  }

  /**
   * WriteMessage(payload, message_buffer) (Noise §5.3): processes this side's next message
   * pattern and appends EncryptAndHash(payload). Returns the message bytes.
   * Throws UsageError when it is not this side's turn or the message would exceed 65535
   * bytes (Noise §3); CryptoVerificationError if a DH with the peer's key gives all zeros
   * (then the handshake is dead).
   */
  writeMessage(payload: Uint8Array = new Uint8Array(0)): Uint8Array {
    const tokens = this.turn("write");
    const { fixed, payloadTag } = this.layout(tokens);
    if (fixed + payloadTag + payload.length > NOISE_MAX_MESSAGE_BYTES)
      throw new UsageError("Noise handshake message too long");
    return this.guard(() => {
      const parts: Uint8Array[] = [];
      for (const t of tokens) {
        switch (t) {
          case "e": {
            const e = this.newEphemeral();
            parts.push(e.publicKey);
            this.sym.mixHash(e.publicKey);
            if (this.psk) this.sym.mixKey(e.publicKey);
            break;
          }
          case "s":
            parts.push(this.sym.encryptAndHash(this.s!.publicKey));
            break;
          case "psk":
            this.mixPsk();
            break;
          default:
            this.mixDh(t);
        }
      }
      parts.push(this.sym.encryptAndHash(payload));
      this.advance();
      let total = 0;
      for (const p of parts) total += p.length;
      const out = new Uint8Array(total);
      let off = 0;
      for (const p of parts) {
        out.set(p, off);
        off += p.length;
      }
      return out;
    });
  }

  /**
   * ReadMessage(message, payload_buffer) (Noise §5.3): processes the peer's next message
   * pattern and returns DecryptAndHash of the rest, the payload.
   * Throws UsageError when it is not the peer's turn; CodecError when the message is shorter
   * than the pattern requires or longer than 65535 bytes; CryptoVerificationError when a tag
   * does not verify or a DH gives all zeros (a tampered message, the wrong keys or the wrong
   * prologue); its message is always "could not decrypt". After a CodecError or CryptoVerificationError the handshake is dead.
   */
  readMessage(message: Uint8Array): Uint8Array {
    const tokens = this.turn("read");
    return this.guard(() => {
      const { fixed, payloadTag } = this.layout(tokens);
      if (message.length > NOISE_MAX_MESSAGE_BYTES) throw new CodecError("Noise handshake message too long");
      if (message.length < fixed + payloadTag) throw new CodecError("Noise handshake message too short");
      let off = 0;
      const take = (n: number) => message.subarray(off, (off += n));
      for (const t of tokens) {
        switch (t) {
          case "e": {
            if (this.re) throw new UsageError("remote ephemeral key already set");
            this.re = take(NOISE_DH_BYTES).slice();
            this.sym.mixHash(this.re);
            if (this.psk) this.sym.mixKey(this.re);
            break;
          }
          case "s": {
            if (this.rs) throw new UsageError("remote static key already set");
            const len = NOISE_DH_BYTES + (this.sym.hasKey() ? NOISE_TAG_BYTES : 0);
            this.rs = this.sym.decryptAndHash(take(len));
            break;
          }
          case "psk":
            this.mixPsk();
            break;
          default:
            this.mixDh(t);
        }
      }
      const payload = this.sym.decryptAndHash(message.subarray(off));
      this.advance();
      return payload;
    }, true);
  }

  /**
   * Split() (Noise §5.2) at the end of the handshake (§5.3): this side's {send, recv}
   * CipherStates (the initiator sends with the first, the responder with the second). Wipes
   * the chaining key and this side's private keys. Callable once, after the last message;
   * otherwise throws UsageError.
   */
  split(): TransportCiphers {
    if (this.state !== "complete") {
      throw new UsageError(
        this.state === "running"
          ? "cannot split: the handshake is not complete"
          : `cannot split: the handshake is ${this.state}`,
      );
    }
    const [c1, c2] = this.sym.split();
    this.state = "split";
    this.wipeKeys();
    return this.initiator ? { send: c1, recv: c2 } : { send: c2, recv: c1 };
  }

  /** Abandons the handshake: wipes every secret it holds. Later calls throw UsageError. */
  destroy(): void {
    if (this.state === "running" || this.state === "complete") this.sym.destroy();
    if (this.state !== "split") this.state = "failed";
    this.wipeKeys();
  }

  // --- internals ---------------------------------------------------------------------------

  private turn(want: "write" | "read"): readonly NoiseToken[] {
    const action = this.action;
    if (action !== want) {
      const why =
        action === "failed"
          ? "the handshake failed"
          : action === "write" || action === "read"
            ? `it is this side's turn to ${action}`
            : "the handshake is over";
      throw new UsageError(`cannot ${want} a handshake message: ${why}`);
    }
    return this.protocol.pattern.messages[this.index]!;
  }

  /** Byte layout of a message (Noise §7.3): fixed bytes before the payload, and whether the payload carries a tag. */
  private layout(tokens: readonly NoiseToken[]): { fixed: number; payloadTag: number } {
    let hasKey = this.sym.hasKey();
    let fixed = 0;
    for (const t of tokens) {
      if (t === "e") {
        fixed += NOISE_DH_BYTES;
        if (this.psk) hasKey = true;
      } else if (t === "s") {
        fixed += NOISE_DH_BYTES + (hasKey ? NOISE_TAG_BYTES : 0);
      } else {
        hasKey = true; // ee, es, se, ss, psk all call MixKey
      }
    }
    return { fixed, payloadTag: hasKey ? NOISE_TAG_BYTES : 0 };
  }

  /** Runs one message's processing; any error kills the handshake. */
  private guard<T>(f: () => T, peerFacing = false): T {
    try {
      return f();
    } catch (err) {
      this.destroy();
      // What the peer sent must not tell it which check failed (docs/ARCHITECTURE.md §5.3).
      if (peerFacing && err instanceof CryptoVerificationError) throw new CryptoVerificationError();
      throw err;
    }
  }

  private advance(): void {
    this.index++;
    if (this.index === this.protocol.pattern.messages.length) {
      this.state = "complete";
      this.finalHash = this.sym.getHandshakeHash();
    }
  }

  private newEphemeral(): X25519KeyPair {
    if (this.e) throw new UsageError("ephemeral key already set");
    if (this.injectedE) {
      const privateKey = this.injectedE;
      this.injectedE = undefined;
      this.e = { privateKey, publicKey: x25519Base(privateKey) };
    } else {
      this.e = x25519KeyPair(this.rng!);
    }
    return this.e;
  }

  private mixPsk(): void {
    const psk = this.psks[this.pskIndex++];
    if (!psk) throw new UsageError("no psk left for a psk token");
    this.sym.mixKeyAndHash(psk);
  }

  /** The DH tokens (Noise §5.3): "es" is DH(e, rs) for the initiator, DH(s, re) for the responder; "se" the reverse. */
  private mixDh(t: "ee" | "es" | "se" | "ss"): void {
    const local = t === "ee" || (t === "es" && this.initiator) || (t === "se" && !this.initiator) ? this.e : this.s;
    const remote = t === "ee" || (t === "se" && this.initiator) || (t === "es" && !this.initiator) ? this.re : this.rs;
    if (!local || !remote) throw new UsageError(`${t}: a key is missing`);
    const dh = x25519(local.privateKey, remote);
    this.sym.mixKey(dh);
    wipe(dh);
  }

  private localPre(tokens: readonly string[]): { token: string; key: Uint8Array }[] {
    return tokens.map((token) => {
      if (token === "s") return { token, key: this.s!.publicKey };
      const e = this.newEphemeral(); // a pre-message "e" must be known: the injected key
      return { token, key: e.publicKey };
    });
  }

  private remotePre(tokens: readonly string[]): { token: string; key: Uint8Array }[] {
    return tokens.map((token) => ({ token, key: token === "s" ? this.rs! : this.re! }));
  }

  private wipeKeys(): void {
    wipe(this.e?.privateKey, this.s?.privateKey, this.injectedE, ...this.psks);
    this.e = undefined;
    this.s = undefined;
    this.injectedE = undefined;
  }
}
