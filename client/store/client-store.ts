/**
 * ClientStore: the client's local state in `<profile>/store.sqlite` (docs/ARCHITECTURE.md §4.1),
 * over better-sqlite3. Every SQL statement of the client lives in client/store/; callers use the
 * typed table objects:
 *
 * | property | table(s) | file |
 * |---|---|---|
 * | `account` | account | account.ts |
 * | `prekeys` | signed_prekeys, one_time_prekeys | prekeys.ts |
 * | `contacts` | contacts | contacts.ts |
 * | `sessions` | sessions, seen_prekey_messages | sessions.ts |
 * | `chats` | chats | chats.ts |
 * | `members` | chat_members | members.ts |
 * | `messages` | messages | messages.ts |
 * | `outbox` | outbox | outbox.ts |
 * | `senderKeys` | sender_keys | sender-keys.ts |
 * | `groupStates` | group_states, pending_sender_keys | group-states.ts |
 * | `deviceLists` | device_lists, device_info | device-lists.ts |
 * | `cursors` | cursors | cursors.ts |
 * | `journal` | event_journal | event-journal.ts |
 *
 * Secrets (private keys, credential, session and sender-key states, group states, message
 * bodies, chat names, display names) are sealed with the profile's data key (sealed.ts); the rest (usernames,
 * ids, times, public keys, envelopes that are already end-to-end encrypted) is plain, so the
 * store can index it. Someone holding the file without the key learns what the relay already
 * knows, plus when messages were stored.
 *
 * ## Transactions: one synchronous function
 *
 * better-sqlite3 is synchronous and so is all of crypto/, so "open the session, decrypt, store
 * the new state, store the message, move the cursor" is ONE synchronous function given to
 * `transaction`, committed at once or not at all. A crash (even SIGKILL) at any moment leaves
 * the ratchet and the history in step: never a session that advanced past a message that was
 * not stored, never a stored message whose session did not advance.
 *
 * ```ts
 * const { id } = store.transaction(() => {
 *   const s = store.sessions.get(peer, baseKey)!;
 *   const out = ratchetDecrypt(s.state, envelope);          // pure, sync
 *   store.sessions.put(peer, baseKey, out.newState);
 *   const m = store.messages.insert({ chatId, relayMsgId, sender: peer, sentAt, body: out.text,
 *                                     direction: "in", status: "delivered" });
 *   store.cursors.set(chatId, relayMsgId);
 *   return m;
 * });
 * relay.ack(chatId, relayMsgId);                              // after the commit
 * ```
 *
 * Never `await` inside: the function must not return a promise (better-sqlite3 refuses it).
 * Keep transactions short, and yield to the event loop between them (a loop of back-to-back
 * transactions, say while syncing a backlog, should `await` a timer every few): another
 * process (a running `smsg listen` next to a one-shot command) waits for the write lock up to
 * the busy timeout (5 s), and SQLite's busy handler polls, so a writer that re-takes the lock
 * at once can starve it. Every method that runs more than one statement opens its own
 * savepoint, so it is atomic alone and nests inside a caller's transaction.
 *
 * ## Concurrency and durability
 *
 * WAL journal (readers never block the writer), `busy_timeout` 5000 ms, BEGIN IMMEDIATE for
 * every transaction (a writer queues for the lock up front instead of failing when it upgrades
 * a read), `synchronous = FULL` (a commit is on disk before `transaction` returns, so an ack
 * sent after it can never lose a message to a power cut), foreign keys on, `secure_delete` on
 * (deleted rows are overwritten in the main file; old sealed versions may linger in the WAL
 * until the next checkpoint).
 */
import { chmodSync, closeSync, openSync } from "node:fs";
import { join } from "node:path";
import { bytesEqual, utf8 } from "../../crypto/bytes.js";
import type { Rng } from "../../crypto/rng.js";
import { CryptoVerificationError, InternalError } from "../../src/errors.js";
import { bufferedSystemRng, systemRng } from "../../src/system-rng.js";
import { STORE_FILE } from "../profile/paths.js";
import { AccountTable } from "./account.js";
import { ChatsTable } from "./chats.js";
import { ContactsTable } from "./contacts.js";
import { StoreContext } from "./context.js";
import { CursorsTable } from "./cursors.js";
import { EventJournalTable } from "./event-journal.js";
import { GroupStatesTable } from "./group-states.js";
import { StoreKeyMismatchError, StoreTooNewError } from "./errors.js";
import { MembersTable } from "./members.js";
import { MessagesTable } from "./messages.js";
import { migrate, schemaVersion } from "./migrate.js";
import { OutboxTable } from "./outbox.js";
import { PrekeysTable } from "./prekeys.js";
import { SCHEMA_VERSION } from "./schema.js";
import { Sealer } from "./sealed.js";
import { SenderKeysTable } from "./sender-keys.js";
import { SessionsTable } from "./sessions.js";
import { DeviceListsTable } from "./device-lists.js";
import { type Database, blob, openDatabase } from "./sqlite.js";
import type { ChatRecord } from "./types.js";

