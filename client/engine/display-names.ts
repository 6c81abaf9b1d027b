/**
 * Taking a display name a contact announced (a `profile` application message, SECURITY.md
 * §15.2.4), the same in direct chats and groups. Inside the caller's store transaction.
 */
import type { ProfileMessage } from "../protocol/app-message.js";
import type { EngineEvent } from "./events.js";
import type { Account } from "./open-account.js";

/**
 * Stores `from`'s announced display name and reports it with a `profile` event when it differs
 * from the one stored. A name that came on a session whose key is not the pinned one
 * (`keyChanged`) is not taken: the relay may be impersonating the sender.
 */
export function takeDisplayName(
  acct: Account,
  from: string,
  app: ProfileMessage,
  keyChanged: boolean,
  events: EngineEvent[],
): void {
  if (keyChanged) return;
  const name = app.display_name === "" ? null : app.display_name;
  if ((acct.store.contacts.get(from)?.displayName ?? null) === name) return;
  acct.store.contacts.setDisplayName(from, name);
  events.push({ type: "profile", user: from, displayName: name });
}
