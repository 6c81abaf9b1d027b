/**
 * The Double Ratchet (Signal, "The Double Ratchet Algorithm", rev. 1, §3 and §3.5 for
 * out-of-order messages), with X25519, HKDF-SHA256 for the root chain, HMAC-SHA256 for the
 * symmetric chains and XChaCha20-Poly1305 for messages. SECURITY.md §6 gives every byte.
 *
 * State is immutable: encrypt and decrypt return a new state and never touch the one passed
 * in, so a message that fails to decrypt leaves the caller's state exactly as it was, and the
 * caller commits the new state together with the message it produced or consumed.
 */
import { bytesEqual, concat } from "./bytes.js";
import { CryptoVerificationError, LimitError, UsageError } from "./errors.js";
import { label } from "./labels.js";
import {
  type X25519KeyPair,
  hkdfSha256,
  hmacSha256,
  x25519,
  x25519KeyPair,
  xchachaDecrypt,
  xchachaEncrypt,
} from "./primitives.js";
import type { Rng } from "./rng.js";
import { HEADER_BYTES, decodeHeader, encodeHeader } from "./ratchet-header.js";

/** Most message keys one incoming message may make us skip (Signal §3.2 MAX_SKIP). */
export const MAX_SKIP = 1000;
/** Most skipped message keys kept at once; the oldest are dropped beyond it. */
export const MAX_SKIPPED_KEYS = 2000;
/** A skipped key is deleted once this many DH ratchet steps have happened since it was stored. */
export const SKIPPED_KEY_MAX_STEPS = 10;
/** Chain counters are u32 on the wire; a chain refuses to go past this. */
const MAX_COUNTER = 0xffffffff;

/** A message key kept for a message that has not arrived yet (Signal §3.5). */
export interface SkippedKey {
  readonly dh: Uint8Array;
  readonly n: number;
  readonly messageKey: Uint8Array;
  /** The value of `RatchetState.step` when the key was stored. */
  readonly step: number;
}

/** The Double Ratchet state of one side of one session (Signal §3.2, plus `ad` and `step`). */
export interface RatchetState {
  /** The X3DH associated data, prefixed to every header as AEAD associated data. */
  readonly ad: Uint8Array;
  readonly rootKey: Uint8Array;
  /** DHs: our current ratchet key pair. */
  readonly dhSelf: X25519KeyPair;
  /** DHr: the peer's current ratchet public key (null until the first message from them). */
  readonly dhRemote: Uint8Array | null;
  readonly sendChain: Uint8Array | null;
  readonly recvChain: Uint8Array | null;
  readonly sendN: number;
  readonly recvN: number;
  readonly prevSendN: number;
  /** How many DH ratchet steps this side has taken on receipt; ages skipped keys. */
  readonly step: number;
  readonly skipped: readonly SkippedKey[];
}

/** The derivations of one chain step, reported for vectors and audits. */
export interface MessageKeyTrace {
  readonly chainKey: Uint8Array;
  readonly messageKey: Uint8Array;
  readonly nextChainKey: Uint8Array;
  readonly aeadKey: Uint8Array;
  readonly nonce: Uint8Array;
}

/** One KDF_RK application, reported for vectors and audits. */
export interface RootStepTrace {
  readonly dhOutput: Uint8Array;
  readonly rootKey: Uint8Array;
  readonly chainKey: Uint8Array;
}

/** KDF_RK (§6.2): HKDF-SHA256(ikm = dh_out, salt = rk, info = "SMSG-v1 ratchet root", 64) → (rk', ck). */
function kdfRoot(rootKey: Uint8Array, dhOutput: Uint8Array): RootStepTrace {
  const out = hkdfSha256(dhOutput, rootKey, label("ratchetRoot"), 64);
  return { dhOutput, rootKey: out.slice(0, 32), chainKey: out.slice(32, 64) };
}

/** KDF_CK (§6.2): mk = HMAC(ck, label message key), ck' = HMAC(ck, label next key); then AEAD key and nonce (§6.3). */
function kdfChain(chainKey: Uint8Array): MessageKeyTrace {
  const messageKey = hmacSha256(chainKey, label("chainMessageKey"));
  const nextChainKey = hmacSha256(chainKey, label("chainNextKey"));
  return { chainKey, messageKey, nextChainKey, ...expandMessageKey(messageKey) };
}

/** §6.3: HKDF-SHA256(ikm = mk, salt = 32 zero bytes, info = "SMSG-v1 message keys", 56) → key 32 || nonce 24. */
function expandMessageKey(messageKey: Uint8Array): { aeadKey: Uint8Array; nonce: Uint8Array } {
  const okm = hkdfSha256(messageKey, new Uint8Array(32), label("messageKeys"), 56);
  return { aeadKey: okm.slice(0, 32), nonce: okm.slice(32, 56) };
}

