/**
 * RelayStore: the relay's storage as the handlers, fan-out and group commit see it
 * (docs/ARCHITECTURE.md §4.2). No SQL lives anywhere else in the relay; it lives in one
 * module per table or job, and this class binds them to one `Db`:
 *
 * | methods | table(s) | file |
 * |---|---|---|
 * | createAccountWithInvite, accountByUsername, accountById, listAccounts, setDisabled, countAccounts | accounts | accounts.ts |
 * | createInvite | invites | invites.ts |
 * | putSignedPrekey, addOneTimePrekeys, oneTimePrekeyCount, takeBundle | signed_prekeys, one_time_prekeys (per device) | prekeys.ts |
 * | deviceList(Versions), currentDeviceIds(Of), device(sOf), storeDeviceList, registerDevice, touchDeviceLastSeen | devices | devices.ts |
 * | chatPeersAmong | chat_members (who hears of a device list change) | chat-peers.ts |
 * | openDirectChat, createGroupChat, chatsOf, setClosed, chat | chats | chats.ts |
 * | addMember, removeMember, setRole, members, memberRole | chat_members | members.ts |
 * | ackCursor | chat_members.cursor (device 1), device_cursors | cursors.ts |
 * | setMailboxes, mailboxSince | device_mailboxes | mailboxes.ts |
 * | insertMessages | messages, message_copies (accepting sends) | sends.ts |
 * | pendingFor, pendingCount, fetchChatMessages, messagesByIds | messages, message_copies (reading) | inbox.ts |
 * | deleteDeliveredCopies, deleteDelivered, expireOlderThan | messages, message_copies (deleting) | retention.ts |
 *
 * The operator's account statements (listing with activity, promotion, deletion) are
 * functions over the `Db` in account-admin.ts. The same statements run on PostgreSQL and
 * PGlite through the `Db` interface.
 *
 * Conventions:
 * - Time is an argument (`now`, `cutoff`) wherever it changes behaviour, never read from a
 *   clock here, so tests control it.
 * - Expected refusals (an invalid invite, a taken username, a send to a closed chat) are typed
 *   results. Thrown errors mean a broken contract (`UsageError`) or a database failure (the
 *   driver's error, with its SQLSTATE in `code`).
 * - Ordering guarantee: message ids come from one global sequence and, within a chat, commit
 *   in id order: inserting into a chat holds a transaction-scoped advisory lock on the chat id
 *   until commit (chat-locks.ts). So a reader that has seen message N of a chat has seen every
 *   earlier message of that chat, and a cursor can never skip one that commits later.
 */
import * as accounts from "./accounts.js";
import { chatPeersAmong } from "./chat-peers.js";
import * as chats from "./chats.js";
import * as cursors from "./cursors.js";
import type { Db } from "./db.js";
import * as devices from "./devices.js";
import * as inbox from "./inbox.js";
import * as invites from "./invites.js";
import * as mailboxes from "./mailboxes.js";
import * as members from "./members.js";
import * as prekeys from "./prekeys.js";
import * as retention from "./retention.js";
import { insertMessages } from "./sends.js";
import type {
  Account,
  Chat,
  ChatWithMembers,
  CommittedMessage,
  CreateAccountResult,
  Device,
  InsertResult,
  Invite,
  Member,
  NewAccount,
  NewDeviceList,
  NewDeviceRegistration,
  NewInvite,
  NewSend,
  OneTimePrekey,
  PrekeyBundle,
  RegisterDeviceResult,
  Role,
  SignedPrekey,
  StoreDeviceListResult,
  StoredDeviceList,
  StoredMessage,
} from "./types.js";

export { nextPageAfter } from "./inbox.js";

/**
 * The relay's storage. Stateless apart from the `Db` it wraps; safe to share between all
 * connections of a relay, and between relays sharing one PostgreSQL. Each method is
 * documented where its SQL is (the file in the table above).
 */
export class RelayStore {
  constructor(readonly db: Db) {}

  // accounts.ts, invites.ts
  createAccountWithInvite(input: NewAccount): Promise<CreateAccountResult> {
    return accounts.createWithInvite(this.db, input);
  }
  createInvite(input: NewInvite): Promise<Invite> {
    return invites.create(this.db, input);
  }
  accountByUsername(username: string): Promise<Account | undefined> {
    return accounts.byUsername(this.db, username);
  }
  accountById(id: number): Promise<Account | undefined> {
    return accounts.byId(this.db, id);
  }
  listAccounts(): Promise<Account[]> {
    return accounts.list(this.db);
  }
  setDisabled(username: string, disabled: boolean): Promise<boolean> {
    return accounts.setDisabled(this.db, username, disabled);
  }
  countAccounts(): Promise<number> {
    return accounts.count(this.db);
  }

  // prekeys.ts: every method names the device (SECURITY.md §17.8); `deviceId` defaults to 1,
  // the only device of an account without a list.
  putSignedPrekey(accountId: number, prekey: SignedPrekey, now: Date, deviceId = 1): Promise<void> {
    return prekeys.putSigned(this.db, accountId, deviceId, prekey, now);
  }
  addOneTimePrekeys(accountId: number, keys: readonly OneTimePrekey[], deviceId = 1): Promise<number> {
    return prekeys.addOneTime(this.db, accountId, deviceId, keys);
  }
  oneTimePrekeyCount(accountId: number, deviceId = 1): Promise<number> {
    return prekeys.oneTimeCount(this.db, accountId, deviceId);
  }
  takeBundle(accountId: number, deviceId = 1): Promise<PrekeyBundle | undefined> {
    return prekeys.takeBundle(this.db, accountId, deviceId);
  }

