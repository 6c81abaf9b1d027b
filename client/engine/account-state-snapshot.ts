/**
 * The account-state snapshot between the store and its bytes (SECURITY.md §17.6.1): what an
 * existing device puts in a device-link grant (§17.6 message 5) or in the passphrase backup
 * (§18.3), and what a new device does with it. The byte layout is client/protocol/account-state.ts.
 *
 * - buildAccountState(store): reads the store in one transaction (a consistent view) and
 *   encodes it, leaving out what §17.6.1 lets go when it does not fit 61 440 bytes (fitAccountState),
 *   or refusing with AccountStateDoesNotFitError.
 * - applyAccountState(store, bytes): decodes first (a CodecError writes nothing), then writes
 *   everything in ONE transaction (nested in the caller's, if any: the new device stores its
 *   account row, device list and the snapshot together). Works on a fresh profile; where the
 *   store already holds an item, the rules of §17.6.1 ("Applying") say what wins.
 *
 * The snapshot comes from the user's own account (sealed under K_link or backup_key, which only
 * the account's holder has), so it is trusted as the own store is: its pinned keys are pinned
 * as they were, verified stays verified, and its group states are accepted states.
 */
import { bytesEqual } from "../../crypto/bytes.js";
import { wipe } from "../../crypto/primitives.js";
import { LimitError, UsageError } from "../../src/errors.js";
import {
  type AccountState,
  type AccountStateChat,
  type AccountStateContact,
  AccountStateTooLargeError,
  MAX_ACCOUNT_STATE_BYTES,
  decodeAccountState,
  encodeAccountState,
} from "../protocol/account-state.js";
import { encodeAppMessage } from "../protocol/app-message.js";
import type { ClientStore } from "../store/index.js";
import { acceptedState } from "./group/records.js";

/** What buildAccountState left out to fit MAX_ACCOUNT_STATE_BYTES (§17.6.1, in this order). */
export interface AccountStateOmissions {
  /** Step 1: the groups we left or were removed from, left out whole (ids ascending). */
  readonly departedChats: readonly number[];
  /** Step 2: the group states of closed chats, left out (the chats stay; ids ascending). */
  readonly closedGroupStates: readonly number[];
}

/** A snapshot ready for a grant or a backup. */
export interface BuiltAccountState {
  /** The encoding, at most MAX_ACCOUNT_STATE_BYTES. */
  readonly bytes: Uint8Array;
  /** What the encoding holds. */
  readonly state: AccountState;
  /** What was left out; the caller tells the user when anything was. */
  readonly omitted: AccountStateOmissions;
}

const NOTHING_OMITTED: AccountStateOmissions = Object.freeze({
  departedChats: [],
  closedGroupStates: [],
});

/**
 * The account's state does not fit MAX_ACCOUNT_STATE_BYTES even after every step of §17.6.1
 * (LimitError, code LIMIT). Nothing was sent or stored; the message says what to do.
 */
export class AccountStateDoesNotFitError extends LimitError {
  constructor(
    /** The encoding's length after every step. */
    readonly bytes: number,
    readonly contacts: number,
    readonly chats: number,
  ) {
    super(
      `the account's state (${contacts} contacts, ${chats} chats) needs ${bytes} bytes; a new device can be ` +
        `given at most ${MAX_ACCOUNT_STATE_BYTES}: close or leave groups you no longer use, then try again`,
    );
  }
}

/** `name`, or null for an empty one (the store and the snapshot both mean "none" by null). */
const nameOrNull = (name: string | null) => (name === null || name === "" ? null : name);