/** The initiator's (Alice's) first state (Signal §3.3 RatchetInitAlice). Draws one ratchet key (32 bytes of `rng`). */
export function ratchetInitInitiator(
  rng: Rng,
  sharedSecret: Uint8Array,
  ad: Uint8Array,
  responderRatchetKey: Uint8Array,
): { state: RatchetState; trace: { root: RootStepTrace; dhSelf: X25519KeyPair } } {
  const dhSelf = x25519KeyPair(rng);
  const root = kdfRoot(sharedSecret, x25519(dhSelf.privateKey, responderRatchetKey));
  const state: RatchetState = {
    ad: ad.slice(),
    rootKey: root.rootKey,
    dhSelf,
    dhRemote: responderRatchetKey.slice(),
    sendChain: root.chainKey,
    recvChain: null,
    sendN: 0,
    recvN: 0,
    prevSendN: 0,
    step: 0,
    skipped: [],
  };
  return { state, trace: { root, dhSelf } };
}

/** The responder's (Bob's) first state (Signal §3.3 RatchetInitBob): its signed prekey is the first ratchet key. */
export function ratchetInitResponder(sharedSecret: Uint8Array, ad: Uint8Array, ratchetKeyPair: X25519KeyPair): RatchetState {
  return {
    ad: ad.slice(),
    rootKey: sharedSecret.slice(),
    dhSelf: { privateKey: ratchetKeyPair.privateKey.slice(), publicKey: ratchetKeyPair.publicKey.slice() },
    dhRemote: null,
    sendChain: null,
    recvChain: null,
    sendN: 0,
    recvN: 0,
    prevSendN: 0,
    step: 0,
    skipped: [],
  };
}

/** The result of encrypting one message. */
export interface EncryptResult {
  readonly state: RatchetState;
  /** header (41 bytes) || ciphertext || tag. */
  readonly message: Uint8Array;
  readonly trace: MessageKeyTrace & { readonly header: Uint8Array; readonly associatedData: Uint8Array };
}

/**
 * RatchetEncrypt (Signal §3.4). Needs no randomness. Throws UsageError before the first
 * message was received on a responder state (it has no sending chain yet) and LimitError
 * when the chain counter would overflow.
 */
export function ratchetEncrypt(state: RatchetState, plaintext: Uint8Array): EncryptResult {
  if (!state.sendChain) throw new UsageError("cannot send before the session has received its first message");
  if (state.sendN >= MAX_COUNTER) throw new LimitError("sending chain exhausted");
  const keys = kdfChain(state.sendChain);
  const header = encodeHeader({ dh: state.dhSelf.publicKey, pn: state.prevSendN, n: state.sendN });
  const associatedData = concat(state.ad, header);
  const ciphertext = xchachaEncrypt(keys.aeadKey, keys.nonce, plaintext, associatedData);
  return {
    state: { ...state, sendChain: keys.nextChainKey, sendN: state.sendN + 1 },
    message: concat(header, ciphertext),
    trace: { ...keys, header, associatedData },
  };
}

/** What decryption did, for vectors and audits. */
export interface DecryptTrace {
  /** Present when the message started a new receiving chain (a DH ratchet step, §3.4 DHRatchet). */
  readonly dhRatchet?: { readonly receive: RootStepTrace; readonly newDhSelf: X25519KeyPair; readonly send: RootStepTrace };
  /** Whether the message key came from the skipped-key store. */
  readonly usedSkippedKey: boolean;
  /** The (ratchet key, message number) pairs whose keys this message made us store. */
  readonly storedSkipped: readonly { readonly dh: Uint8Array; readonly n: number }[];
  readonly keys: { readonly messageKey: Uint8Array; readonly aeadKey: Uint8Array; readonly nonce: Uint8Array; readonly chainKey?: Uint8Array; readonly nextChainKey?: Uint8Array };
  readonly header: Uint8Array;
  readonly associatedData: Uint8Array;
}

/** The result of decrypting one message. */
export interface DecryptResult {
  readonly state: RatchetState;
  readonly plaintext: Uint8Array;
  /** The message key just used; the caller wipes it once the new state is committed. */
  readonly consumed: Uint8Array;
  readonly trace: DecryptTrace;
}

/** Mutable working copy used inside ratchetDecrypt; never escapes unless decryption succeeded. */
type Draft = { -readonly [K in keyof RatchetState]: RatchetState[K] } & { skipped: SkippedKey[] };

