/**
 * The relay transport after the handshake (SECURITY.md §10.2):
 * a sans-I/O object that turns plaintext into framed Noise transport records and back.
 * The plaintext is a byte stream: `seal` may cut one write into several records and `open`
 * returns the payloads as they complete, so the caller's wire-frame decoder reassembles
 * frames that span records (or share one).
 */
import { CryptoVerificationError, UsageError } from "../../crypto/errors.js";
import { NOISE_MAX_PLAINTEXT_BYTES, NOISE_TAG_BYTES } from "./noise-cipher-state.js";
import type { TransportCiphers } from "./noise-handshake.js";
import { RECORD_HEADER_BYTES, RecordDecoder } from "./record-codec.js";

const EMPTY = new Uint8Array(0);

/**
 * One side of an established Noise channel: its two CipherStates (Noise §5.2 Split) and the
 * record decoder of what it receives. Associated data is empty; nonces are implicit (Noise
 * §5.1), so a replayed, dropped, reordered or reflected record fails to decrypt.
 *
 * Any failure (a record that does not decrypt, a malformed record, an exhausted nonce) kills
 * the session: its keys are wiped and every later call throws UsageError. There is no
 * recovery: the connection must be closed (SECURITY.md §10.3).
 */
export class SecureSession {
  private readonly send: TransportCiphers["send"];
  private readonly recv: TransportCiphers["recv"];
  private readonly decoder = new RecordDecoder();
  private readonly hash: Uint8Array;
  private dead = false;

  /**
   * Takes ownership of `ciphers` (from HandshakeState.split(), Noise §5.2) and keeps a copy of
   * the handshake hash (Noise §11.2). Throws UsageError if the hash is empty.
   */
  constructor(ciphers: TransportCiphers, handshakeHash: Uint8Array) {
    if (handshakeHash.length === 0) throw new UsageError("the handshake hash is empty");
    this.send = ciphers.send;
    this.recv = ciphers.recv;
    this.hash = handshakeHash.slice();
  }

  /** The handshake hash h (Noise §11.2), a copy: the value a login signs (SECURITY.md §10.4). */
  get handshakeHash(): Uint8Array {
    return this.hash.slice();
  }

  /** Whether the session failed or was destroyed. */
  get isDead(): boolean {
    return this.dead;
  }

  /** Bytes of an incomplete record received so far; nonzero when the peer stops mid-record. */
  get bufferedBytes(): number {
    return this.decoder.bufferedBytes;
  }

  /**
   * Encrypts `plaintext` (EncryptWithAd with empty ad, Noise §5.1) into framed transport
   * records, `u16be length || ciphertext || tag`, concatenated in one array: one record per
   * 65519 bytes of plaintext (Noise §3 caps a message at 65535 bytes), in order. An empty
   * plaintext gives an empty array (no record is sent).
   * Throws LimitError when the send nonce is exhausted (Noise §5.1; the session dies),
   * UsageError if the session is dead.
   */
  seal(plaintext: Uint8Array): Uint8Array {
    this.alive();
    const len = plaintext.length;
    if (len === 0) return EMPTY;
    const records = Math.ceil(len / NOISE_MAX_PLAINTEXT_BYTES);
    const out = new Uint8Array(len + records * (RECORD_HEADER_BYTES + NOISE_TAG_BYTES));
    let off = 0;
    try {
      for (let at = 0; at < len; at += NOISE_MAX_PLAINTEXT_BYTES) {
        const piece = plaintext.subarray(at, Math.min(len, at + NOISE_MAX_PLAINTEXT_BYTES));
        const ct = this.send.encryptWithAd(EMPTY, piece);
        out[off] = ct.length >>> 8;
        out[off + 1] = ct.length & 0xff;
        out.set(ct, off + RECORD_HEADER_BYTES);
        off += RECORD_HEADER_BYTES + ct.length;
      }
    } catch (err) {
      this.destroy();
      throw err;
    }
    return out;
  }

  /**
   * Takes the next bytes received, in any chunking, and returns the plaintext of every
   * transport record they complete (DecryptWithAd with empty ad, Noise §5.1), in order;
   * records with an empty payload give nothing. The pieces follow record boundaries, not the
   * peer's writes: concatenated, they are the peer's plaintext stream.
   * Throws CryptoVerificationError("could not decrypt") when a record fails to decrypt
   * (tampered, replayed, reordered, truncated), CodecError for a record shorter than 16
   * bytes, LimitError when the receive nonce is exhausted; after any of these the session is
   * dead (plaintext already decrypted from the same chunk is discarded). UsageError if the
   * session is dead.
   */
  open(chunk: Uint8Array): Uint8Array[] {
    this.alive();
    const out: Uint8Array[] = [];
    try {
      for (const record of this.decoder.push(chunk)) {
        const pt = this.recv.decryptWithAd(EMPTY, record);
        if (pt.length > 0) out.push(pt);
      }
    } catch (err) {
      this.destroy();
      if (err instanceof CryptoVerificationError) throw new CryptoVerificationError();
      throw err;
    }
    return out;
  }

  /** Wipes both transport keys; every later call throws UsageError. Idempotent. */
  destroy(): void {
    if (this.dead) return;
    this.dead = true;
    this.send.destroy();
    this.recv.destroy();
  }

  private alive(): void {
    if (this.dead) throw new UsageError("the secure session is closed");
  }
}