/** The whole snapshot of the store, nothing left out. Throws UsageError without an account. In a transaction. */
export function snapshotOfStore(store: ClientStore): AccountState {
  return store.transaction(() => {
    const account = store.account.get();
    if (!account) throw new UsageError("no account in this profile yet");
    wipe(account.signingSeed);
    wipe(account.dhPrivate);
    wipe(account.credential);
    const contacts: AccountStateContact[] = store.contacts.list().map((c) => ({
      username: c.username,
      identity: c.identity,
      verified: c.verified,
      pendingIdentity: c.pendingIdentity,
      displayName: nameOrNull(c.displayName),
    }));
    const chats: AccountStateChat[] = store.chats.all().map((c) => {
      const state = c.kind === "group" ? acceptedState(store, c.id) : undefined;
      return {
        id: c.id,
        kind: c.kind,
        peer: c.peer,
        name: nameOrNull(c.name),
        closed: c.closed,
        myRole: c.myRole,
        departure: c.kind === "group" ? c.departure : null,
        departedBy: c.kind === "group" && c.departure !== null ? c.departedBy : null,
        lastReadMsg: c.lastReadMsg,
        groupState: state !== undefined && state.chat === c.id ? state : null,
      };
    });
    return { displayName: nameOrNull(account.displayName), contacts, chats };
  });
}

/** The encoding, or undefined when it is over MAX_ACCOUNT_STATE_BYTES. */
function tryEncode(state: AccountState): { bytes?: Uint8Array; length: number } {
  try {
    const bytes = encodeAccountState(state);
    return { bytes, length: bytes.length };
  } catch (e) {
    if (e instanceof AccountStateTooLargeError) return { length: e.bytes };
    throw e;
  }
}

/**
 * Fits a snapshot into MAX_ACCOUNT_STATE_BYTES by the steps of §17.6.1, each taken only while
 * the encoding is still too long, each whole: (1) the groups we left or were removed from are
 * left out; (2) the group states of closed chats are left out. (Read positions are fixed-width:
 * dropping them would save nothing.) Contacts, open chats and their group states are never left out (a new device would trust
 * on first use what the account already pinned, verified or accepted): still too long, it
 * throws AccountStateDoesNotFitError. Pure.
 */
export function fitAccountState(full: AccountState): BuiltAccountState {
  let state = full;
  let omitted = NOTHING_OMITTED;
  const steps: ((s: AccountState) => [AccountState, AccountStateOmissions])[] = [
    (s) => [
      { ...s, chats: s.chats.filter((c) => c.departure === null) },
      { ...omitted, departedChats: s.chats.filter((c) => c.departure !== null).map((c) => c.id) },
    ],
    (s) => [
      { ...s, chats: s.chats.map((c) => (c.closed ? { ...c, groupState: null } : c)) },
      { ...omitted, closedGroupStates: s.chats.filter((c) => c.closed && c.groupState !== null).map((c) => c.id) },
    ],
  ];
  let encoded = tryEncode(state);
  for (const step of steps) {
    if (encoded.bytes) break;
    [state, omitted] = step(state);
    encoded = tryEncode(state);
  }
  if (!encoded.bytes) throw new AccountStateDoesNotFitError(encoded.length, state.contacts.length, state.chats.length);
  return { bytes: encoded.bytes, state, omitted };
}

/**
 * The snapshot of `store` for a grant or a backup (§17.6.1): snapshotOfStore, then
 * fitAccountState. Throws AccountStateDoesNotFitError when it cannot fit, UsageError without
 * an account.
 */
export function buildAccountState(store: ClientStore): BuiltAccountState {
  return fitAccountState(snapshotOfStore(store));
}

/** What applyAccountState did. */
export interface AppliedAccountState {
  /** Contacts the store did not have, pinned from the snapshot. */
  readonly contactsPinned: number;
  /** Contacts the store had with the same pinned key (verification and names merged). */
  readonly contactsMerged: number;
  /** Contacts the store had with another pinned key: the snapshot's is now their pending key (a key change to verify). */
  readonly keyConflicts: readonly string[];
  /** Chats the store did not have. */
  readonly chatsAdded: number;
  /** Chats the store had, of the same kind and peer (read position and group state merged). */
  readonly chatsMerged: number;
  /** Chats the store had with another kind or peer: the store's kept, the snapshot's not applied. */
  readonly chatConflicts: readonly number[];
  /** Group states written (new chats, or newer than the stored one). */
  readonly groupStatesStored: number;
}

