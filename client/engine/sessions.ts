/**
 * Pairwise sessions with other users (SECURITY.md §5–§6) and the identity keys pinned for them
 * (SECURITY.md §1: the relay can substitute bundles, so each contact's identity is pinned on
 * first use, a change is shown loudly, and nothing is sent to that contact until the user
 * verifies or accepts the new key).
 *
 * - Sending: `ensureSession` starts a session when there is none (fetch_bundle, verify, pin,
 *   X3DH); `encryptForPeer` encrypts on the current session inside the caller's transaction.
 * - Receiving: `decryptFromPeer`, inside the caller's transaction, decrypts an envelope on the
 *   session it names (PREKEY) or on whichever session authenticates it (MESSAGE), or accepts a
 *   first message (X3DH as responder, with the one-time prekey deletion and the replay guard in
 *   the same transaction, §6.5). An identity other than the pinned one is never silently taken:
 *   the contact is marked key-changed and the message is flagged.
 * - Deciding: `confirmIdentity` (safety numbers compared) and `acceptNewIdentity` resolve a
 *   change and drop the sessions made with any other key.
 *
 * Everything here that touches the store is synchronous (crypto/ is), except the two functions
 * that ask the relay, which do their store work in one transaction after the reply.
 */
import { bytesEqual } from "../../crypto/bytes.js";
import { CodecError, CryptoVerificationError, LimitError } from "../../crypto/errors.js";
import { type IdentityPublic, decodeIdentityPublic, encodeIdentityPublic, identityKey } from "../../crypto/identity.js";
import { type PrekeyBundle, verifyBundle } from "../../crypto/prekeys.js";
import { wipe } from "../../crypto/primitives.js";
import { formatSafetyNumber, safetyNumber } from "../../crypto/safety-number.js";
import {
  type PrekeyStore,
  type SessionState,
  acceptSession,
  initiateSession,
  parseEnvelope,
  sessionDecrypt,
  sessionEncrypt,
} from "../../crypto/session.js";
import { RemoteError, UsageError } from "../../src/errors.js";
import type { RelayMessageOf } from "../../src/wire/messages.js";
import type { RelayClient } from "../relay-client.js";
import type { ClientStore, ContactRecord, PinResult } from "../store/index.js";
import { KeyChangedError, UnlistedDeviceError, UserUnknownError } from "./errors.js";
import type { EngineEvent } from "./events.js";
import type { Account } from "./open-account.js";
import { decodeSession, encodeSession } from "./session-states.js";

/** Throws KeyChangedError when a key change is pending for `peer` (nothing may be sent to them). */
export function assertTrusted(store: ClientStore, peer: string): void {
  if (store.contacts.get(peer)?.keyChanged) throw new KeyChangedError(peer);
}

/** Maps the relay's USER_UNKNOWN to UserUnknownError; anything else is returned as it is. */
function userError(e: unknown, username: string): unknown {
  return e instanceof RemoteError && e.code === "USER_UNKNOWN" ? new UserUnknownError(username) : e;
}

/**
 * Asks the relay for `peer`'s identity (lookup_user) and pins it on first use. Returns what
 * the pin did. Throws KeyChangedError when it differs from the pinned one (the change is
 * recorded first), UserUnknownError, CryptoVerificationError("invalid identity key") for an
 * identity whose binding signature does not verify, or what RelayClient.request throws.
 */
export async function checkIdentity(acct: Account, relay: RelayClient, peer: string): Promise<PinResult> {
  return pinIdentity(acct, peer, await lookupIdentity(relay, peer));
}

/**
 * The identity the relay reports for `peer` (lookup_user), its binding signature checked.
 * Throws UserUnknownError, CryptoVerificationError("invalid identity key"), or what
 * RelayClient.request throws.
 */
export async function lookupIdentity(relay: RelayClient, peer: string): Promise<Uint8Array> {
  let reply;
  try {
    reply = await relay.request<"lookup_user">({ t: "lookup_user", username: peer });
  } catch (e) {
    throw userError(e, peer);
  }
  decodeIdentityPublic(reply.identity);
  return reply.identity;
}

/**
 * Pins `identity` (the relay's answer for `peer`) on first use; throws KeyChangedError when it
 * differs from the pinned one (the change is recorded first) or a change is still pending.
 */
export function pinIdentity(acct: Account, peer: string, identity: Uint8Array): PinResult {
  const pin = acct.store.contacts.pin(peer, identity);
  if (pin === "changed") throw new KeyChangedError(peer);
  return pin;
}