/** The busy timeout: how long a write waits for another process's transaction, in ms. */
export const BUSY_TIMEOUT_MS = 5000;

/** The plaintext of the key check row (meta 'key_check'). */
const KEY_CHECK = "SocketMessenger store key check v1";

/** Options of ClientStore.open. */
export interface ClientStoreOptions {
  /**
   * Where seal nonces come from; the system CSPRNG by default. The system's (systemRng, or
   * none given) is drawn from through a buffer (bufferedSystemRng, SECURITY.md §16.2); any other
   * (a test's seeded one) is used as it is.
   */
  readonly rng?: Rng;
  /** The clock for created_at / updated_at / stored_at, in ms; Date.now by default. */
  readonly now?: () => number;
  /** SQLite busy timeout in ms; BUSY_TIMEOUT_MS by default. */
  readonly busyTimeoutMs?: number;
}

/** Checks the key check row, creating it in a new store. Throws StoreKeyMismatchError. */
function checkDataKey(db: Database, sealer: Sealer): void {
  const read = (): Uint8Array | undefined => {
    const r = db.prepare("SELECT value FROM meta WHERE key = 'key_check'").get() as { value: Uint8Array } | undefined;
    return r && blob(r.value);
  };
  let sealed = read();
  if (sealed === undefined) {
    sealed = db
      .transaction(() => {
        const again = read();
        if (again) return again;
        const fresh = sealer.seal("meta", "value", ["key_check"], utf8(KEY_CHECK));
        db.prepare("INSERT INTO meta (key, value) VALUES ('key_check', ?)").run(fresh);
        return fresh;
      })
      .immediate();
  }
  try {
    if (!bytesEqual(sealer.open("meta", "value", ["key_check"], sealed), utf8(KEY_CHECK)))
      throw new StoreKeyMismatchError();
  } catch (err) {
    if (err instanceof CryptoVerificationError) throw new StoreKeyMismatchError();
    throw err;
  }
}

/**
 * The sender_keys rows under the sender names schema 1-3 reserved for group records, which are
 * never usernames: '' (the accepted state at key id 0, the holders record at key id 1) and
 * '?user' (user's pending sender key, at key id = its epoch). Oldest first.
 */
const RESERVED_SENDER_KEY_ROWS =
  "SELECT chat_id, sender, key_id FROM sender_keys WHERE sender = '' OR substr(sender, 1, 1) = '?' ORDER BY created_at, rowid";

/**
 * Moves the group records that schema 1-3 kept in sender_keys under reserved sender names
 * (RESERVED_SENDER_KEY_ROWS) into group_states and pending_sender_keys (migration 4), and deletes
 * the old rows. Migration 4's SQL cannot do it: each value is sealed to its row key, so it is
 * opened with the old one (through SenderKeysTable) and sealed again with the new one (through
 * GroupStatesTable). All in one transaction, once: a store without such rows (new, or already
 * moved) costs one read and writes nothing. A holders record without an accepted state (never
 * written) is dropped.
 */
function moveReservedGroupRows(ctx: StoreContext, senderKeys: SenderKeysTable, groupStates: GroupStatesTable): void {
  type Key = { chat_id: number; sender: string; key_id: number };
  const reserved = (): Key[] => ctx.stmt(RESERVED_SENDER_KEY_ROWS).all() as Key[];
  if (reserved().length === 0) return;
  ctx.tx(() => {
    const rows = reserved();
    const isState = (k: Key): boolean => k.sender === "" && k.key_id === 0;
    // States first: a holders record is stored beside its chat's state.
    for (const k of [...rows.filter(isState), ...rows.filter((k) => !isState(k))]) {
      const value = senderKeys.get(k.chat_id, k.sender, k.key_id)!.state;
      if (isState(k)) groupStates.putState(k.chat_id, value);
      else if (k.sender === "" && k.key_id === 1) {
        if (groupStates.getState(k.chat_id) !== undefined)
          groupStates.setHolders(k.chat_id, Buffer.from(value).toString("utf8"));
      } else if (k.sender !== "") groupStates.putPending(k.chat_id, k.sender.slice(1), k.key_id, value);
      senderKeys.delete(k.chat_id, k.sender, k.key_id);
    }
  });
}

/** The client's local store (see the file comment). Open one per process with `ClientStore.open`. */
export class ClientStore {
  /** The account row. */
  readonly account: AccountTable;
  /** Our signed and one-time prekeys. */
  readonly prekeys: PrekeysTable;
  /** Pinned contact identities. */
  readonly contacts: ContactsTable;
  /** Pairwise sessions and the first-message replay guard. */
  readonly sessions: SessionsTable;
  /** Chats. */
  readonly chats: ChatsTable;
  /** Chat members. */
  readonly members: MembersTable;
  /** Decrypted history. */
  readonly messages: MessagesTable;
  /** Envelopes waiting for the relay's acknowledgement. */
  readonly outbox: OutboxTable;
  /** Group sender keys. */
  readonly senderKeys: SenderKeysTable;
  /** Accepted group states, holders of our sender key, pending sender keys. */
  readonly groupStates: GroupStatesTable;
  /** Accepted device lists of every account we talk to, ours included (SECURITY.md §17.4). */
  readonly deviceLists: DeviceListsTable;
  /** Delivery cursors. */
  readonly cursors: CursorsTable;
  /** Events of stored incoming messages, for listeners in any process. */
  readonly journal: EventJournalTable;

