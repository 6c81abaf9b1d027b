/**
 * The Double Ratchet (Signal, "The Double Ratchet Algorithm", rev. 1, §3 and §3.5 for
 * out-of-order messages), with X25519, HKDF-SHA256 for the root chain, HMAC-SHA256 for the
 * symmetric chains and XChaCha20-Poly1305 for messages. SECURITY.md §6 gives every byte.
 *
 * State is immutable: encrypt and decrypt return a new state and never touch the one passed
 * in, so a message that fails to decrypt leaves the caller's state exactly as it was, and the
 * caller commits the new state together with the message it produced or consumed. Input and
 * output states may share byte arrays (they never change); traces and `consumed` never share
 * any with a state, so the caller may wipe them at any time (SECURITY.md §6.7).
 *
 * A state encrypts at most once (§6.4): the caller stores the state `ratchetEncrypt` returned
 * before the message leaves, and a state object that has encrypted is refused afterwards.
 */
import { bytesEqual, concat } from "./bytes.js";
import { CodecError, CryptoVerificationError, LimitError, UsageError } from "./errors.js";
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
/**
 * Chain counters are u32 on the wire. A sending chain at this count is exhausted (the last
 * message it sent was number 2^32 − 2), and no message numbered 2^32 − 1 is ever accepted, so
 * the receiving counter never passes it either (§6.4, §6.7).
 */
const MAX_COUNTER = 0xffffffff;

/**
 * The receiving rules of §6.7 that the vectors pin, as one value. `ratchetDecrypt` always uses
 * RATCHET_RULES; `ratchetDecryptUnderRules` takes others only so that the vector tests can run a
 * deliberately wrong implementation and show that the published cases catch it
 * (test/crypto/vector-mutants.test.ts). No caller outside the tests passes other rules.
 */
export interface RatchetRules {
  /** MAX_SKIP: the most keys one message may make the receiver skip (§6.7 step 6). */
  readonly maxSkip: number;
  /** The most skipped keys stored; the oldest go first beyond it. */
  readonly maxSkippedKeys: number;
  /** A skipped key is deleted once `step − key.step` exceeds this. */
  readonly skippedKeyMaxSteps: number;
  /** Whether a DH step first skips the old receiving chain to `header.pn` (§6.7 step 4). */
  readonly skipToPnOnDhStep: boolean;
}

/** The rules of SECURITY.md §6.7. */
export const RATCHET_RULES: RatchetRules = Object.freeze({
  maxSkip: MAX_SKIP,
  maxSkippedKeys: MAX_SKIPPED_KEYS,
  skippedKeyMaxSteps: SKIPPED_KEY_MAX_STEPS,
  skipToPnOnDhStep: true,
});

/**
 * A message key kept for a message that has not arrived yet (Signal §3.5): the raw message key
 * `mk` of §6.2, expanded (§6.3) only if that message arrives.
 */
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
  /** In the order stored: the first entry is the oldest, evicted first (§6.7 step 6). */
  readonly skipped: readonly SkippedKey[];
}

/**
 * The derivations of one chain step, reported for vectors and audits. Every trace holds
 * secrets: it is a copy that shares no array with any state, so the caller may wipe it (or
 * should at least drop it) as soon as it has looked at it.
 */
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

/** The KDF_CK labels, encoded once (read only; one message may make us use them 4000 times). */
const CHAIN_MESSAGE_KEY = label("chainMessageKey");
const CHAIN_NEXT_KEY = label("chainNextKey");

/**
 * KDF_CK (§6.2): mk = HMAC(ck, "SMSG-v1 chain message key"), ck' = HMAC(ck, "SMSG-v1 chain next key").
 * The AEAD key and nonce are expanded from mk separately (§6.3), only for the key actually
 * used: a skipped key is stored raw, so a forged message that makes us skip a thousand keys
 * costs HMACs, not a thousand HKDFs as well. Exported for the vectors (ratchet-case-vectors.ts).
 */
