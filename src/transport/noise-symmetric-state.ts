/**
 * SymmetricState (Noise Protocol Framework, revision 34, §5.2): the chaining key ck, the
 * handshake hash h, and the CipherState the handshake encrypts with.
 */
import { concat } from "../../crypto/bytes.js";
import { UsageError } from "../../crypto/errors.js";
import { wipe } from "../../crypto/primitives.js";
import { CipherState, NOISE_KEY_BYTES } from "./noise-cipher-state.js";
import { noiseHkdf, type NoiseHash } from "./noise-hash.js";

/** A SymmetricState (Noise §5.2). Mutable, as in the specification. */
export class SymmetricState {
  private ck: Uint8Array;
  private h: Uint8Array;
  private readonly cs = new CipherState();
  private split_ = false;

  /**
   * InitializeSymmetric(protocol_name) (Noise §5.2): h = the name padded with zeros to
   * HASHLEN if it fits, else HASH(name); ck = h; no cipher key.
   */
  constructor(
    readonly hash: NoiseHash,
    protocolName: Uint8Array,
  ) {
    if (protocolName.length <= hash.hashLen) {
      this.h = new Uint8Array(hash.hashLen);
      this.h.set(protocolName);
    } else {
      this.h = hash.hash(protocolName);
    }
    this.ck = this.h.slice();
  }

  /** HasKey() of the inner CipherState (Noise §5.1), i.e. whether payloads are encrypted now. */
  hasKey(): boolean {
    return this.cs.hasKey();
  }

  /** MixKey(input_key_material) (Noise §5.2): ck, temp_k = HKDF(ck, ikm, 2); k = temp_k[0..32]. */
  mixKey(ikm: Uint8Array): void {
    this.usable();
    const [ck, tempK] = noiseHkdf(this.hash, this.ck, ikm, 2);
    this.replaceCk(ck);
    this.cs.initializeKey(tempK.subarray(0, NOISE_KEY_BYTES));
    wipe(tempK);
  }

  /** MixHash(data) (Noise §5.2): h = HASH(h || data). */
  mixHash(data: Uint8Array): void {
    this.usable();
    this.h = this.hash.hash(concat(this.h, data));
  }

  /**
   * MixKeyAndHash(input_key_material) (Noise §5.2), used by the psk token (§9.2):
   * ck, temp_h, temp_k = HKDF(ck, ikm, 3); MixHash(temp_h); k = temp_k[0..32].
   */
  mixKeyAndHash(ikm: Uint8Array): void {
    this.usable();
    const [ck, tempH, tempK] = noiseHkdf(this.hash, this.ck, ikm, 3);
    this.replaceCk(ck);
    this.mixHash(tempH);
    this.cs.initializeKey(tempK.subarray(0, NOISE_KEY_BYTES));
    wipe(tempH, tempK);
  }

  /** GetHandshakeHash() (Noise §5.2): a copy of h (HASHLEN bytes). */
  getHandshakeHash(): Uint8Array {
    return this.h.slice();
  }

  /** EncryptAndHash(plaintext) (Noise §5.2): c = EncryptWithAd(h, plaintext); MixHash(c). */
  encryptAndHash(plaintext: Uint8Array): Uint8Array {
    this.usable();
    const c = this.cs.encryptWithAd(this.h, plaintext);
    this.mixHash(c);
    return c;
  }

  /**
   * DecryptAndHash(ciphertext) (Noise §5.2): p = DecryptWithAd(h, ciphertext); MixHash(ciphertext).
   * Throws CryptoVerificationError (and leaves h unchanged) when the tag does not verify.
   */
  decryptAndHash(ciphertext: Uint8Array): Uint8Array {
    this.usable();
    const p = this.cs.decryptWithAd(this.h, ciphertext);
    this.mixHash(ciphertext);
    return p;
  }

  /**
   * Split() (Noise §5.2): temp_k1, temp_k2 = HKDF(ck, "", 2); returns two CipherStates keyed
   * with their first 32 bytes: the initiator sends with the first, the responder with the
   * second. Wipes ck and the handshake key; h stays readable. Throws UsageError if called twice.
   */
  split(): [CipherState, CipherState] {
    this.usable();
    const [k1, k2] = noiseHkdf(this.hash, this.ck, new Uint8Array(0), 2);
    const c1 = new CipherState(k1.subarray(0, NOISE_KEY_BYTES));
    const c2 = new CipherState(k2.subarray(0, NOISE_KEY_BYTES));
    wipe(k1, k2, this.ck);
    this.cs.destroy();
    this.split_ = true;
    return [c1, c2];
  }

  /** Wipes ck and the handshake key without splitting (an aborted handshake). */
  destroy(): void {
    wipe(this.ck);
    this.cs.destroy();
    this.split_ = true;
  }

  private replaceCk(ck: Uint8Array): void {
    wipe(this.ck);
    this.ck = ck;
  }

  private usable(): void {
    if (this.split_) throw new UsageError("SymmetricState was already split or destroyed");
  }
}
