/**
 * The per-username bucket of failed passphrase log-ins (SECURITY.md §18.5), on a relay whose
 * clock the test moves: 10 failures empty it, then even the right proof gets RATE_LIMITED
 * without being verified; one attempt comes back every 2 hours; a success refills it. The
 * bucket is kept for unknown names alike, in the database (a second relay sees it).
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, expect, test } from "vitest";
import { makeLoginProof } from "../../crypto/login-proof.js";
import { PASSPHRASE_ARGON2 } from "../../crypto/passphrase-kdf.js";
import { type Ed25519KeyPair, ed25519FromSeed } from "../../crypto/primitives.js";
import type { RelayMessage } from "../../src/wire/index.js";
import { type TestRelay, joinUser, startRelay } from "./harness.js";
import { RawClient } from "./raw-client.js";

let clock = Date.now();
let r: TestRelay;

beforeAll(async () => {
  r = await startRelay({ now: () => clock });
}, 60_000);
afterAll(async () => {
  await r?.stop();
});

let host = 10;
/** Every attempt from its own address, so the per-address backoff (§14.7) never answers first. */
const freshAddress = () => `127.0.2.${host++}`;

async function attempt(relay: TestRelay, username: string, key: Ed25519KeyPair): Promise<RelayMessage> {
  const c = await RawClient.ready(relay, { localAddress: freshAddress() });
  try {
    return await c.request<"passphrase_login">({
      t: "passphrase_login",
      username,
      proof: makeLoginProof(key.privateKey, c.handshakeHash, username),
    });
  } finally {
    c.close();
  }
}

const randomKey = () => ed25519FromSeed(new Uint8Array(randomBytes(32)));
const TWO_HOURS = 2 * 3600_000;

test("10 failures empty the bucket; the right proof is then refused until a refill, and a success refills", async () => {
  const erin = await joinUser(r, "erin");
  const key = randomKey();
  const c = await RawClient.ready(r, { localAddress: freshAddress() });
  await c.loginAs(erin);
  const backup = new Uint8Array(100);
  backup[0] = 1;
  expect(await c.request<"backup_put">({ t: "backup_put", offset: 0, data: backup })).toMatchObject({ t: "ok" });
  expect(
    await c.request<"passphrase_set">({
      t: "passphrase_set",
      salt: new Uint8Array(16),
      t_cost: PASSPHRASE_ARGON2.t,
      mem_kib: PASSPHRASE_ARGON2.memKiB,
      login_public: key.publicKey,
      size: 100,
    }),
  ).toMatchObject({ t: "ok" });
  c.close();
  erin.client.close();

  for (let i = 0; i < 10; i++) expect(await attempt(r, "erin", randomKey())).toMatchObject({ code: "AUTH_FAILED" });
  expect(await attempt(r, "erin", key)).toMatchObject({ t: "error", code: "RATE_LIMITED" });
  clock += TWO_HOURS - 1000;
  expect(await attempt(r, "erin", key)).toMatchObject({ t: "error", code: "RATE_LIMITED" });
  clock += 1000;
  // One attempt came back: a wrong one spends it.
  expect(await attempt(r, "erin", randomKey())).toMatchObject({ code: "AUTH_FAILED" });
  expect(await attempt(r, "erin", key)).toMatchObject({ t: "error", code: "RATE_LIMITED" });
  clock += TWO_HOURS;
  expect(await attempt(r, "erin", key)).toMatchObject({ t: "backup_info", username: "erin" });
  // The success refilled it: 10 failures again before a refusal.
  for (let i = 0; i < 10; i++) expect(await attempt(r, "erin", randomKey())).toMatchObject({ code: "AUTH_FAILED" });
  expect(await attempt(r, "erin", key)).toMatchObject({ code: "RATE_LIMITED" });
}, 60_000);

test("an unknown name has a bucket too, kept in the database for every relay on it", async () => {
  for (let i = 0; i < 10; i++)
    expect(await attempt(r, "nobody-here", randomKey())).toMatchObject({ code: "AUTH_FAILED" });
  expect(await attempt(r, "nobody-here", randomKey())).toMatchObject({ code: "RATE_LIMITED" });
  const second = await startRelay({ db: r.db, now: () => clock });
  try {
    expect(await attempt(second, "nobody-here", randomKey())).toMatchObject({ code: "RATE_LIMITED" });
    expect(await attempt(second, "someone-else", randomKey())).toMatchObject({ code: "AUTH_FAILED" });
  } finally {
    await second.stop();
  }
  // A bucket refilled completely is dropped by the sweep: unknown names leave no rows behind.
  const rows = () => r.db.query("SELECT 1 FROM passphrase_failures WHERE username = 'nobody-here'");
  expect(await rows()).toHaveLength(1);
  clock += 10 * TWO_HOURS - 1000;
  await r.relay.sweep();
  expect(await rows()).toHaveLength(1);
  clock += 1000;
  await r.relay.sweep();
  expect(await rows()).toHaveLength(0);
  expect(await attempt(r, "nobody-here", randomKey())).toMatchObject({ code: "AUTH_FAILED" });
}, 60_000);
