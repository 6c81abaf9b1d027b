/**
 * Group messages with sender keys (SECURITY.md §7), after Signal's Sender Keys: each member
 * has, per group, its own symmetric chain (HMAC-SHA256, forward secret) and its own Ed25519
 * signing key. It hands both (the chain key at its current iteration and the signing public
 * key) to every other member in a distribution message over the pairwise Double Ratchet
 * sessions, then sends each group message once, encrypted under the next chain message key
 * and signed, and the relay fans that single ciphertext out.
 *
 * The signature is what stops one member from speaking as another: every member holds every
 * other member's chain key, but only the sender holds its signing private key. It is checked
 * before anything else. The group id and the sender's user id are bound into both the AEAD
 * associated data and the signature, so a message cannot be replayed into another group or
 * re-attributed to another sender.
 *
 * Rotation: when anyone leaves or is removed, every remaining member creates a new sender key
 * (`rotateSenderKey`, a fresh chain and signing key under a new key id) and distributes it
 * only to the remaining members, so the departed member, who holds only old chains, cannot
 * read anything sent afterwards. The client also rotates when a chain is exhausted.
 *
 * State is immutable: every function returns new objects and never modifies its inputs, so a
 * message that fails leaves the caller's state exactly as it was. `consumed` in a result lists
 * key material of the input state that the new state no longer holds; the caller wipes it
 * once the new state is stored, and must then never use the old state again.
 */
import { Reader, concat, u32be, utf8 } from "./bytes.js";
import { CodecError, CryptoVerificationError, LimitError, UsageError } from "./errors.js";
import { label } from "./labels.js";
import {
  AEAD_TAG_BYTES,
  ED25519_PUBLIC_BYTES,
  ED25519_SIGNATURE_BYTES,
  type Ed25519KeyPair,
  ed25519FromSeed,
  ed25519KeyPair,
  ed25519Sign,
  ed25519Verify,
  hkdfSha256,
  hmacSha256,
  wipe,
  xchachaDecrypt,
  xchachaEncrypt,
} from "./primitives.js";
import type { Rng } from "./rng.js";

/** Version byte of distribution messages, group messages and stored states. */
export const SENDER_KEY_VERSION = 0x01;
/** Length of a chain key and of a message key. */
export const SENDER_CHAIN_KEY_BYTES = 32;
/** Length of a distribution message: version 1 || keyId 4 || iteration 4 || chainKey 32 || signing key 32. */
export const SENDER_DISTRIBUTION_BYTES = 73;
/** Length of a group message header: version 1 || keyId 4 || iteration 4. */
export const SENDER_HEADER_BYTES = 9;
/** Shortest group message: header, an empty plaintext's tag, signature. */
export const SENDER_MIN_MESSAGE_BYTES = SENDER_HEADER_BYTES + AEAD_TAG_BYTES + ED25519_SIGNATURE_BYTES;
/** Most message keys one incoming message may make the receiver derive and store (skip ahead). */
export const MAX_SENDER_SKIP = 2000;
/** Most skipped message keys a receiver state keeps; the oldest (lowest iteration) go first. */
export const MAX_SENDER_SKIPPED_KEYS = 2000;
/** Iterations are u32: a chain at this iteration is exhausted and must be rotated. */
export const MAX_SENDER_ITERATION = 0xffffffff;
/** Longest group id and sender id (UTF-8) bound into a message. */
export const MAX_SENDER_CONTEXT_FIELD_BYTES = 256;

/** State tags in the stored encoding (§7.7). */
const STATE_OWN = 0x01;
const STATE_RECEIVER = 0x02;

/** A member's own sender key for one group: what it encrypts and signs with. */
export interface SenderKeyOwnState {
  readonly kind: "own";
  /** Identifies this sender key among the sender's keys in the group (u32). */
  readonly keyId: number;
  /** The iteration of the next message this state encrypts (u32). */
  readonly iteration: number;
  /** The chain key at `iteration`. */
  readonly chainKey: Uint8Array;
  /** The per-group signing key pair (libsodium form: privateKey = seed || publicKey). */
  readonly signing: Ed25519KeyPair;
}

