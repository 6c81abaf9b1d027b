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
import type { RelayClient } from "../../relay-client.js";
import type { ClientStore } from "../../store/index.js";
import type { Account } from "../open-account.js";

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
    if (state.name.trim() !== "") store.chats.setName(state.chat, state.name);
    for (const m of store.members.list(state.chat))
      store.members.setAnnounced(state.chat, m.username, state.members.includes(m.username));
  });
}

/** The relay's member list of a chat as last stored. */
export function relayMembers(store: ClientStore, chat: number): string[] {
  return store.members.list(chat).map((m) => m.username);
}

/** Reads the chat's members from the relay (list_members) and stores them with their announced flags. */
export async function refreshMembers(acct: Account, relay: RelayClient, chat: number): Promise<void> {
  let r;
  try {
    r = await relay.request<"list_members">({ t: "list_members", chat });
  } catch (e) {
    if (e instanceof RemoteError && (e.code === "CHAT_UNKNOWN" || e.code === "NOT_A_MEMBER")) {
      acct.store.members.set(chat, []);
      return;
    }
    throw e;
  }
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