export function kdfChain(chainKey: Uint8Array): { messageKey: Uint8Array; nextChainKey: Uint8Array } {
  return {
    messageKey: hmacSha256(chainKey, CHAIN_MESSAGE_KEY),
    nextChainKey: hmacSha256(chainKey, CHAIN_NEXT_KEY),
  };
}

/** §6.3: HKDF-SHA256(ikm = mk, salt = 32 zero bytes, info = "SMSG-v1 message keys", 56) → key 32 || nonce 24. */
function expandMessageKey(messageKey: Uint8Array): { aeadKey: Uint8Array; nonce: Uint8Array } {
  const okm = hkdfSha256(messageKey, new Uint8Array(32), label("messageKeys"), 56);
  return { aeadKey: okm.slice(0, 32), nonce: okm.slice(32, 56) };
}

/**
 * A deep copy of a trace: every byte array in it is replaced by a copy, so nothing in what we
 * hand out for audits shares memory with a state, and wiping it cannot corrupt one (§6.7).
 */
function detached<T>(value: T): T {
  if (value instanceof Uint8Array) return value.slice() as T;
  if (Array.isArray(value)) return value.map((v: unknown) => detached(v)) as T;
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, detached(v)])) as T;
  }
  return value;
}

/**
 * States that have encrypted a message, and the sending chain keys they encrypted with. The
 * chain key is tracked too because states that share it are the same sending position: a
 * decrypt without a DH step copies the sending chain into its new state, so a caller who kept
 * a spent state and decrypted on it would otherwise get an unspent state at the same position.
 * A guard within one process, not across a restart: the stored state is what counts (§6.4).
 */
const spent = new WeakSet<object>();

/**
 * The initiator's (Alice's) first state (Signal §3.3 RatchetInitAlice, SECURITY.md §6.1). Draws
 * one ratchet key (32 bytes of `rng`). The trace (the first KDF_RK and the drawn key pair, for
 * vectors) is a copy that shares nothing with the state. Throws CryptoVerificationError("invalid
 * public key") for a low-order responder key.
 */
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
  return { state, trace: detached({ root, dhSelf }) };
}