/**
 * Makes sure there is a current session with `peer` to send on: returns "existing" when there
 * is one, else fetches a bundle (consuming one of their one-time prekeys), verifies it, pins
 * its identity on first use and starts a session (X3DH, SECURITY.md §5), stored as current.
 * Throws KeyChangedError (a change is pending, or the bundle carries another identity than the
 * pinned one: recorded, no session made), UserUnknownError, CryptoVerificationError("invalid
 * prekey bundle"), or what RelayClient.request throws.
 */
export async function ensureSession(
  acct: Account,
  relay: RelayClient,
  peer: string,
  device = 1,
): Promise<"existing" | "new"> {
  const { store } = acct;
  assertTrusted(store, peer);
  // Which identity the session must be with: a listed device's own (§17.2, authenticated by the
  // account's list), or, for device 1 of a contact without a list, the key pinned on first use.
  const listed = listedIdentity(acct, peer, device);
  if (currentSessionWith(acct, peer, device, listed)) return "existing";
  let b;
  try {
    b = await relay.request<"fetch_bundle">({
      t: "fetch_bundle",
      username: peer,
      // Absent means device 1 (§17.8), so a relay before §17 is asked exactly as before.
      ...(device !== 1 ? { device } : {}),
    });
  } catch (e) {
    throw userError(e, peer);
  }
  if ((b.device ?? 1) !== device) throw new CryptoVerificationError("invalid prekey bundle");
  const bundle: PrekeyBundle = {
    identity: decodeIdentityPublic(b.identity),
    signedPrekey: {
      id: b.signed_prekey.key_id,
      publicKey: b.signed_prekey.public_key,
      signature: b.signed_prekey.signature,
    },
    ...(b.one_time_prekey
      ? { oneTimePrekey: { id: b.one_time_prekey.key_id, publicKey: b.one_time_prekey.public_key } }
      : {}),
  };
  verifyBundle(bundle);
  if (listed !== null && !bytesEqual(identityKey(listed), identityKey(bundle.identity)))
    throw new CryptoVerificationError("the prekey bundle is not signed by the device the account listed");
  const outcome = store.transaction(() => {
    if (listed === null && store.contacts.pin(peer, b.identity) === "changed") return "changed" as const;
    // Another process (a running `smsg listen`) may have made one while we waited.
    if (currentSessionWith(acct, peer, device, listed)) return "existing" as const;
    const { session } = initiateSession(acct.rng, acct.identity, bundle);
    store.sessions.put(peer, session.baseKey, encodeSession(store, session), { makeCurrent: true, device });
    return "new" as const;
  });
  if (outcome === "changed") throw new KeyChangedError(peer);
  return outcome;
}

/**
 * The identity `peer`'s device `device` must have, from the account's accepted device list
 * (SECURITY.md §17.4: never encrypt to, nor accept from, a device not in it), or null for device 1
 * of a contact without a list (a client before §17: its key is the pinned one, §1). Our own
 * account always has a list. Throws UnlistedDeviceError for a device the list does not hold.
 */
export function listedIdentity(acct: Account, peer: string, device: number): IdentityPublic | null {
  const { store } = acct;
  if (peer !== acct.username && !listUnderPinnedKey(store, peer)) {
    if (device === 1) return null;
    throw new UnlistedDeviceError(peer, device);
  }
  const known = store.deviceLists.device(peer, device);
  if (known === undefined) throw new UnlistedDeviceError(peer, device);
  return known.entry.identity;
}

/**
 * Whether the store holds an accepted list of contact `peer` under the account key pinned for
 * it: a list accepted under a key the user has since replaced names the old account's devices,
 * which are nothing to the new one (§17.4: a changed account key discards the stored state).
 */
function listUnderPinnedKey(store: ClientStore, peer: string): boolean {
  const state = store.deviceLists.get(peer);
  const contact = store.contacts.get(peer);
  if (state === undefined || contact === undefined) return false;
  return bytesEqual(state.accountKey, identityKey(decodeIdentityPublic(contact.identity)));
}

/** Whether a session's remote identity is `expected` (a listed device's key). */
function sessionIsWith(store: ClientStore, state: Uint8Array, expected: IdentityPublic): boolean {
  return bytesEqual(identityKey(decodeSession(store, state).remoteIdentity), identityKey(expected));
}