function applyContact(store: ClientStore, c: AccountStateContact): "pinned" | "merged" | "conflict" {
  const old = store.contacts.get(c.username);
  if (old && !bytesEqual(old.identity, c.identity)) {
    // Another key pinned here: keep it, and hold the snapshot's as a key change the user
    // must verify or accept (§1), as for any different key; nothing signed by it is taken.
    store.contacts.markChanged(c.username, c.identity);
    return "conflict";
  }
  if (!old) store.contacts.pin(c.username, c.identity);
  if (c.verified) store.contacts.verify(c.username, c.identity);
  if (c.pendingIdentity !== null && !(old?.keyChanged ?? false))
    store.contacts.markChanged(c.username, c.pendingIdentity);
  if (c.displayName !== null) store.contacts.setDisplayName(c.username, c.displayName);
  return old ? "merged" : "pinned";
}

function applyChat(
  store: ClientStore,
  c: AccountStateChat,
): { outcome: "added" | "merged" | "conflict"; state: boolean } {
  const old = store.chats.get(c.id);
  if (old && (old.kind !== c.kind || old.peer !== c.peer)) return { outcome: "conflict", state: false };
  if (!old) {
    store.chats.upsert({ id: c.id, kind: c.kind, peer: c.peer, name: c.name, closed: c.closed, myRole: c.myRole });
    if (c.departure !== null) store.chats.setDeparture(c.id, c.departure, c.departedBy);
  } else if (old.name === null && c.name !== null) store.chats.setName(c.id, c.name);
  store.chats.markRead(c.id, c.lastReadMsg);
  let state = false;
  if (c.groupState !== null) {
    const stored = old ? acceptedState(store, c.id) : undefined;
    // Epochs only grow (§15.4.2); both were accepted by devices of this account. Equal: keep ours.
    if (stored === undefined || stored.epoch < c.groupState.epoch) {
      store.groupStates.putState(c.id, encodeAppMessage(c.groupState));
      state = true;
    }
  }
  return { outcome: old ? "merged" : "added", state };
}

/**
 * Applies a `state` (§17.6.1) to `store`, in one transaction: decoded first, so a malformed or
 * unsupported snapshot (AccountStateError, CodecError) writes nothing; any failure while writing
 * rolls everything back. The profile's account row must exist (UsageError otherwise): the
 * snapshot's own display name, when it has one, replaces the stored one.
 */
export function applyAccountState(store: ClientStore, bytes: Uint8Array): AppliedAccountState {
  const state = decodeAccountState(bytes);
  return store.transaction(() => {
    const me = store.account.get();
    if (me === undefined) throw new UsageError("no account in this profile yet");
    wipe(me.signingSeed, me.dhPrivate, me.accountSigningSeed, me.backupKey ?? undefined);
    if (state.displayName !== null) store.account.setDisplayName(state.displayName);
    let contactsPinned = 0;
    let contactsMerged = 0;
    const keyConflicts: string[] = [];
    // Our own account is no contact of ours (§17.6.1 "Applying"): entries naming it are skipped.
    for (const c of state.contacts) {
      if (c.username === me.username) continue;
      const outcome = applyContact(store, c);
      if (outcome === "pinned") contactsPinned++;
      else if (outcome === "merged") contactsMerged++;
      else keyConflicts.push(c.username);
    }
    let chatsAdded = 0;
    let chatsMerged = 0;
    let groupStatesStored = 0;
    const chatConflicts: number[] = [];
    for (const c of state.chats) {
      if (c.kind === "direct" && c.peer === me.username) continue;
      const { outcome, state: stored } = applyChat(store, c);
      if (outcome === "added") chatsAdded++;
      else if (outcome === "merged") chatsMerged++;
      else chatConflicts.push(c.id);
      if (stored) groupStatesStored++;
    }
    return { contactsPinned, contactsMerged, keyConflicts, chatsAdded, chatsMerged, chatConflicts, groupStatesStored };
  });
}
