/**
 * Accepting sends in the relay's store alone (RelayStore.insertMessages, relay/store/sends.ts):
 * no network, transport or handlers, so what it times is the database work of one group-commit
 * batch (docs/ARCHITECTURE.md §3.8): the chat locks, the acceptance rule, the INSERT and the
 * durable COMMIT. For each batch size it reports the median time per batch and per send, for
 * the `messages` table with its three foreign keys (as up to migration 0003) and without them
 * (issue 13: the relay checks chat and membership itself under the chat lock), alternating the
 * two in the same run.
 *
 *   npm run build
 *   node dist/bench/store-sends.js [--database-url URL] [--sizes 1,4,16,64,256] [--seconds 2] [--rounds 3]
 *
 * Without --database-url it starts the relay's embedded PostgreSQL in a temporary folder (the
 * default storage); with it, the URL must name an empty database. The batch is all new sends
 * from --pairs direct chats (round robin), each a 162-byte envelope, as a saturated relay
 * commits them. It uses only RelayStore's methods, so the same file run from an older build
 * measures that build's send path.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "../relay/logger.js";
import { openDatabase } from "../relay/open-database.js";
import { type Db, type NewMessage, RelayStore } from "../relay/store/index.js";

const argv = process.argv.slice(2);
const arg = (name: string, dflt: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : dflt;
};
const SIZES = arg("sizes", "1,4,16,64,256").split(",").map(Number);
const SECONDS = Number(arg("seconds", "2"));
const ROUNDS = Number(arg("rounds", "3"));
const PAIRS = Number(arg("pairs", "50"));
const ENVELOPE_BYTES = 162;

/** The three foreign keys of `messages` as migrations/0001_init.sql declared them. */
const FOREIGN_KEYS = [
  "messages_chat_id_fkey FOREIGN KEY (chat_id) REFERENCES chats (id) ON DELETE CASCADE",
  "messages_sender_id_fkey FOREIGN KEY (sender_id) REFERENCES accounts (id)",
  "messages_recipient_id_fkey FOREIGN KEY (recipient_id) REFERENCES accounts (id)",
];

async function setForeignKeys(db: Db, on: boolean): Promise<void> {
  await db.exec("TRUNCATE messages");
  for (const fk of FOREIGN_KEYS) {
    await db.exec(`ALTER TABLE messages DROP CONSTRAINT IF EXISTS ${fk.split(" ")[0]!}`);
    if (on) await db.exec(`ALTER TABLE messages ADD CONSTRAINT ${fk}`);
  }
}

async function makeChats(store: RelayStore): Promise<{ chatId: number; sender: number; recipient: number }[]> {
  const now = new Date();
  const codeHash = randomBytes(32);
  await store.createInvite({ codeHash, uses: 2 * PAIRS, expiresAt: null, grantsAdmin: false, createdBy: null });
  const account = async (name: string) => {
    const made = await store.createAccountWithInvite({
      inviteCodeHash: codeHash,
      username: name,
      credentialHash: randomBytes(32),
      identity: randomBytes(128),
      signedPrekey: { keyId: 1, publicKey: randomBytes(32), signature: randomBytes(64) },
      oneTimePrekeys: [],
      now,
    });
    if (!made.ok) throw new Error(`cannot create ${name}: ${made.reason}`);
    return made.account.id;
  };
  const chats = [];
  for (let p = 0; p < PAIRS; p++) {
    const sender = await account(`s${p}`);
    const recipient = await account(`r${p}`);
    const { chat } = await store.openDirectChat(sender, recipient);
    chats.push({ chatId: chat.id, sender, recipient });
  }
  return chats;
}

/** Median ms per batch of `size` new sends, stored back to back for SECONDS. */
async function measure(store: RelayStore, chats: readonly { chatId: number; sender: number }[], size: number) {
  const envelope = randomBytes(ENVELOPE_BYTES);
  const times: number[] = [];
  let next = 0;
  const end = performance.now() + SECONDS * 1000;
  while (performance.now() < end || times.length < 5) {
    const batch: NewMessage[] = [];
    for (let i = 0; i < size; i++) {
      const c = chats[next++ % chats.length]!;
      batch.push({ chatId: c.chatId, senderId: c.sender, recipientId: null, idem: randomBytes(16), envelope });
    }
    const t0 = performance.now();
    const results = await store.insertMessages(batch, new Date());
    times.push(performance.now() - t0);
    if (!results.every((r) => r.ok && !r.duplicate)) throw new Error("a new send was not stored");
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

async function main() {
  const log = createLogger("warn");
  const url = arg("database-url", "");
  const dataDir = mkdtempSync(join(tmpdir(), "smsg-bench-store-"));
  const opened = await openDatabase(
    { dataDir, databaseUrl: url === "" ? undefined : url, allowUnsafeDurability: false },
    log,
    "serve",
  );
  try {
    const store = new RelayStore(opened.db);
    const chats = await makeChats(store);
    const rows: { size: number; foreignKeys: boolean; round: number; msPerBatch: number }[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      for (const size of SIZES) {
        for (const foreignKeys of round % 2 === 1 ? [true, false] : [false, true]) {
          await setForeignKeys(opened.db, foreignKeys);
          await measure(store, chats, size); // warm-up: plans, caches
          rows.push({ size, foreignKeys, round, msPerBatch: await measure(store, chats, size) });
        }
      }
    }
    const summary = [];
    for (const size of SIZES) {
      for (const foreignKeys of [true, false]) {
        const ms = rows
          .filter((r) => r.size === size && r.foreignKeys === foreignKeys)
          .map((r) => r.msPerBatch)
          .sort((a, b) => a - b);
        const median = ms[Math.floor(ms.length / 2)]!;
        summary.push({
          size,
          foreignKeys,
          msPerBatch: Number(median.toFixed(3)),
          usPerSend: Number(((median * 1000) / size).toFixed(1)),
          rounds: ms.map((m) => Number(m.toFixed(3))),
        });
      }
    }
    console.log(
      JSON.stringify({ storage: opened.description, node: process.version, seconds: SECONDS, summary }, null, 2),
    );
  } finally {
    await opened.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
