/**
 * A relay data folder made by the previous version (its data in PGlite, `<data>/db`, written
 * here with the PGlite driver that version used) moves into the embedded PostgreSQL on the
 * relay's first start: every row of every table is there afterwards with the same ids,
 * sequences continue after them, the old folder is kept as db.pglite-backup, and the folder is
 * marked as embedded. Operator commands refuse a folder not moved yet; `smsg relay migrate
 * --from-pglite` moves it without starting the relay.
 */
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, test } from "vitest";
import { CLI } from "../../../bench/relay-process.js";
import { createLogger } from "../../../relay/logger.js";
import { type OpenedStorage, openDatabase } from "../../../relay/open-database.js";
import { type Db, RelayStore, migrate, openPgliteDriver } from "../../../relay/store/index.js";
import { T0, bytes, makeAccount, signedPrekey } from "../store/harness.js";

const log = createLogger("silent");
const run = promisify(execFile);
const TABLES = [
  "accounts",
  "invites",
  "admin_tokens",
  "signed_prekeys",
  "one_time_prekeys",
  "chats",
  "chat_members",
  "messages",
];

/** Every row of every table, as comparable text (bytes as hex, dates as ISO). */
async function dump(db: Db): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const t of TABLES) {
    const rows = await db.query<Record<string, unknown>>(`SELECT * FROM ${t}`);
    out[t] = rows
      .map((r) =>
        JSON.stringify(r, (_k, v: unknown) =>
          v instanceof Uint8Array ? Buffer.from(v).toString("hex") : typeof v === "bigint" ? v.toString() : v,
        ),
      )
      .sort();
  }
  return out;
}

/** What an old relay left: accounts with prekeys, an admin invite, a direct and a group chat, queued messages. */
async function fillOldRelay(db: Db): Promise<void> {
  await migrate(db);
  const store = new RelayStore(db);
  const alice = await makeAccount(store, "alice", { opks: 5 });
  const bob = await makeAccount(store, "bob", { opks: 3 });
  const carol = await makeAccount(store, "carol", { opks: 0 });
  await store.createInvite({ codeHash: bytes(32), uses: 3, expiresAt: null, grantsAdmin: true, createdBy: alice.id });
  await store.putSignedPrekey(bob.id, signedPrekey(2), T0);
  const { chat } = await store.openDirectChat(alice.id, bob.id);
  const group = await store.createGroupChat(alice.id, [bob.id, carol.id]);
  const sends = Array.from({ length: 30 }, (_, i) => ({
    chatId: i % 2 ? chat.id : group.id,
    senderId: i % 3 ? alice.id : bob.id,
    recipientId: null,
    idem: bytes(16),
    envelope: bytes(100 + i),
  }));
  await store.insertMessages(sends, T0);
  await store.ackCursor(bob.id, chat.id, 2); // a member's read position moves too
}

describe("moving a PGlite relay folder into the embedded PostgreSQL", () => {
  test("every row kept with its id, sequences continue, backup kept, folder marked", async () => {
    const data = mkdtempSync(join(tmpdir(), "smsg-from-pglite-"));
    const old = await openPgliteDriver({ dataDir: join(data, "db") });
    await fillOldRelay(old);
    const before = await dump(old);
    await old.close();
    expect(before["messages"]).toHaveLength(30);

    let opened: OpenedStorage | undefined;
    try {
      opened = await openDatabase(
        {
          dataDir: data,
          databaseUrl: undefined,
          dbUser: process.env["SMSG_RELAY_DB_USER"],
          allowUnsafeDurability: false,
        },
        log,
        "serve",
      );
      expect(opened.kind).toBe("embedded");
      expect(await dump(opened.db)).toEqual(before);
      // Ids continue after the moved ones.
      const dave = await makeAccount(new RelayStore(opened.db), "dave");
      expect(dave.id).toBe(4);
    } finally {
      await opened?.close();
    }
    expect(existsSync(join(data, "db"))).toBe(false);
    expect(existsSync(join(data, "db.pglite-backup", "PG_VERSION"))).toBe(true);
    expect(JSON.parse(readFileSync(join(data, "storage.json"), "utf8"))).toEqual({ v: 1, storage: "embedded" });

    // The next start uses the embedded database and does not move anything again.
    const again = await openDatabase(
      {
        dataDir: data,
        databaseUrl: undefined,
        dbUser: process.env["SMSG_RELAY_DB_USER"],
        allowUnsafeDurability: false,
      },
      log,
      "serve",
    );
    try {
      expect((await dump(again.db))["accounts"]).toHaveLength(4);
    } finally {
      await again.close();
    }
  }, 120_000);

  test("operator commands refuse a folder that was not moved yet, and change nothing", async () => {
    const data = mkdtempSync(join(tmpdir(), "smsg-from-pglite-"));
    const old = await openPgliteDriver({ dataDir: join(data, "db") });
    await migrate(old);
    await old.close();
    await expect(
      openDatabase(
        {
          dataDir: data,
          databaseUrl: undefined,
          dbUser: process.env["SMSG_RELAY_DB_USER"],
          allowUnsafeDurability: true,
        },
        log,
        "operate",
      ),
    ).rejects.toThrow(`${data} holds the PGlite database of an earlier version: start the relay once`);
    expect(existsSync(join(data, "pg"))).toBe(false);
    expect(existsSync(join(data, "storage.json"))).toBe(false);

    // `smsg relay migrate --from-pglite` moves it; then operator commands work on it.
    const smsg = (...args: string[]) =>
      run(process.execPath, [CLI, "relay", ...args, "--data", data], {
        env: { ...process.env, SMSG_LOG_LEVEL: "silent" },
      });
    await smsg("migrate", "--from-pglite");
    expect(existsSync(join(data, "db.pglite-backup", "PG_VERSION"))).toBe(true);
    expect((await smsg("accounts")).stdout).toBe("no accounts\n");
    // Asked again, there is nothing left to move: a sentence, nothing changed.
    await expect(smsg("migrate", "--from-pglite")).rejects.toMatchObject({
      stderr: `smsg: there is no PGlite database to move in ${join(data, "db")}\n`,
    });
  }, 120_000);
});
