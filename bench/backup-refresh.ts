/**
 * What keeping the passphrase backup current (client/engine/backup-refresh.ts, SECURITY.md
 * §18.6 "Update") costs a command: the CPU time (user + sys, process.cpuUsage) of one
 * refreshBackup on a profile of realistic size, when the state is unchanged (the snapshot is
 * built and its digest compared: what every online command pays) and when it changed (re-sealed
 * and staged: answered by a stub relay, so only this process's work is measured).
 *
 *   npm run build && node dist/bench/backup-refresh.js [--contacts 200] [--chats 200] [--messages 20000] [--runs 200]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { utf8 } from "../crypto/bytes.js";
import { encodeIdentityPublic, generateIdentity } from "../crypto/identity.js";
import { seededRng } from "../crypto/rng.js";
import { buildAccountState } from "../client/engine/account-state-snapshot.js";
import { refreshBackup } from "../client/engine/backup-refresh.js";
import { ClientStore } from "../client/store/client-store.js";
import { median } from "./median.js";

const argv = process.argv.slice(2);
const arg = (name: string, dflt: number) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : dflt;
};
const CONTACTS = arg("contacts", 200);
const CHATS = arg("chats", 200);
const MESSAGES = arg("messages", 20_000);
const RUNS = arg("runs", 200);

const rng = seededRng(utf8("bench backup refresh"));
const dir = mkdtempSync(join(tmpdir(), "smsg-bench-backup-"));
const store = ClientStore.open(dir, rng(32), { rng });
const me = generateIdentity(rng);
store.account.set({
  relayHost: "127.0.0.1",
  relayPort: 1,
  relayKey: rng(32),
  username: "alice",
  displayName: "Alice",
  credential: rng(32),
  signingSeed: me.signing.privateKey.slice(0, 32),
  dhPrivate: me.dh.privateKey,
});
store.transaction(() => {
  for (let i = 0; i < CONTACTS; i++)
    store.contacts.pin(`contact${i}`, encodeIdentityPublic(generateIdentity(rng).publicKey));
  for (let c = 1; c <= CHATS; c++)
    store.chats.upsert({ id: c, kind: "direct", peer: `contact${(c - 1) % CONTACTS}`, myRole: "member" });
  for (let m = 0; m < MESSAGES; m++)
    store.messages.insert({
      chatId: (m % CHATS) + 1,
      relayMsgId: m + 1,
      sender: `contact${m % CONTACTS}`,
      sentAt: m,
      body: "a message of about fifty characters, as chats go..",
      direction: "in",
      status: "delivered",
    });
});
store.account.setBackupMaterial({
  backupKey: rng(32),
  salt: rng(16),
  t: 3,
  memKiB: 262144,
  loginPublic: rng(32),
  digest: new Uint8Array(32),
});
const acct = { store, rng, relayKey: rng(32), username: "alice" };
let requests = 0;
const relay = {
  request: (async () => {
    requests++;
    return { t: "ok" };
  }) as never,
};

async function cpuMs(fn: () => Promise<unknown>): Promise<number> {
  const before = process.cpuUsage();
  await fn();
  const d = process.cpuUsage(before);
  return (d.user + d.system) / 1000;
}

async function main() {
  // The first refresh seals (the stored digest is zeros); afterwards the state is unchanged.
  await refreshBackup(acct, relay);
  const unchanged: number[] = [];
  const changed: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    requests = 0;
    unchanged.push(await cpuMs(() => refreshBackup(acct, relay)));
    if (requests !== 0) throw new Error("an unchanged state sent requests");
    store.account.setDisplayName(`Alice ${i}`);
    changed.push(await cpuMs(() => refreshBackup(acct, relay)));
  }
  const bytes = buildAccountState(store).bytes.length;
  console.log(
    JSON.stringify({
      contacts: CONTACTS,
      chats: CHATS,
      messages: MESSAGES,
      runs: RUNS,
      snapshot_bytes: bytes,
      unchanged_cpu_ms_median: +median(unchanged).toFixed(3),
      changed_cpu_ms_median: +median(changed).toFixed(3),
    }),
  );
  store.close();
  rmSync(dir, { recursive: true, force: true });
}

void main();