/** Signal §3.5 SkipMessageKeys: stores keys for recvN..until-1 of the current receiving chain. */
function skipMessageKeys(draft: Draft, until: number, stored: { dh: Uint8Array; n: number }[]): void {
  if (until - draft.recvN > MAX_SKIP) throw new LimitError("too many skipped messages");
  if (!draft.recvChain || !draft.dhRemote) return;
  while (draft.recvN < until) {
    const keys = kdfChain(draft.recvChain);
    draft.skipped.push({ dh: draft.dhRemote, n: draft.recvN, messageKey: keys.messageKey, step: draft.step });
    stored.push({ dh: draft.dhRemote, n: draft.recvN });
    draft.recvChain = keys.nextChainKey;
    draft.recvN += 1;
  }
  // Bound the store: the oldest keys go first.
  if (draft.skipped.length > MAX_SKIPPED_KEYS) draft.skipped.splice(0, draft.skipped.length - MAX_SKIPPED_KEYS);
}

/**
 * RatchetDecrypt (Signal §3.5). `rng` supplies the new ratchet key on a DH ratchet step
 * (32 bytes). Throws CryptoVerificationError("could not decrypt") for anything that does not
 * authenticate (tampering, replay, a reflected own message, a wrong session), CodecError for
 * a message too short to hold a header, LimitError when it would skip more than MAX_SKIP
 * keys. On any throw, `state` is unchanged and still decrypts the genuine messages.
 */
export function ratchetDecrypt(rng: Rng, state: RatchetState, message: Uint8Array): DecryptResult {
  const header = decodeHeader(message);
  const headerBytes = message.subarray(0, HEADER_BYTES);
  const ciphertext = message.subarray(HEADER_BYTES);
  const associatedData = concat(state.ad, headerBytes);

  // Reflection: our own ratchet key coming back can only be our own message.
  if (bytesEqual(header.dh, state.dhSelf.publicKey)) throw new CryptoVerificationError();

  const skippedIndex = state.skipped.findIndex((k) => k.n === header.n && bytesEqual(k.dh, header.dh));
  if (skippedIndex >= 0) {
    const entry = state.skipped[skippedIndex]!;
    const keys = expandMessageKey(entry.messageKey);
    const plaintext = xchachaDecrypt(keys.aeadKey, keys.nonce, ciphertext, associatedData);
    const skipped = state.skipped.filter((_, i) => i !== skippedIndex);
    return {
      state: { ...state, skipped },
      plaintext,
      consumed: entry.messageKey,
      trace: { usedSkippedKey: true, storedSkipped: [], keys: { messageKey: entry.messageKey, ...keys }, header: headerBytes.slice(), associatedData },
    };
  }

  const draft: Draft = { ...state, skipped: [...state.skipped] };
  const stored: { dh: Uint8Array; n: number }[] = [];
  let dhRatchet: DecryptTrace["dhRatchet"];
  if (!draft.dhRemote || !bytesEqual(header.dh, draft.dhRemote)) {
    // A new ratchet key from the peer: finish the old receiving chain, then step (§3.5 DHRatchet).
    skipMessageKeys(draft, header.pn, stored);
    const receive = kdfRoot(draft.rootKey, x25519(draft.dhSelf.privateKey, header.dh));
    const newDhSelf = x25519KeyPair(rng);
    const send = kdfRoot(receive.rootKey, x25519(newDhSelf.privateKey, header.dh));
    draft.step += 1;
    draft.prevSendN = draft.sendN;
    draft.sendN = 0;
    draft.recvN = 0;
    draft.dhRemote = header.dh;
    draft.recvChain = receive.chainKey;
    draft.dhSelf = newDhSelf;
    draft.sendChain = send.chainKey;
    draft.rootKey = send.rootKey;
    // Age out skipped keys that have survived too many DH ratchet steps.
    draft.skipped = draft.skipped.filter((k) => draft.step - k.step <= SKIPPED_KEY_MAX_STEPS);
    dhRatchet = { receive, newDhSelf, send };
  } else if (header.n < draft.recvN) {
    // Already consumed in this chain and not in the skipped store: a replay.
    throw new CryptoVerificationError();
  }
  skipMessageKeys(draft, header.n, stored);
  if (!draft.recvChain) throw new CryptoVerificationError();
  const keys = kdfChain(draft.recvChain);
  const plaintext = xchachaDecrypt(keys.aeadKey, keys.nonce, ciphertext, associatedData);
  draft.recvChain = keys.nextChainKey;
  draft.recvN += 1;
  return {
    state: draft,
    plaintext,
    consumed: keys.messageKey,
    trace: {
      ...(dhRatchet ? { dhRatchet } : {}),
      usedSkippedKey: false,
      storedSkipped: stored,
      keys,
      header: headerBytes.slice(),
      associatedData,
    },
  };
}