/** The responder's (Bob's) first state (Signal §3.3 RatchetInitBob): its signed prekey is the first ratchet key. */
export function ratchetInitResponder(
  sharedSecret: Uint8Array,
  ad: Uint8Array,
  ratchetKeyPair: X25519KeyPair,
): RatchetState {
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
 * RatchetEncrypt (Signal §3.4, SECURITY.md §6.4). Needs no randomness. The caller stores the
 * returned state before the message leaves (in the same transaction as the outgoing message)
 * and never encrypts from `state` again: two messages from one state would share a key and
 * nonce. A state object that has encrypted once — or any state holding the same sending chain
 * key — is refused (UsageError); a state reloaded from storage is a new object, so after a
 * failed commit the caller reloads and encrypts again (the same bytes come out).
 *
 * Throws UsageError before the first message was received on a responder state (it has no
 * sending chain yet) or when the state already encrypted, LimitError when the sending chain
 * is exhausted (sendN = 2^32 − 1).
 */
export function ratchetEncrypt(state: RatchetState, plaintext: Uint8Array): EncryptResult {
  if (!state.sendChain) throw new UsageError("cannot send before the session has received its first message");
  if (spent.has(state) || spent.has(state.sendChain)) {
    throw new UsageError("this ratchet state has already encrypted a message; use the state it returned");
  }
  if (state.sendN >= MAX_COUNTER) throw new LimitError("sending chain exhausted");
  const chainKey = state.sendChain;
  const { messageKey, nextChainKey } = kdfChain(chainKey);
  const { aeadKey, nonce } = expandMessageKey(messageKey);
  const header = encodeHeader({ dh: state.dhSelf.publicKey, pn: state.prevSendN, n: state.sendN });
  const associatedData = concat(state.ad, header);
  const ciphertext = xchachaEncrypt(aeadKey, nonce, plaintext, associatedData);
  spent.add(state);
  spent.add(chainKey);
  return {
    state: { ...state, sendChain: nextChainKey, sendN: state.sendN + 1 },
    message: concat(header, ciphertext),
    trace: detached({ chainKey, messageKey, nextChainKey, aeadKey, nonce, header, associatedData }),
  };
}

/** What decryption did, for vectors and audits. A copy: it shares no array with any state. */
export interface DecryptTrace {
  /** Present when the message started a new receiving chain (a DH ratchet step, §3.4 DHRatchet). */
  readonly dhRatchet?: {
    readonly receive: RootStepTrace;
    readonly newDhSelf: X25519KeyPair;
    readonly send: RootStepTrace;
  };
  /** Whether the message key came from the skipped-key store. */
  readonly usedSkippedKey: boolean;
  /** The (ratchet key, message number) pairs whose keys this message made us store. */
  readonly storedSkipped: readonly { readonly dh: Uint8Array; readonly n: number }[];
  readonly keys: {
    readonly messageKey: Uint8Array;
    readonly aeadKey: Uint8Array;
    readonly nonce: Uint8Array;
    readonly chainKey?: Uint8Array;
    readonly nextChainKey?: Uint8Array;
  };
  readonly header: Uint8Array;
  readonly associatedData: Uint8Array;
}

/** The result of decrypting one message. */
export interface DecryptResult {
  readonly state: RatchetState;
  readonly plaintext: Uint8Array;
  /**
   * A copy of the message key just used (§6.7). It shares no memory with `state` or with the
   * input state, so wiping it never corrupts either: the caller wipes it once the new state
   * and the plaintext are committed (or at once, if it has no use for it). The input state
   * still holds what it held (on the skipped-key path, this very key): after committing, the
   * caller drops the input state; it must not wipe the arrays of either state, which share
   * them with each other.
   */
  readonly consumed: Uint8Array;
  readonly trace: DecryptTrace;
}

/** Mutable working copy used inside ratchetDecrypt; never escapes unless decryption succeeded. */
type Draft = { -readonly [K in keyof RatchetState]: RatchetState[K] } & { skipped: SkippedKey[] };

/**
 * Signal §3.5 SkipMessageKeys (§6.7 step 6): refuses to skip more than MAX_SKIP keys (checked
 * even when there is no receiving chain), then stores the raw message keys for recvN..until-1
 * of the current receiving chain, if there is one, and evicts the oldest beyond MAX_SKIPPED_KEYS.
 */
function skipMessageKeys(
  rules: RatchetRules,
  draft: Draft,
  until: number,
  stored: { dh: Uint8Array; n: number }[],
): void {
  if (until - draft.recvN > rules.maxSkip) throw new LimitError("too many skipped messages");
  if (!draft.recvChain || !draft.dhRemote) return;
  while (draft.recvN < until) {
    const { messageKey, nextChainKey } = kdfChain(draft.recvChain);
    draft.skipped.push({ dh: draft.dhRemote, n: draft.recvN, messageKey, step: draft.step });
    stored.push({ dh: draft.dhRemote, n: draft.recvN });
    draft.recvChain = nextChainKey;
    draft.recvN += 1;
  }
  // Bound the store: the oldest (first stored, first in the list) go first.
  if (draft.skipped.length > rules.maxSkippedKeys) draft.skipped.splice(0, draft.skipped.length - rules.maxSkippedKeys);
}

/**
 * RatchetDecrypt (Signal §3.5, SECURITY.md §6.7). `rng` supplies the new ratchet key on a DH
 * ratchet step (32 bytes).
 *
 * Throws CryptoVerificationError("could not decrypt") for everything about the message that
 * fails (a short message, an unknown header version, n = 2^32 − 1, a low-order ratchet key,
 * tampering, a replay, a reflected own message, a wrong session), never saying which check
 * failed; LimitError("too many skipped messages") when it would skip more than MAX_SKIP keys —
 * checked before the AEAD, so it is NOT authenticated: anyone can cause it with a forged header,
 * and the caller must not treat it as coming from the peer; UsageError for a broken `rng`. On
 * any throw, `state` is unchanged and still decrypts the genuine messages.
 */
export function ratchetDecrypt(rng: Rng, state: RatchetState, message: Uint8Array): DecryptResult {
  return ratchetDecryptUnderRules(RATCHET_RULES, rng, state, message);
}

/** `ratchetDecrypt` under other receiving rules: for the vector mutation tests only (see RatchetRules). */
export function ratchetDecryptUnderRules(
  rules: RatchetRules,
  rng: Rng,
  state: RatchetState,
  message: Uint8Array,
): DecryptResult {
  try {
    return decrypt(rules, rng, state, message);
  } catch (e) {
    // §2: a codec failure of the header or a DH or AEAD failure says only "could not decrypt".
    if (e instanceof CodecError || e instanceof CryptoVerificationError) throw new CryptoVerificationError();
    throw e;
  }
}

function decrypt(rules: RatchetRules, rng: Rng, state: RatchetState, message: Uint8Array): DecryptResult {
  const header = decodeHeader(message);
  // No sender uses the last counter value (§6.4); accepting it would let Nr pass 2^32 − 1.
  if (header.n >= MAX_COUNTER) throw new CryptoVerificationError();
  const headerBytes = message.slice(0, HEADER_BYTES);
  const ciphertext = message.subarray(HEADER_BYTES);
  const associatedData = concat(state.ad, headerBytes);

  // Reflection: our own ratchet key coming back can only be our own message.
  if (bytesEqual(header.dh, state.dhSelf.publicKey)) throw new CryptoVerificationError();

  const skippedIndex = state.skipped.findIndex((k) => k.n === header.n && bytesEqual(k.dh, header.dh));
  if (skippedIndex >= 0) {
    const entry = state.skipped[skippedIndex]!;
    const { aeadKey, nonce } = expandMessageKey(entry.messageKey);
    const plaintext = xchachaDecrypt(aeadKey, nonce, ciphertext, associatedData);
    const skipped = state.skipped.filter((_, i) => i !== skippedIndex);
    return {
      state: { ...state, skipped },
      plaintext,
      // A copy: the input state still holds this key, and must stay usable if the commit fails.
      consumed: entry.messageKey.slice(),
      trace: detached({
        usedSkippedKey: true,
        storedSkipped: [],
        keys: { messageKey: entry.messageKey, aeadKey, nonce },
        header: headerBytes,
        associatedData,
      }),
    };
  }

  const draft: Draft = { ...state, skipped: [...state.skipped] };
  const stored: { dh: Uint8Array; n: number }[] = [];
  let dhRatchet: DecryptTrace["dhRatchet"];
  if (!draft.dhRemote || !bytesEqual(header.dh, draft.dhRemote)) {
    // A new ratchet key from the peer: finish the old receiving chain, then step (§3.5 DHRatchet).
    if (rules.skipToPnOnDhStep) skipMessageKeys(rules, draft, header.pn, stored);
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
    draft.skipped = draft.skipped.filter((k) => draft.step - k.step <= rules.skippedKeyMaxSteps);
    dhRatchet = { receive, newDhSelf, send };
  } else if (header.n < draft.recvN) {
    // Already consumed in this chain and not in the skipped store: a replay.
    throw new CryptoVerificationError();
  }
  skipMessageKeys(rules, draft, header.n, stored);
  // Only the initiator before its first reply has DHr without CKr: a message under DHr (the
  // responder's signed prekey) cannot be genuine then.
  if (!draft.recvChain) throw new CryptoVerificationError();
  const chainKey = draft.recvChain;
  const { messageKey, nextChainKey } = kdfChain(chainKey);
  const { aeadKey, nonce } = expandMessageKey(messageKey);
  const plaintext = xchachaDecrypt(aeadKey, nonce, ciphertext, associatedData);
  draft.recvChain = nextChainKey;
  draft.recvN += 1;
  return {
    state: draft,
    plaintext,
    consumed: messageKey.slice(),
    trace: detached({
      ...(dhRatchet ? { dhRatchet } : {}),
      usedSkippedKey: false,
      storedSkipped: stored,
      keys: { chainKey, messageKey, nextChainKey, aeadKey, nonce },
      header: headerBytes,
      associatedData,
    }),
  };
}