  private closed = false;

  private constructor(
    private readonly db: Database,
    private readonly ctx: StoreContext,
    /** The database file. */
    readonly path: string,
  ) {
    this.account = new AccountTable(ctx);
    this.prekeys = new PrekeysTable(ctx);
    this.contacts = new ContactsTable(ctx);
    this.sessions = new SessionsTable(ctx);
    this.deviceLists = new DeviceListsTable(ctx);
    this.chats = new ChatsTable(ctx);
    this.members = new MembersTable(ctx);
    this.messages = new MessagesTable(ctx);
    this.outbox = new OutboxTable(ctx);
    this.senderKeys = new SenderKeysTable(ctx);
    this.groupStates = new GroupStatesTable(ctx);
    this.cursors = new CursorsTable(ctx);
    this.journal = new EventJournalTable(ctx);
  }

  /**
   * Opens (creating if needed) `<profileDir>/store.sqlite` in an existing profile folder
   * (client/profile/paths.ts ensureProfileDir) with `dataKey` (32 bytes, from
   * client/profile/keystore.ts; not kept: the store derives its subkeys and the caller may
   * wipe it). The file is created with mode 0600 (SQLite gives its -wal and -shm files the
   * same mode). Applies missing migrations, then moves group records a schema 1-3 store kept
   * in sender_keys (moveReservedGroupRows).
   * Throws StoreTooNewError when a newer client wrote the file, StoreKeyMismatchError when
   * `dataKey` is not the store's key, or SQLite's error (e.g. SQLITE_NOTADB for a damaged file).
   */
  static open(profileDir: string, dataKey: Uint8Array, opts: ClientStoreOptions = {}): ClientStore {
    const path = join(profileDir, STORE_FILE);
    closeSync(openSync(path, "a", 0o600));
    chmodSync(path, 0o600);
    const db = openDatabase(path, { timeout: opts.busyTimeoutMs ?? BUSY_TIMEOUT_MS });
    let sealer: Sealer | undefined;
    try {
      const mode = db.pragma("journal_mode = WAL", { simple: true });
      if (mode !== "wal") throw new InternalError(`SQLite refused WAL mode (${String(mode)})`);
      db.pragma("synchronous = FULL");
      db.pragma("foreign_keys = ON");
      db.pragma("secure_delete = ON");
      const found = schemaVersion(db);
      if (found > SCHEMA_VERSION) throw new StoreTooNewError(found, SCHEMA_VERSION);
      if (found < SCHEMA_VERSION) migrate(db);
      sealer = new Sealer(dataKey, opts.rng === undefined || opts.rng === systemRng ? bufferedSystemRng() : opts.rng);
      checkDataKey(db, sealer);
      const store = new ClientStore(db, new StoreContext(db, sealer, opts.now ?? Date.now), path);
      moveReservedGroupRows(store.ctx, store.senderKeys, store.groupStates);
      return store;
    } catch (err) {
      sealer?.destroy();
      db.close();
      throw err;
    }
  }

  /**
   * Runs `fn` in one transaction (BEGIN IMMEDIATE; a savepoint when nested) and returns its
   * result. If `fn` throws, everything it wrote is rolled back and the error rethrown. `fn` must
   * be synchronous (see the file comment).
   */
  transaction<T>(fn: () => T): T {
    return this.ctx.tx(fn);
  }

  /** True inside `transaction` (also false again when SQLite rolled a transaction back on its own, as after SQLITE_FULL). */
  get inTransaction(): boolean {
    return this.db.inTransaction;
  }

  /** The chat a CHAT argument names: an id, a name or a direct chat's peer (ChatsTable.resolve). */
  resolveChat(arg: string): ChatRecord {
    return this.chats.resolve(arg);
  }

  /** The schema version of the file (PRAGMA user_version). */
  schemaVersion(): number {
    return schemaVersion(this.db);
  }

  /**
   * A mark that moves whenever the store may have changed: SQLite's count of rows this
   * connection changed, and its data_version, which moves when another connection (another
   * process on the profile) commits. Reads nothing of the data: for a caller that does work
   * only after a change (client/engine/backup-refresh.ts).
   */
  changeMark(): string {
    const own = this.ctx.stmt("SELECT total_changes() AS n").get() as { n: number };
    return `${String(this.db.pragma("data_version", { simple: true }))}:${own.n}`;
  }

  /** True while the store is open. */
  get isOpen(): boolean {
    return !this.closed;
  }

  /** Wipes the subkeys and closes the connection. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ctx.sealer.destroy();
    this.db.close();
  }
}