  // devices.ts
  deviceList(accountId: number): Promise<StoredDeviceList | undefined> {
    return devices.currentList(this.db, accountId);
  }
  deviceListVersions(usernames: readonly string[]): Promise<number[]> {
    return devices.versionsByName(this.db, usernames);
  }
  currentDeviceIds(accountId: number): Promise<number[]> {
    return devices.currentIds(this.db, accountId);
  }
  currentDeviceIdsOf(accountIds: readonly number[]): Promise<Map<number, number[]>> {
    return devices.currentIdsOf(this.db, accountIds);
  }
  device(accountId: number, deviceId: number): Promise<Device | undefined> {
    return devices.byId(this.db, accountId, deviceId);
  }
  devicesOf(accountId: number): Promise<Device[]> {
    return devices.of(this.db, accountId);
  }
  storeDeviceList(input: NewDeviceList): Promise<StoreDeviceListResult> {
    return devices.store(this.db, input);
  }
  registerDevice(input: NewDeviceRegistration): Promise<RegisterDeviceResult> {
    return devices.register(this.db, input);
  }
  touchDeviceLastSeen(accountId: number, deviceId: number, now: Date): Promise<void> {
    return devices.touchLastSeen(this.db, accountId, deviceId, now);
  }
  chatPeersAmong(accountId: number, candidates: readonly number[]): Promise<number[]> {
    return chatPeersAmong(this.db, accountId, candidates);
  }

  // chats.ts
  openDirectChat(a: number, b: number): Promise<{ chat: ChatWithMembers; created: boolean }> {
    return chats.openDirect(this.db, a, b);
  }
  createGroupChat(creatorId: number, memberIds: readonly number[]): Promise<ChatWithMembers> {
    return chats.createGroup(this.db, creatorId, memberIds);
  }
  chatsOf(accountId: number): Promise<ChatWithMembers[]> {
    return chats.of(this.db, accountId);
  }
  setClosed(chatId: number, closed: boolean): Promise<boolean> {
    return chats.setClosed(this.db, chatId, closed);
  }
  chat(chatId: number): Promise<Chat | undefined> {
    return chats.byId(this.db, chatId);
  }

  // members.ts, cursors.ts
  addMember(chatId: number, accountId: number, role: Role): Promise<boolean> {
    return members.add(this.db, chatId, accountId, role);
  }
  removeMember(chatId: number, accountId: number): Promise<boolean> {
    return members.remove(this.db, chatId, accountId);
  }
  setRole(chatId: number, accountId: number, role: Role): Promise<boolean> {
    return members.setRole(this.db, chatId, accountId, role);
  }
  members(chatId: number): Promise<Member[]> {
    return members.list(this.db, chatId);
  }
  memberRole(chatId: number, accountId: number): Promise<Role | undefined> {
    return members.role(this.db, chatId, accountId);
  }
  ackCursor(accountId: number, chatId: number, upTo: number, device = 1): Promise<number | undefined> {
    return cursors.ack(this.db, accountId, chatId, upTo, device);
  }

  // mailboxes.ts (setMailboxes runs inside the transaction that stores a device list: mailboxes.ts)
  mailboxSince(accountId: number, device: number): Promise<number | undefined> {
    return mailboxes.mailboxSince(this.db, accountId, device);
  }

  // sends.ts
  insertMessages(batch: readonly NewSend[], now: Date): Promise<InsertResult[]> {
    return insertMessages(this.db, batch, now);
  }

  // inbox.ts
  pendingFor(
    accountId: number,
    page: { limit: number; afterByChat?: ReadonlyMap<number, number>; device?: number },
  ): Promise<StoredMessage[]> {
    return inbox.pendingFor(this.db, accountId, page);
  }
  pendingCount(accountId: number, afterByChat: ReadonlyMap<number, number>, cap: number, device = 1): Promise<number> {
    return inbox.pendingCount(this.db, accountId, afterByChat, cap, device);
  }
  fetchChatMessages(
    chatId: number,
    accountId: number,
    afterId: number,
    limit: number,
    device = 1,
  ): Promise<StoredMessage[]> {
    return inbox.chatHistory(this.db, chatId, accountId, afterId, limit, device);
  }
  messagesByIds(ids: readonly number[]): Promise<CommittedMessage[]> {
    return inbox.byIds(this.db, ids);
  }

  // retention.ts
  deleteDeliveredCopies(options: { createdBefore?: Date; limit?: number } = {}): Promise<number> {
    return retention.deleteDeliveredCopies(this.db, options);
  }
  deleteDelivered(options: { createdBefore?: Date; limit?: number } = {}): Promise<number> {
    return retention.deleteDelivered(this.db, options);
  }
  expireOlderThan(cutoff: Date, limit = 10_000): Promise<number> {
    return retention.expireOlderThan(this.db, cutoff, limit);
  }
}
