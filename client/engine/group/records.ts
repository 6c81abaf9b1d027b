/**
 * A group's membership as this client stores it (SECURITY.md §15.4): the accepted admin-signed
 * state, and the relay's member list as last read. Sender keys (keys.ts), the membership
 * commands (membership.ts), sending (send.ts) and receiving (receive.ts) all read these.
 *
 * Storage: the accepted state is in store.groupStates (client/store/group-states.ts), the
 * relay's list in store.members, each member flagged "announced" when the signed state lists it.
 */
import { RemoteError } from "../../../src/errors.js";
import { type GroupStateMessage, decodeAppMessage, encodeAppMessage } from "../../protocol/app-message.js";
import { reconcile } from "../../protocol/group-state.js";
import type { RelayClient } from "../../relay-client.js";
import type { ClientStore } from "../../store/index.js";
import type { ChatEventEvent } from "../events.js";
import type { Account } from "../open-account.js";
import { noteDeparture, recordRejoin } from "./departure.js";

/** The accepted signed group state of a chat, or undefined. */
export function acceptedState(store: ClientStore, chat: number): GroupStateMessage | undefined {
  const encoded = store.groupStates.getState(chat);
  if (!encoded) return undefined;
  const app = decodeAppMessage(encoded);
  return app.k === "group_state" ? app : undefined;
}

/** Stores `state` as accepted, sets the chat's name and the members' announced flags. In a transaction. */
export function storeAccepted(store: ClientStore, state: GroupStateMessage): void {
  store.transaction(() => {
    store.groupStates.putState(state.chat, encodeAppMessage(state));
    store.groupStates.setGone(
      state.chat,
      store.groupStates.getGone(state.chat).filter((u) => state.members.includes(u)),
    );
    if (state.name.trim() !== "") store.chats.setName(state.chat, state.name);
    for (const m of store.members.list(state.chat))
      store.members.setAnnounced(state.chat, m.username, state.members.includes(m.username));
  });
}

/** The relay's member list of a chat as last stored. */
export function relayMembers(store: ClientStore, chat: number): string[] {
  return store.members.list(chat).map((m) => m.username);
}

/**
 * Reads the chat's members from the relay (list_members) and stores them with their announced
 * flags. When the relay says we are not in a group we had not left, we were removed (while
 * offline, or just now): that is recorded (departure.ts). Listed again after a departure: an
 * admin added us back at the relay.
 */
export async function refreshMembers(acct: Account, relay: RelayClient, chat: number): Promise<void> {
  let r;
  try {
    r = await relay.request<"list_members">({ t: "list_members", chat });
  } catch (e) {
    if (e instanceof RemoteError && (e.code === "CHAT_UNKNOWN" || e.code === "NOT_A_MEMBER")) {
      acct.store.members.set(chat, []);
      noteDeparture(acct, chat, "removed", null);
      return;
    }
    throw e;
  }
  if (acct.store.chats.get(chat)?.departure != null) recordRejoin(acct.store, chat);
  const accepted = acceptedState(acct.store, chat);
  acct.store.members.set(
    chat,
    r.members.map((m) => ({
      username: m.username,
      role: m.role,
      announced: accepted?.members.includes(m.username) ?? false,
    })),
  );
}

/**
 * Members of the accepted state the relay no longer lists (§15.4.3 departed: they left, and no
 * admin has signed a state without them yet) that were not reported before: each is reported
 * once, as the relay's `left` chat event, into the journal (so `listen` shows it) and returned.
 * Call after refreshMembers, outside a frame's processing (a state that removes them may be
 * waiting in the same sync: only once it is applied does "left" not mean "removed").
 */
export function reportGone(acct: Account, chat: number): ChatEventEvent[] {
  const { store } = acct;
  return store.transaction(() => {
    const accepted = acceptedState(store, chat);
    if (!accepted || store.chats.get(chat)?.departure != null) return [];
    const gone = store.groupStates.getGone(chat);
    const fresh = reconcile(accepted, relayMembers(store, chat)).departed.filter(
      (u) => u !== acct.username && !gone.includes(u),
    );
    if (fresh.length === 0) return [];
    store.groupStates.setGone(chat, [...gone, ...fresh]);
    const events = fresh.map((u): ChatEventEvent => ({ type: "chat_event", chat, event: "left", user: u, by: u }));
    for (const e of events) store.journal.append(JSON.stringify(e));
    return events;
  });
}

/**
 * The `sender` column of a pending sender key (store.groupStates pending_sender_keys, kept per
 * sender DEVICE, SECURITY.md §17.5): the username for device 1, as before §17, and
 * `username/device` for any other (a username never holds `/`, §14.5, so neither can be taken
 * for the other).
 */
export function pendingSender(user: string, device: number): string {
  return device === 1 ? user : `${user}/${device}`;
}

/** The (user, device) a pendingSender value names. */
export function parsePendingSender(s: string): { user: string; device: number } {
  const i = s.indexOf("/");
  return i < 0 ? { user: s, device: 1 } : { user: s.slice(0, i), device: Number(s.slice(i + 1)) };
}