/** Another member's sender key, as a receiver holds it (from their distribution message). */
export interface SenderKeyReceiverState {
  readonly kind: "receiver";
  readonly keyId: number;
  /** The iteration of the next message key the chain will produce (u32). */
  readonly iteration: number;
  /** The chain key at `iteration`; it only ever moves forward. */
  readonly chainKey: Uint8Array;
  readonly signingPublic: Uint8Array;
  /** Message keys derived for messages that have not arrived yet, by iteration, ascending. */
  readonly skipped: ReadonlyMap<number, Uint8Array>;
}

/** Either kind of state, as stored by `encodeSenderState`. */
export type SenderKeyState = SenderKeyOwnState | SenderKeyReceiverState;

/** What a group message is bound to: the group and the sending user, as the client names them. */
export interface SenderKeyContext {
  /** The group (chat) id, 1..256 bytes. */
  readonly groupId: Uint8Array;
  /** The sender's user id (lowercased username), 1..256 UTF-8 bytes. */
  readonly senderId: string;
}

// ---------------------------------------------------------------------------------------------
// Building blocks (§7.2, §7.4), exported for vectors and audits

/** One chain step (§7.2). */
export interface SenderChainStep {
  /** mk = HMAC-SHA256(chainKey, "SMSG-v1 sender chain message key"). */
  readonly messageKey: Uint8Array;
  /** ck' = HMAC-SHA256(chainKey, "SMSG-v1 sender chain next key"). */
  readonly nextChainKey: Uint8Array;
}

/** The chain KDF (SECURITY.md §7.2). Throws UsageError if `chainKey` is not 32 bytes. */
export function senderChainStep(chainKey: Uint8Array): SenderChainStep {
  needKey(chainKey, "chain key");
  return {
    messageKey: hmacSha256(chainKey, label("senderChainMessageKey")),
    nextChainKey: hmacSha256(chainKey, label("senderChainNextKey")),
  };
}

/**
 * AEAD key and nonce of a message key (SECURITY.md §7.2):
 * HKDF-SHA256(ikm = mk, salt = 32 zero bytes, info = "SMSG-v1 sender message keys", L = 56)
 * → key = bytes 0..31, nonce = bytes 32..55. Throws UsageError if `messageKey` is not 32 bytes.
 */
export function senderMessageKeys(messageKey: Uint8Array): { readonly key: Uint8Array; readonly nonce: Uint8Array } {
  needKey(messageKey, "message key");
  const okm = hkdfSha256(messageKey, new Uint8Array(32), label("senderMessageKeys"), 56);
  const out = { key: okm.slice(0, 32), nonce: okm.slice(32, 56) };
  wipe(okm);
  return out;
}

/** The 9-byte message header (SECURITY.md §7.4): 0x01 || u32be(keyId) || u32be(iteration). Throws UsageError for a non-u32. */
export function senderMessageHeader(keyId: number, iteration: number): Uint8Array {
  return concat(new Uint8Array([SENDER_KEY_VERSION]), u32be(keyId), u32be(iteration));
}

/**
 * The AEAD associated data (SECURITY.md §7.4):
 * u32be(len groupId) || groupId || u32be(len senderId) || utf8(senderId) || header.
 * Throws UsageError for a context outside the bounds of SenderKeyContext.
 */
export function senderMessageAd(context: SenderKeyContext, header: Uint8Array): Uint8Array {
  return concat(encodeContext(context), header);
}

/** The signed bytes (SECURITY.md §7.4): "SMSG-v1 sender key message" || AD || ciphertext. */
export function senderSignatureInput(ad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  return concat(label("senderMessageSignature"), ad, ciphertext);
}

function needKey(b: Uint8Array, what: string): void {
  if (!(b instanceof Uint8Array) || b.length !== SENDER_CHAIN_KEY_BYTES)
    throw new UsageError(`${what} must be 32 bytes`);
}

