/**
 * CipherState (Noise Protocol Framework, revision 34, §5.1) with the ChaChaPoly cipher
 * (§12.3): IETF ChaCha20-Poly1305, 32-byte key, 16-byte tag, nonce = 4 zero bytes followed
 * by the 64-bit counter n in little-endian order.
 *
 * The counter is never sent: both sides count messages, so a replayed, dropped or reordered
 * message fails to decrypt. A failed decryption leaves n unchanged (§5.1), so the genuine
 * message still decrypts afterwards. Rekey (§4.2, §11.3) is not implemented.
 */
import { CodecError, LimitError, UsageError } from "../../crypto/errors.js";
import { AEAD_TAG_BYTES, CHACHA_NONCE_BYTES, chachaDecrypt, chachaEncrypt, wipe } from "../../crypto/primitives.js";

/** Noise §3: every Noise message, handshake or transport, is at most 65535 bytes. */
export const NOISE_MAX_MESSAGE_BYTES = 65535;
/** The ChaChaPoly key length (Noise §12.3). */
export const NOISE_KEY_BYTES = 32;
/** The ChaChaPoly authentication tag length (Noise §12.3). */
export const NOISE_TAG_BYTES = AEAD_TAG_BYTES;
/** The largest plaintext one transport message can carry: 65535 − 16. */
export const NOISE_MAX_PLAINTEXT_BYTES = NOISE_MAX_MESSAGE_BYTES - NOISE_TAG_BYTES;
/** 2^64 − 1: reserved by Noise §5.1; a CipherState whose n reaches it refuses to work. */
export const NOISE_MAX_NONCE = (1n << 64n) - 1n;

/** The ChaChaPoly nonce for counter n (Noise §12.3): 32 zero bits, then n little-endian. */
export function chachaPolyNonce(n: bigint): Uint8Array {
  const nonce = new Uint8Array(CHACHA_NONCE_BYTES);
  new DataView(nonce.buffer).setBigUint64(4, n, true);
  return nonce;
}

/**
 * A CipherState (Noise §5.1): a key k (or none) and a nonce counter n.
 * Mutable, as in the specification: each EncryptWithAd/DecryptWithAd that succeeds uses n
 * and increments it. Holds its own copy of k; `destroy()` wipes it.
 */
export class CipherState {
  private k: Uint8Array | undefined;
  private n = 0n;
  private destroyed = false;

  /** InitializeKey(key) (Noise §5.1): sets k (copied) and n = 0. Without a key, k is empty. */
  constructor(key?: Uint8Array) {
    if (key !== undefined) this.initializeKey(key);
  }

  /** InitializeKey(key) (Noise §5.1): sets k to a copy of `key` and n = 0. Throws UsageError unless 32 bytes. */
  initializeKey(key: Uint8Array): void {
    this.alive();
    if (key.length !== NOISE_KEY_BYTES) throw new UsageError(`Noise cipher key must be ${NOISE_KEY_BYTES} bytes`);
    wipe(this.k);
    this.k = key.slice();
    this.n = 0n;
  }

  /** HasKey() (Noise §5.1). */
  hasKey(): boolean {
    return this.k !== undefined;
  }

  /** The next nonce this state will use (n, Noise §5.1). */
  get nonce(): bigint {
    return this.n;
  }

  /** SetNonce(nonce) (Noise §5.1). Throws UsageError outside 0..2^64−1. Meant for tests and out-of-band nonces. */
  setNonce(nonce: bigint): void {
    this.alive();
    if (nonce < 0n || nonce > NOISE_MAX_NONCE) throw new UsageError("Noise nonce must be 0..2^64-1");
    this.n = nonce;
  }

  /**
   * EncryptWithAd(ad, plaintext) (Noise §5.1): ENCRYPT(k, n++, ad, plaintext), which is
   * ciphertext || 16-byte tag; without a key, a copy of the plaintext.
   * Throws LimitError when n has reached 2^64−1 (the state is exhausted: close the
   * connection), UsageError when the result would exceed 65535 bytes (Noise §3).
   */
  encryptWithAd(ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    this.alive();
    const k = this.k;
    if (k === undefined) {
      if (plaintext.length > NOISE_MAX_MESSAGE_BYTES) throw new UsageError("Noise message too long");
      return plaintext.slice();
    }
    if (plaintext.length > NOISE_MAX_PLAINTEXT_BYTES) throw new UsageError("Noise message too long");
    if (this.n >= NOISE_MAX_NONCE) throw new LimitError("Noise nonce exhausted");
    const out = chachaEncrypt(k, chachaPolyNonce(this.n), plaintext, ad);
    this.n += 1n;
    return out;
  }

  /**
   * DecryptWithAd(ad, ciphertext) (Noise §5.1): DECRYPT(k, n++, ad, ciphertext); without a
   * key, a copy of the ciphertext. Throws CryptoVerificationError when the tag does not
   * verify, and then leaves n unchanged; CodecError for an input over 65535 bytes (Noise §3);
   * LimitError when n has reached 2^64−1.
   */
  decryptWithAd(ad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
    this.alive();
    if (ciphertext.length > NOISE_MAX_MESSAGE_BYTES) throw new CodecError("Noise message too long");
    const k = this.k;
    if (k === undefined) return ciphertext.slice();
    if (this.n >= NOISE_MAX_NONCE) throw new LimitError("Noise nonce exhausted");
    const out = chachaDecrypt(k, chachaPolyNonce(this.n), ciphertext, ad); // throws before n moves
    this.n += 1n;
    return out;
  }

  /** Wipes k; any later use throws UsageError. */
  destroy(): void {
    wipe(this.k);
    this.k = undefined;
    this.destroyed = true;
  }

  private alive(): void {
    if (this.destroyed) throw new UsageError("CipherState was destroyed");
  }
}
