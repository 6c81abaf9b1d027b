/**
 * Who is online on this relay, and a cache of chat memberships and usernames, so delivery to
 * online recipients reads memory, not the database (docs/ARCHITECTURE.md §3.9).
 */
import type { ErrorCode } from "../src/errors.js";
import type { RelayMessage } from "../src/wire/index.js";
import type { RelayStore } from "./store/index.js";

/** What delivery needs to know of a chat member. */
export interface ChatMember {
  readonly accountId: number;
  /** The chat's newest message id when it joined: it is pushed only messages above it. */
  readonly sinceMessage: number;
}

/** What presence needs of a connection. */
export interface Pushable {
  readonly accountId: number | undefined;
  /** The account's device this connection is logged in as (SECURITY.md §17.8). */
  readonly deviceId: number | undefined;
  /** The connection speaks version 2: its hot frames go out compact (SECURITY.md §14.9). */
  readonly compact: boolean;
  /** Queues a frame of wire type `type` for the client; never throws (a dead connection drops it). */
  push(frame: Uint8Array, type: RelayMessage["t"]): void;
  /** Sends an error with `code` and closes. */
  fail(code: ErrorCode, message: string): void;
}

export class Presence {
  private readonly online = new Map<number, Set<Pushable>>();
  private readonly members = new Map<number, Promise<ChatMember[]>>();
  private readonly usernames = new Map<number, string>();
  /** Where each device's mailbox starts, by "account:device" (fixed while the device is current). */
  private readonly since = new Map<string, Promise<number | undefined>>();

  constructor(private readonly store: RelayStore) {}

  add(accountId: number, conn: Pushable, username: string): void {
    let set = this.online.get(accountId);
    if (!set) this.online.set(accountId, (set = new Set()));
    set.add(conn);
    this.usernames.set(accountId, username);
  }

  remove(accountId: number, conn: Pushable): void {
    const set = this.online.get(accountId);
    if (!set) return;
    set.delete(conn);
    if (set.size === 0) this.online.delete(accountId);
  }

  /** The accounts with a connection here. */
  onlineAccountIds(): number[] {
    return [...this.online.keys()];
  }

  connectionsOf(accountId: number): ReadonlySet<Pushable> | undefined {
    return this.online.get(accountId);
  }

  get onlineAccounts(): number {
    return this.online.size;
  }

  /** A chat's members (account id, and the message id they joined after), from memory after the first lookup. */
  membersOf(chatId: number): Promise<ChatMember[]> {
    let p = this.members.get(chatId);
    if (!p) {
      p = this.store
        .members(chatId)
        .then((ms) => ms.map((m) => ({ accountId: m.accountId, sinceMessage: m.sinceMessage })));
      this.members.set(chatId, p);
      p.catch(() => this.members.delete(chatId));
    }
    return p;
  }

  /** Forgets a chat's cached members (after a membership change here or on another relay). */
  invalidateChat(chatId: number): void {
    this.members.delete(chatId);
  }

  /**
   * The message id above which undirected messages are for this device (RelayStore.mailboxSince:
   * undefined when it is not a current device), from memory after the first lookup: it is set
   * when the device is first listed and never changes while it is listed.
   */
  mailboxSince(accountId: number, deviceId: number): Promise<number | undefined> {
    if (deviceId === 1) return Promise.resolve(0);
    const key = `${accountId}:${deviceId}`;
    let p = this.since.get(key);
    if (!p) {
      p = this.store.mailboxSince(accountId, deviceId);
      this.since.set(key, p);
      // Not cached while unknown or failed: a device may be listed after it was first asked about.
      p.then(
        (v) => v === undefined && this.since.delete(key),
        () => this.since.delete(key),
      );
    }
    return p;
  }

  /** An account's username, from memory after the first lookup. */
  async usernameOf(accountId: number): Promise<string> {
    const known = this.usernames.get(accountId);
    if (known !== undefined) return known;
    const account = await this.store.accountById(accountId);
    const name = account?.username ?? "unknown";
    if (account) this.usernames.set(accountId, name);
    return name;
  }
}