function encodeContext(context: SenderKeyContext): Uint8Array {
  const { groupId, senderId } = context;
  if (!(groupId instanceof Uint8Array) || groupId.length < 1 || groupId.length > MAX_SENDER_CONTEXT_FIELD_BYTES) {
    throw new UsageError(`group id must be 1..${MAX_SENDER_CONTEXT_FIELD_BYTES} bytes`);
  }
  if (typeof senderId !== "string" || senderId.length === 0)
    throw new UsageError("sender id must be a non-empty string");
  const sid = utf8(senderId);
  // A lone surrogate would become U+FFFD, so two different ids could encode alike.
  if (new TextDecoder().decode(sid) !== senderId) throw new UsageError("sender id is not well-formed Unicode");
  if (sid.length > MAX_SENDER_CONTEXT_FIELD_BYTES)
    throw new UsageError(`sender id longer than ${MAX_SENDER_CONTEXT_FIELD_BYTES} bytes`);
  return concat(u32be(groupId.length), groupId, u32be(sid.length), sid);
}

function isU32(n: unknown): n is number {
  return typeof n === "number" && Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
}

function readU32(b: Uint8Array): number {
  return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
}

// ---------------------------------------------------------------------------------------------
// Creating and distributing (§7.1, §7.3, §7.6)

/**
 * A new own sender key (SECURITY.md §7.1): iteration 0, and from `rng`, in this order: the key
 * id (4 bytes, big-endian; only when `keyId` is not given), the chain key (32 bytes), the
 * Ed25519 signing seed (32 bytes). Throws UsageError for a `keyId` that is not a u32 or an
 * `rng` that returns the wrong number of bytes.
 */
export function createSenderKey(rng: Rng, keyId?: number): SenderKeyOwnState {
  if (keyId !== undefined && !isU32(keyId)) throw new UsageError("key id must be a u32");
  const id = keyId ?? drawKeyId(rng);
  const chainKey = rng(SENDER_CHAIN_KEY_BYTES);
  if (chainKey.length !== SENDER_CHAIN_KEY_BYTES) throw new UsageError("rng returned the wrong number of bytes");
  const signing = ed25519KeyPair(rng);
  return Object.freeze({ kind: "own", keyId: id, iteration: 0, chainKey, signing });
}

function drawKeyId(rng: Rng): number {
  const b = rng(4);
  if (b.length !== 4) throw new UsageError("rng returned the wrong number of bytes");
  return readU32(b);
}

/**
 * Rotation (SECURITY.md §7.6): a brand-new sender key whose key id differs from `previous`'s.
 * It is `createSenderKey(rng, id)` where id is drawn from `rng` (4 bytes) and drawn again while
 * it equals previous.keyId, at most 16 draws in all. The client calls it whenever a member
 * leaves or is removed (and when the chain is exhausted), stores it, and distributes it only
 * to the remaining members. Throws UsageError if all 16 draws return the previous key id (a
 * broken RNG: a working one does that with probability 2^−512).
 */
export function rotateSenderKey(rng: Rng, previous: SenderKeyOwnState): SenderKeyOwnState {
  for (let attempt = 0; attempt < 16; attempt++) {
    const id = drawKeyId(rng);
    if (id !== previous.keyId) return createSenderKey(rng, id);
  }
  throw new UsageError("rng keeps returning the same key id");
}

/**
 * The distribution message of an own sender key at its current iteration (SECURITY.md §7.3),
 * 73 bytes: 0x01 || u32be(keyId) || u32be(iteration) || chainKey || signing public key.
 * It holds the chain key, so it travels only inside the pairwise encrypted sessions. A member
 * who receives it can read this sender's messages from `iteration` on, never earlier ones.
 * Throws UsageError for a malformed state.
 */
export function distributionMessage(state: SenderKeyOwnState): Uint8Array {
  checkOwn(state);
  return concat(
    new Uint8Array([SENDER_KEY_VERSION]),
    u32be(state.keyId),
    u32be(state.iteration),
    state.chainKey,
    state.signing.publicKey,
  );
}

