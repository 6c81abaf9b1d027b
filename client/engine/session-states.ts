/**
 * Session states decoded once (docs/ARCHITECTURE.md §4.1, "Receiving a sync page"): the store holds a
 * session as its encoding (crypto/session-codec.ts, SECURITY.md §6.6), and decoding one costs
 * an X25519 base-point multiplication (the ratchet's public key is recomputed from the private
 * one) besides the parsing. A sync page decrypts hundreds of messages on the same session, each
 * reading back the state the one before it wrote, so this remembers, per store, the last state
 * encoded or decoded for each session (by base key) together with its exact encoding: a
 * decode of those same bytes returns the remembered state instead of decoding again.
 *
 * It is a pure cache of a pure function: the answer for a given encoding is the one
 * decodeSessionState would give (the encoding is compared byte for byte), whatever the store
 * holds and whatever a rolled-back savepoint undid; a state that was rolled back is simply never
 * asked for again. It is safe to share states because crypto/ never changes a state's arrays
 * (crypto/ratchet.ts: input and output states may share them) and the engine never wipes a
 * decoded state, only the encodings it read (which here are copies).
 */
import { bytesEqual } from "../../crypto/bytes.js";
import { IDENTITY_PUBLIC_BYTES } from "../../crypto/identity.js";
import { wipe } from "../../crypto/primitives.js";
import { decodeSessionState, encodeSessionState } from "../../crypto/session-codec.js";
import type { SessionState } from "../../crypto/session.js";
import type { ClientStore } from "../store/index.js";

/** Sessions remembered per store: a few peers' devices; beyond that the oldest is forgotten. */
const MAX_REMEMBERED = 64;
/** Where an encoding holds the base key: after the version byte and the remote identity (§6.6). */
const BASE_KEY_AT = 1 + IDENTITY_PUBLIC_BYTES;

interface Remembered {
  /** Our own copy of the encoding (the callers wipe theirs). */
  readonly encoded: Uint8Array;
  readonly state: SessionState;
}

const byStore = new WeakMap<ClientStore, Map<string, Remembered>>();

/** The memo key of an encoding: its base key in hex, or undefined for bytes too short to hold one. */
function keyOf(encoded: Uint8Array): string | undefined {
  if (encoded.length < BASE_KEY_AT + 32) return undefined;
  return Buffer.from(encoded.buffer, encoded.byteOffset + BASE_KEY_AT, 32).toString("hex");
}

function remember(store: ClientStore, key: string, encoded: Uint8Array, state: SessionState): void {
  let memo = byStore.get(store);
  if (memo === undefined) byStore.set(store, (memo = new Map()));
  const old = memo.get(key);
  if (old !== undefined) {
    memo.delete(key);
    wipe(old.encoded);
  } else if (memo.size >= MAX_REMEMBERED) {
    const [oldestKey, oldest] = memo.entries().next().value as [string, Remembered];
    memo.delete(oldestKey);
    wipe(oldest.encoded);
  }
  memo.set(key, { encoded: encoded.slice(), state });
}

/**
 * decodeSessionState(encoded), from the memo when these exact bytes were encoded or decoded
 * last for their session. Throws what decodeSessionState throws (a malformed state is never
 * remembered). Do not wipe the arrays of the state returned: it may be shared.
 */
export function decodeSession(store: ClientStore, encoded: Uint8Array): SessionState {
  const key = keyOf(encoded);
  const hit = key === undefined ? undefined : byStore.get(store)?.get(key);
  if (hit !== undefined && bytesEqual(hit.encoded, encoded)) return hit.state;
  const state = decodeSessionState(encoded);
  if (key !== undefined) remember(store, key, encoded, state);
  return state;
}

/**
 * encodeSessionState(state), remembering the state for the next decodeSession of the bytes
 * returned (the state the next message of the session starts from). Throws what
 * encodeSessionState throws.
 */
export function encodeSession(store: ClientStore, state: SessionState): Uint8Array {
  const encoded = encodeSessionState(state);
  const key = keyOf(encoded);
  if (key !== undefined) remember(store, key, encoded, state);
  return encoded;
}

/**
 * Forgets (and wipes the encoding of) every session remembered for `store` that the store no
 * longer holds: a deleted session's state (a changed key accepted, a device removed, §17.7) is
 * not kept in memory after it left the store. The decoded state itself is only let go of, not
 * wiped, since states may share arrays with the live ones (crypto/ratchet.ts).
 */
export function pruneSessionStates(store: ClientStore): void {
  const memo = byStore.get(store);
  if (memo === undefined) return;
  for (const [key, r] of [...memo]) {
    if (store.sessions.hasBaseKey(Buffer.from(key, "hex"))) continue;
    memo.delete(key);
    wipe(r.encoded);
  }
}

/** Forgets (and wipes the encodings of) every session remembered for `store`, as it closes. */
export function forgetSessionStates(store: ClientStore): void {
  const memo = byStore.get(store);
  if (memo === undefined) return;
  for (const r of memo.values()) wipe(r.encoded);
  byStore.delete(store);
}