/**
 * Whether there is a current session with `peer`'s device `device` with the identity the list
 * gives it (`listed`; null: device 1 of a contact without a list, whose sessions a key change
 * already sorts out, §1). Sessions of that device with any other key are deleted first: a device
 * id of an account that changed its key, or a state left from before, is never encrypted to.
 */
function currentSessionWith(acct: Account, peer: string, device: number, listed: IdentityPublic | null): boolean {
  const { store } = acct;
  if (listed !== null) {
    for (const rec of store.sessions.list(peer, device)) {
      const ok = sessionIsWith(store, rec.state, listed);
      wipe(rec.state);
      if (!ok) store.sessions.delete(peer, rec.baseKey);
    }
  }
  const rec = store.sessions.current(peer, device);
  if (rec) wipe(rec.state);
  return rec !== undefined;
}

/**
 * Encrypts `plaintext` for `peer` on the current session and stores the advanced session.
 * Call it inside the transaction that stores the outgoing message and its outbox entry
 * (SECURITY.md §6.4: the new state is stored before the envelope leaves). Throws
 * KeyChangedError, UnlistedDeviceError (the device left the account's list), UsageError when
 * there is no session (call ensureSession first), or what sessionEncrypt throws.
 */
export function encryptForPeer(acct: Account, peer: string, plaintext: Uint8Array, device = 1): Uint8Array {
  const { store } = acct;
  return store.transaction(() => {
    assertTrusted(store, peer);
    const listed = listedIdentity(acct, peer, device);
    const rec = store.sessions.current(peer, device);
    if (!rec) throw new UsageError(`no session with ${device === 1 ? peer : `${peer}'s device ${device}`} yet`);
    const session = decodeSession(store, rec.state);
    wipe(rec.state);
    if (listed !== null && !bytesEqual(identityKey(session.remoteIdentity), identityKey(listed)))
      throw new UsageError(`the session with ${peer}'s device ${device} is not with the key its list certifies`);
    const out = sessionEncrypt(session, acct.identity.publicKey, plaintext);
    store.sessions.put(peer, rec.baseKey, encodeSession(store, out.session));
    return out.envelope;
  });
}

/** What decryptFromPeer returns. */
export interface Decrypted {
  /** The application payload (unpadded). The caller wipes it once stored. */
  readonly plaintext: Uint8Array;
  /** The message came on a session whose identity is not the pinned (accepted) one: flag it. */
  readonly keyChanged: boolean;
  /** This message revealed the change: the contact was not marked key-changed before it. */
  readonly keyChangeDetected: boolean;
  /** It started a new session (a first message accepted as responder). */
  readonly newSession: boolean;
}

/** True for the errors a received envelope can cause: report it as "could not decrypt" (SECURITY.md §2). */
export function isDecryptFailure(e: unknown): boolean {
  return e instanceof CryptoVerificationError || e instanceof CodecError || e instanceof LimitError;
}

/** Our prekeys as acceptSession reads them, with the replay guard of §6.5. */
function prekeyStore(store: ClientStore): PrekeyStore {
  return {
    signedPrekey(id) {
      const k = store.prekeys.getSigned(id);
      return k && { id: k.id, keyPair: { privateKey: k.privateKey, publicKey: k.publicKey }, signature: k.signature };
    },
    oneTimePrekey(id) {
      const k = store.prekeys.getOneTime(id);
      return k && { id: k.id, keyPair: { privateKey: k.privateKey, publicKey: k.publicKey } };
    },
    acceptedBefore(signedPrekeyId, baseKey) {
      return store.sessions.hasSeenPrekeyMessage(baseKey, signedPrekeyId);
    },
  };
}

/**
 * decryptFromPeer for a received frame, inside the caller's transaction: undefined when the
 * envelope does not decrypt (the caller stores the frame as undecryptable; nothing changed),
 * and a key_change event in `events` when the session revealed a new identity key for the sender.
 */
export function openPairwise(acct: Account, m: RelayMessageOf<"msg">, events: EngineEvent[]): Decrypted | undefined {
  let dec: Decrypted;
  try {
    dec = decryptFromPeer(acct, m.from, m.envelope, m.from_device ?? 1);
  } catch (e) {
    if (e instanceof UnlistedDeviceError) events.push(unlistedDeviceEvent(acct, e));
    if (isDecryptFailure(e)) return undefined;
    throw e;
  }
  if (dec.keyChangeDetected) events.push({ type: "key_change", user: m.from, chat: m.chat });
  return dec;
}

/** The warning of §17.4 for a message from a device the sender's accepted list does not hold. */
function unlistedDeviceEvent(acct: Account, e: UnlistedDeviceError): EngineEvent {
  return {
    type: "device_list",
    user: e.username,
    own: e.username === acct.username,
    outcome: "unlisted_device",
    devices: [e.device],
    names: [null],
    version: null,
    acceptedVersion: null,
  };
}

/**
 * Decrypts an envelope `peer`'s device `device` sent us and stores the advanced (or new)
 * session, inside the caller's transaction (SECURITY.md §6.5, §6.7), so the caller stores the
 * message in the same commit. A PREKEY envelope goes to the session its base key names, or
 * starts a new one: for device 1 of a contact without a device list the sender's identity is
 * pinned on first use, compared otherwise (§1); for any device of an account with a list (ours
 * included) it must be the identity that list gives the device (§17.4). The one-time prekey is
 * deleted and the (signed prekey id, base key) pair recorded (a replay is refused). A MESSAGE
 * envelope is tried on that device's current session, then on its others. A device the
 * account's list does not hold is refused before any decryption (UnlistedDeviceError).
 *
 * Throws CryptoVerificationError, CodecError or LimitError (isDecryptFailure: "could not
 * decrypt"; UnlistedDeviceError is one), changing nothing; anything else is a local failure.
 */
export function decryptFromPeer(acct: Account, peer: string, envelopeBytes: Uint8Array, device = 1): Decrypted {
  const { store } = acct;
  return store.transaction(() => {
    const listed = listedIdentity(acct, peer, device);
    const before = store.contacts.get(peer);
    const env = parseEnvelope(envelopeBytes);
    let session: SessionState;
    let plaintext: Uint8Array;
    let newSession = false;
    if (env.type === "prekey") {
      const existing = store.sessions.get(peer, env.ephemeral);
      if (existing) {
        // A session is one device pair's: another device naming it is refused (§17.5).
        if (existing.device !== device) throw new CryptoVerificationError();
        if (listed !== null && !sessionIsWith(store, existing.state, listed)) throw new CryptoVerificationError();
        const dec = sessionDecrypt(acct.rng, decodeSession(store, existing.state), env);
        store.sessions.put(peer, existing.baseKey, encodeSession(store, dec.session));
        wipe(dec.consumed, existing.state);
        ({ session, plaintext } = dec);
      } else {
        if (listed !== null && !bytesEqual(identityKey(listed), identityKey(env.identity)))
          throw new CryptoVerificationError();
        const acc = acceptSession(acct.rng, acct.identity, prekeyStore(store), env);
        const pin = listed === null ? store.contacts.pin(peer, encodeIdentityPublic(env.identity)) : "same";
        if (!store.sessions.markPrekeyMessageSeen(acc.baseKey, acc.signedPrekeyId)) throw new CryptoVerificationError();
        // The peer started a new session: answer on it (unless its key is not the pinned one).
        store.sessions.put(peer, acc.baseKey, encodeSession(store, acc.session), {
          makeCurrent: pin !== "changed",
          device,
        });
        if (acc.usedOneTimePrekeyId !== undefined) store.prekeys.deleteOneTime(acc.usedOneTimePrekeyId);
        wipe(acc.consumed);
        ({ session, plaintext } = acc);
        newSession = true;
      }
    } else {
      const dec = decryptOnAnySession(acct, peer, device, listed, env);
      ({ session, plaintext } = dec);
    }
    const contact = store.contacts.get(peer);
    const keyChanged =
      listed !== null
        ? !bytesEqual(identityKey(listed), identityKey(session.remoteIdentity))
        : contact === undefined || !sameIdentity(contact.identity, session.remoteIdentity);
    return {
      plaintext,
      keyChanged,
      keyChangeDetected: (contact?.keyChanged ?? false) && !(before?.keyChanged ?? false),
      newSession,
    };
  });
}

/**
 * Tries the current session first, then the others, most recent first, among those with the
 * listed key when the device is listed; stores the one that worked.
 */
function decryptOnAnySession(
  acct: Account,
  peer: string,
  device: number,
  listed: IdentityPublic | null,
  env: ReturnType<typeof parseEnvelope>,
) {
  const { store } = acct;
  const all = store.sessions
    .list(peer, device)
    // Only sessions with the key the device's list entry certifies (§17.4); the others are dead.
    .filter((rec) => {
      if (listed === null || sessionIsWith(store, rec.state, listed)) return true;
      wipe(rec.state);
      return false;
    })
    .sort((a, b) => Number(b.current) - Number(a.current));
  // Made only when every session failed (an error's stack costs more than a decryption).
  let failure: unknown;
  for (const rec of all) {
    try {
      const dec = sessionDecrypt(acct.rng, decodeSession(store, rec.state), env);
      store.sessions.put(peer, rec.baseKey, encodeSession(store, dec.session));
      wipe(dec.consumed);
      return dec;
    } catch (e) {
      if (!isDecryptFailure(e)) throw e;
      // A skip-bound failure on one session says more than "not this session" on the others.
      if (e instanceof LimitError || !(failure instanceof LimitError)) failure = e;
    } finally {
      wipe(rec.state);
    }
  }
  throw failure ?? new CryptoVerificationError();
}

function sameIdentity(pinned: Uint8Array, other: IdentityPublic): boolean {
  return bytesEqual(identityKey(decodeIdentityPublic(pinned)), identityKey(other));
}

/**
 * After a key change is resolved: a device list accepted under another account key than the
 * pinned one is forgotten (§17.4), with every session of the devices other than 1 (they belonged
 * to the old account key; the new key's list is fetched and checked afresh); device 1's sessions
 * whose identity is not the pinned one are dropped, and the most recent remaining one made
 * current if none is. Inside a transaction.
 */
function dropSessionsWithOtherKeys(store: ClientStore, peer: string): number {
  const c = store.contacts.get(peer);
  if (!c) return 0;
  let dropped = 0;
  const state = store.deviceLists.get(peer);
  if (state !== undefined && !bytesEqual(state.accountKey, identityKey(decodeIdentityPublic(c.identity))))
    store.deviceLists.forget(peer);
  for (const device of store.sessions.devices(peer)) {
    if (device !== 1 && !listUnderPinnedKey(store, peer)) dropped += store.sessions.deleteDevice(peer, device);
  }
  const kept: { baseKey: Uint8Array; current: boolean }[] = [];
  for (const rec of store.sessions.list(peer)) {
    const s = decodeSession(store, rec.state);
    wipe(rec.state);
    if (sameIdentity(c.identity, s.remoteIdentity)) kept.push({ baseKey: rec.baseKey, current: rec.current });
    else {
      store.sessions.delete(peer, rec.baseKey);
      dropped++;
    }
  }
  if (kept.length > 0 && !kept.some((k) => k.current)) store.sessions.setCurrent(peer, kept[0]!.baseKey);
  return dropped;
}

/**
 * The user compared safety numbers and they match (`smsg verify USER --confirm`): a pending
 * key becomes the pinned one, verified; without a pending change the pinned key is marked
 * verified. Sessions made with another key are dropped. Throws UsageError for an unknown
 * contact. Returns the contact afterwards.
 */
export function confirmIdentity(store: ClientStore, peer: string): ContactRecord {
  return store.transaction(() => {
    const c = store.contacts.get(peer);
    if (!c) throw new UsageError(`no key is pinned for ${peer} yet`);
    store.contacts.verify(peer, c.pendingIdentity ?? c.identity);
    dropSessionsWithOtherKeys(store, peer);
    return store.contacts.get(peer)!;
  });
}

/**
 * The user accepts a changed key without comparing safety numbers (`--accept-new-key`): it
 * becomes the pinned key, unverified; sessions made with another key are dropped. Throws
 * UsageError when no change is pending. Returns the contact afterwards.
 */
export function acceptNewIdentity(store: ClientStore, peer: string): ContactRecord {
  return store.transaction(() => {
    store.contacts.acceptChange(peer);
    dropSessionsWithOtherKeys(store, peer);
    return store.contacts.get(peer)!;
  });
}

/** The safety numbers of a contact (SECURITY.md §9), formatted: for the pinned key and, during a change, the pending one. */
export interface SafetyNumbers {
  readonly pinned: string;
  readonly pending: string | null;
}

/** Computes the safety numbers between us and `contact` (SECURITY.md §9). */
export function safetyNumbersWith(acct: Account, contact: ContactRecord): SafetyNumbers {
  // Per account, not per device (§17.1): on every device the account key's.
  const me = { id: acct.username, identityKey: identityKey(acct.accountIdentity) };
  const of = (identity: Uint8Array) =>
    formatSafetyNumber(
      safetyNumber(me, { id: contact.username, identityKey: identityKey(decodeIdentityPublic(identity)) }),
    );
  return { pinned: of(contact.identity), pending: contact.pendingIdentity ? of(contact.pendingIdentity) : null };
}