/**
 * Parses a distribution message into a receiver state for that sender (SECURITY.md §7.3),
 * with no skipped keys. The client stores it under (group id, sender user id) — the pairwise
 * session it arrived on names the sender. Throws CodecError unless `bytes` is exactly 73
 * bytes starting with 0x01.
 */
export function parseDistribution(bytes: Uint8Array): SenderKeyReceiverState {
  if (!(bytes instanceof Uint8Array) || bytes.length !== SENDER_DISTRIBUTION_BYTES) {
    throw new CodecError(`sender key distribution must be ${SENDER_DISTRIBUTION_BYTES} bytes`);
  }
  const r = new Reader(bytes, "sender key distribution");
  if (r.u8() !== SENDER_KEY_VERSION) throw new CodecError("sender key distribution: unsupported version");
  const keyId = r.u32();
  const iteration = r.u32();
  const chainKey = r.bytes(SENDER_CHAIN_KEY_BYTES);
  const signingPublic = r.bytes(ED25519_PUBLIC_BYTES);
  r.end();
  return Object.freeze({ kind: "receiver", keyId, iteration, chainKey, signingPublic, skipped: new Map() });
}

// ---------------------------------------------------------------------------------------------
// Encrypting and decrypting (§7.4, §7.5)

/** The result of `senderEncrypt`. */
export interface SenderEncryptResult {
  /** The state for the next message: iteration + 1, next chain key. */
  readonly state: SenderKeyOwnState;
  /** header 9 || ciphertext (plaintext length + 16) || signature 64. */
  readonly message: Uint8Array;
  /** The input state's chain key; wipe it once `state` is stored. */
  readonly consumed: readonly Uint8Array[];
}

/** Own states that already encrypted a message: encrypting twice would reuse a key and nonce. */
const spent = new WeakSet<SenderKeyOwnState>();

/**
 * Encrypts and signs one group message (SECURITY.md §7.4). With (mk, ck') the chain step of
 * state.chainKey and (key, nonce) the AEAD keys of mk:
 *   header     = 0x01 || u32be(keyId) || u32be(iteration)
 *   AD         = u32be(len groupId) || groupId || u32be(len sid) || sid || header, sid = utf8(senderId)
 *   ciphertext = XChaCha20-Poly1305(key, nonce, plaintext, AD)
 *   signature  = Ed25519(signing key, "SMSG-v1 sender key message" || AD || ciphertext)
 *   message    = header || ciphertext || signature
 * Needs no randomness. The caller pads the plaintext first (§8) and stores the returned state
 * before sending the message: sending twice from one state would reuse a key and nonce, so a
 * state object that has encrypted once is refused (UsageError) — a guard within one process,
 * not across a restart. Throws UsageError for a malformed state or context, LimitError when
 * the chain is exhausted (iteration 2^32 − 1; rotate).
 */
export function senderEncrypt(
  state: SenderKeyOwnState,
  context: SenderKeyContext,
  plaintext: Uint8Array,
): SenderEncryptResult {
  checkOwn(state);
  if (!(plaintext instanceof Uint8Array)) throw new UsageError("plaintext must be a Uint8Array");
  if (spent.has(state))
    throw new UsageError("this sender key state has already encrypted a message; use the state it returned");
  if (state.iteration >= MAX_SENDER_ITERATION)
    throw new LimitError("sender key chain exhausted; rotate the sender key");
  const header = senderMessageHeader(state.keyId, state.iteration);
  const ad = senderMessageAd(context, header);
  const { messageKey, nextChainKey } = senderChainStep(state.chainKey);
  const { key, nonce } = senderMessageKeys(messageKey);
  const ciphertext = xchachaEncrypt(key, nonce, plaintext, ad);
  wipe(messageKey, key, nonce);
  const signature = ed25519Sign(state.signing.privateKey, senderSignatureInput(ad, ciphertext));
  spent.add(state);
  const next: SenderKeyOwnState = Object.freeze({ ...state, iteration: state.iteration + 1, chainKey: nextChainKey });
  return { state: next, message: concat(header, ciphertext, signature), consumed: [state.chainKey] };
}

