/**
 * Helpers shared by the store suites: table reset, fixtures, and a search of every stored
 * byte for a given byte string (to show what the relay does and does not keep).
 */
import { createHash, randomBytes } from "node:crypto";
import type { Db } from "../../../relay/store/db.js";
import type { RelayStore } from "../../../relay/store/relay-store.js";
import type { Account, OneTimePrekey, SignedPrekey } from "../../../relay/store/types.js";

/** What a suite needs: the driver under test and a store over it. */
export interface Harness {
  readonly db: Db;
  readonly store: RelayStore;
  /** What checkDurability must report on this server ([] when omitted). */
  readonly durabilityOff?: readonly string[];
}

/** Every table of the schema except schema_migrations. */
const TABLES = [
  "message_copies",
  "device_cursors",
  "device_mailboxes",
  "messages",
  "chat_members",
  "chats",
  "one_time_prekeys",
  "signed_prekeys",
  "admin_tokens",
  "invites",
  "accounts",
];

/** Empties every table and restarts every id sequence, so each test starts from id 1. */
export async function resetTables(db: Db): Promise<void> {
  await db.exec(`TRUNCATE ${TABLES.join(", ")} RESTART IDENTITY CASCADE`);
}

export function bytes(n: number, fill?: number): Uint8Array {
  return fill === undefined ? new Uint8Array(randomBytes(n)) : new Uint8Array(n).fill(fill);
}

export function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(data).digest());
}

export function signedPrekey(keyId: number): SignedPrekey {
  return { keyId, publicKey: bytes(32), signature: bytes(64) };
}

export function oneTimePrekeys(fromId: number, count: number): OneTimePrekey[] {
  return Array.from({ length: count }, (_, i) => ({ keyId: fromId + i, publicKey: bytes(32) }));
}

export const T0 = new Date("2030-01-01T00:00:00.000Z");

export function at(msAfterT0: number): Date {
  return new Date(T0.getTime() + msAfterT0);
}

/** Creates an account through a fresh single-use invite; fails the test if that is refused. */
export async function makeAccount(
  store: RelayStore,
  username: string,
  options: { opks?: number; credential?: Uint8Array; now?: Date } = {},
): Promise<Account> {
  const code = bytes(32);
  await store.createInvite({ codeHash: sha256(code), uses: 1, expiresAt: null, grantsAdmin: false, createdBy: null });
  const result = await store.createAccountWithInvite({
    inviteCodeHash: sha256(code),
    username,
    credentialHash: sha256(options.credential ?? bytes(32)),
    identity: bytes(128),
    signedPrekey: signedPrekey(1),
    oneTimePrekeys: oneTimePrekeys(100, options.opks ?? 0),
    now: options.now ?? T0,
  });
  if (!result.ok) throw new Error(`makeAccount(${username}) refused: ${result.reason}`);
  return result.account;
}

/**
 * Every "table.column" (bytea or text, in the current schema) holding `needle` anywhere in
 * some row. An empty list means the bytes are stored nowhere.
 */
export async function searchAllTablesFor(db: Db, needle: Uint8Array): Promise<string[]> {
  const columns = await db.query<{ table_name: string; column_name: string; data_type: string }>(
    `SELECT table_name, column_name, data_type FROM information_schema.columns
      WHERE table_schema = current_schema() AND data_type IN ('bytea', 'text')
      ORDER BY table_name, column_name`,
  );
  const hits: string[] = [];
  for (const c of columns) {
    const column = `"${c.column_name}"`;
    const value = c.data_type === "text" ? `convert_to(${column}, 'UTF8')` : column;
    const rows = await db.query<{ found: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM "${c.table_name}" WHERE position($1::bytea IN ${value}) > 0) AS found`,
      [needle],
    );
    if (rows[0]?.found === true) hits.push(`${c.table_name}.${c.column_name}`);
  }
  return hits;
}

/** Row count of a table. */
export async function countRows(db: Db, table: string): Promise<number> {
  const rows = await db.query<{ n: number | bigint }>(`SELECT count(*) AS n FROM ${table}`);
  return Number(rows[0]?.n ?? -1);
}