/** The result of `senderDecrypt`. */
export interface SenderDecryptResult {
  readonly state: SenderKeyReceiverState;
  readonly plaintext: Uint8Array;
  /** The message's iteration. */
  readonly iteration: number;
  /**
   * Key material of the input state that `state` no longer holds (the old chain key when the
   * chain moved, the stored message key when one was used, evicted skipped keys). Wipe it
   * once `state` is stored.
   */
  readonly consumed: readonly Uint8Array[];
}

function fail(): never {
  throw new CryptoVerificationError("could not decrypt");
}

/**
 * Verifies and decrypts one group message (SECURITY.md §7.5), in this order: parse the header
 * (version 0x01, at least 89 bytes), require keyId = state.keyId, verify the signature with
 * the sender's signing key over "SMSG-v1 sender key message" || AD || ciphertext, then find
 * the message key: a message behind the chain must have its key in the skipped store (else it
 * is a replay or predates the distribution); a message ahead skips at most MAX_SENDER_SKIP keys,
 * storing them (the oldest evicted beyond MAX_SENDER_SKIPPED_KEYS); then AEAD-decrypt.
 *
 * Throws CryptoVerificationError("could not decrypt") for every failure of the message
 * (malformed, wrong key id, bad signature, replay, tag), LimitError("too many skipped
 * messages") for an authentic message more than MAX_SENDER_SKIP ahead, UsageError for a
 * malformed state or context. On any throw, `state` is unchanged and still decrypts the
 * genuine messages; each message decrypts at most once.
 */
export function senderDecrypt(
  state: SenderKeyReceiverState,
  context: SenderKeyContext,
  message: Uint8Array,
): SenderDecryptResult {
  return senderDecryptUnderRules(SENDER_KEY_RULES, state, context, message);
}

/**
 * The receiving rules of §7.5 that the vectors pin, as one value. `senderDecrypt` always uses
 * SENDER_KEY_RULES; `senderDecryptUnderRules` takes others only so that the vector tests can run
 * a deliberately wrong implementation and show that the published cases catch it
 * (test/crypto/vector-mutants.test.ts). No caller outside the tests passes other rules.
 */
export interface SenderKeyRules {
  /** MAX_SENDER_SKIP: how far ahead of the chain an authentic message may be. */
  readonly maxSkip: number;
  /** MAX_SENDER_SKIPPED_KEYS: the most skipped keys kept; the lowest iterations go first. */
  readonly maxSkippedKeys: number;
  /** The signature check (§2's strict Ed25519 verification). */
  readonly verify: (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => boolean;
}

/** The rules of SECURITY.md §7.5. */
export const SENDER_KEY_RULES: SenderKeyRules = Object.freeze({
  maxSkip: MAX_SENDER_SKIP,
  maxSkippedKeys: MAX_SENDER_SKIPPED_KEYS,
  verify: ed25519Verify,
});

/** `senderDecrypt` under other receiving rules: for the vector mutation tests only (see SenderKeyRules). */
export function senderDecryptUnderRules(
  rules: SenderKeyRules,
  state: SenderKeyReceiverState,
  context: SenderKeyContext,
  message: Uint8Array,
): SenderDecryptResult {
  checkReceiver(state);
  const contextBytes = encodeContext(context);
  if (!(message instanceof Uint8Array) || message.length < SENDER_MIN_MESSAGE_BYTES) fail();
  const header = message.slice(0, SENDER_HEADER_BYTES);
  if (header[0] !== SENDER_KEY_VERSION) fail();
  const keyId = readU32(header.subarray(1, 5));
  const iteration = readU32(header.subarray(5, 9));
  if (keyId !== state.keyId) fail();
  const ciphertext = message.slice(SENDER_HEADER_BYTES, message.length - ED25519_SIGNATURE_BYTES);
  const signature = message.slice(message.length - ED25519_SIGNATURE_BYTES);
  const ad = concat(contextBytes, header);
  if (!rules.verify(state.signingPublic, senderSignatureInput(ad, ciphertext), signature)) fail();
  // A sender never uses the last iteration (its state could not advance past it).
  if (iteration >= MAX_SENDER_ITERATION) fail();

  if (iteration < state.iteration) {
    const messageKey = state.skipped.get(iteration);
    if (!messageKey) fail();
    const plaintext = open(messageKey, ciphertext, ad);
    const skipped = new Map(state.skipped);
    skipped.delete(iteration);
    return {
      state: Object.freeze({ ...state, skipped }),
      plaintext,
      iteration,
      consumed: [messageKey],
    };
  }

  if (iteration - state.iteration > rules.maxSkip) throw new LimitError("too many skipped messages");
  const stored: [number, Uint8Array][] = [];
  let chainKey = state.chainKey;
  for (let i = state.iteration; i < iteration; i++) {
    const step = senderChainStep(chainKey);
    if (chainKey !== state.chainKey) wipe(chainKey);
    stored.push([i, step.messageKey]);
    chainKey = step.nextChainKey;
  }
  const step = senderChainStep(chainKey);
  if (chainKey !== state.chainKey) wipe(chainKey);
  let plaintext: Uint8Array;
  try {
    plaintext = open(step.messageKey, ciphertext, ad);
  } catch (e) {
    wipe(step.messageKey, step.nextChainKey, ...stored.map(([, k]) => k));
    throw e;
  } finally {
    wipe(step.messageKey);
  }
  const skipped = new Map(state.skipped);
  for (const [i, k] of stored) skipped.set(i, k);
  const consumed: Uint8Array[] = [state.chainKey];
  if (skipped.size > rules.maxSkippedKeys) {
    // Evict the oldest (lowest iterations) first.
    const oldest = [...skipped.keys()].sort((x, y) => x - y).slice(0, skipped.size - rules.maxSkippedKeys);
    for (const i of oldest) {
      const k = skipped.get(i)!;
      skipped.delete(i);
      if (state.skipped.get(i) === k) consumed.push(k);
      else wipe(k);
    }
  }
  return {
    state: Object.freeze({ ...state, iteration: iteration + 1, chainKey: step.nextChainKey, skipped }),
    plaintext,
    iteration,
    consumed,
  };
}

function open(messageKey: Uint8Array, ciphertext: Uint8Array, ad: Uint8Array): Uint8Array {
  const { key, nonce } = senderMessageKeys(messageKey);
  try {
    return xchachaDecrypt(key, nonce, ciphertext, ad);
  } catch {
    return fail();
  } finally {
    wipe(key, nonce);
  }
}

// ---------------------------------------------------------------------------------------------
// Storage (§7.7)

function checkOwn(s: SenderKeyOwnState): void {
  if (
    !s ||
    s.kind !== "own" ||
    !isU32(s.keyId) ||
    !isU32(s.iteration) ||
    !(s.chainKey instanceof Uint8Array) ||
    s.chainKey.length !== SENDER_CHAIN_KEY_BYTES ||
    !(s.signing?.privateKey instanceof Uint8Array) ||
    s.signing.privateKey.length !== 64 ||
    !(s.signing.publicKey instanceof Uint8Array) ||
    s.signing.publicKey.length !== ED25519_PUBLIC_BYTES
  ) {
    throw new UsageError("not an own sender key state");
  }
}

function checkReceiver(s: SenderKeyReceiverState): void {
  if (
    !s ||
    s.kind !== "receiver" ||
    !isU32(s.keyId) ||
    !isU32(s.iteration) ||
    !(s.chainKey instanceof Uint8Array) ||
    s.chainKey.length !== SENDER_CHAIN_KEY_BYTES ||
    !(s.signingPublic instanceof Uint8Array) ||
    s.signingPublic.length !== ED25519_PUBLIC_BYTES ||
    !(s.skipped instanceof Map)
  ) {
    throw new UsageError("not a receiver sender key state");
  }
}

/**
 * Encodes a sender key state for local storage (SECURITY.md §7.7). Own state, 106 bytes:
 *   0x01 || 0x01 || u32be(keyId) || u32be(iteration) || chainKey 32 || signing seed 32 || signing public 32
 * Receiver state, 78 + 36·n bytes:
 *   0x01 || 0x02 || u32be(keyId) || u32be(iteration) || chainKey 32 || signing public 32 ||
 *   u32be(n) || n × (u32be(iteration) || messageKey 32), iterations ascending.
 * The output holds secrets: the client encrypts it at rest. Throws UsageError for a
 * malformed state.
 */
export function encodeSenderState(state: SenderKeyState): Uint8Array {
  const prefix = (tag: number) =>
    concat(new Uint8Array([SENDER_KEY_VERSION, tag]), u32be(state.keyId), u32be(state.iteration), state.chainKey);
  if (state?.kind === "own") {
    checkOwn(state);
    return concat(prefix(STATE_OWN), state.signing.privateKey.subarray(0, 32), state.signing.publicKey);
  }
  checkReceiver(state);
  const entries = [...state.skipped].sort((x, y) => x[0] - y[0]);
  if (entries.length > MAX_SENDER_SKIPPED_KEYS) throw new UsageError("too many skipped keys in sender key state");
  const parts: Uint8Array[] = [prefix(STATE_RECEIVER), state.signingPublic, u32be(entries.length)];
  for (const [i, k] of entries) {
    if (!isU32(i) || i >= state.iteration || !(k instanceof Uint8Array) || k.length !== SENDER_CHAIN_KEY_BYTES) {
      throw new UsageError("not a receiver sender key state");
    }
    parts.push(u32be(i), k);
  }
  return concat(...parts);
}

/**
 * Decodes what `encodeSenderState` wrote (SECURITY.md §7.7). Strict: throws CodecError for an
 * unknown version or tag, a truncated input, trailing bytes, a signing public key that does
 * not match the seed, more than MAX_SENDER_SKIPPED_KEYS skipped keys, or skipped iterations
 * that are not strictly ascending and below the state's iteration.
 */
export function decodeSenderState(bytes: Uint8Array): SenderKeyState {
  const r = new Reader(bytes, "sender key state");
  if (r.u8() !== SENDER_KEY_VERSION) throw new CodecError("sender key state: unsupported version");
  const tag = r.u8();
  const keyId = r.u32();
  const iteration = r.u32();
  const chainKey = r.bytes(SENDER_CHAIN_KEY_BYTES);
  if (tag === STATE_OWN) {
    const seed = r.bytes(32);
    const publicKey = r.bytes(ED25519_PUBLIC_BYTES);
    r.end();
    const signing = ed25519FromSeed(seed);
    wipe(seed);
    if (!signing.publicKey.every((b, i) => b === publicKey[i]))
      throw new CodecError("sender key state: signing key mismatch");
    return Object.freeze({ kind: "own", keyId, iteration, chainKey, signing });
  }
  if (tag !== STATE_RECEIVER) throw new CodecError("sender key state: unknown kind");
  const signingPublic = r.bytes(ED25519_PUBLIC_BYTES);
  const n = r.u32();
  if (n > MAX_SENDER_SKIPPED_KEYS) throw new CodecError("sender key state: too many skipped keys");
  const skipped = new Map<number, Uint8Array>();
  let last = -1;
  for (let j = 0; j < n; j++) {
    const i = r.u32();
    if (i <= last || i >= iteration) throw new CodecError("sender key state: skipped keys out of order");
    skipped.set(i, r.bytes(SENDER_CHAIN_KEY_BYTES));
    last = i;
  }
  r.end();
  return Object.freeze({ kind: "receiver", keyId, iteration, chainKey, signingPublic, skipped });
}
