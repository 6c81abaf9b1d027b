/**
 * Passphrase log-in on a real relay and PostgreSQL (SECURITY.md §18.5, §18.6): decoys for names
 * without a record, setting and its refusals, the login proof bound to one connection, the
 * backup read back, removal, and what a connection may send after a passphrase_login. The relay
 * never derives from a passphrase: it checks a signature against a stored Ed25519 key, so these
 * tests use a random login key (the schedule of §18.2 is crypto/'s, tested there).
 *
 * Failed logins count against the remote address (§14.7), so each test connects from its own
 * 127.0.0.x address.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { makeLoginProof } from "../../crypto/login-proof.js";
import { PASSPHRASE_ARGON2, PASSPHRASE_ARGON2_MAX } from "../../crypto/passphrase-kdf.js";
import { type Ed25519KeyPair, ed25519FromSeed } from "../../crypto/primitives.js";
import type { RelayMessage, RelayMessageOf } from "../../src/wire/index.js";
import { type TestRelay, type TestUser, joinUser, startRelay } from "./harness.js";
import { deleteAccount } from "../../relay/store/account-admin.js";
import { deviceKeys, registerDevice, signedList } from "./device-keys.js";
import { RawClient } from "./raw-client.js";

let r: TestRelay;
let alice: TestUser;
let bob: TestUser;

beforeAll(async () => {
  r = await startRelay();
  alice = await joinUser(r, "alice");
  bob = await joinUser(r, "bob");
}, 60_000);
afterAll(async () => {
  await r?.stop();
});

let host = 10;
/** A loopback address no other test used: its own login backoff. */
const freshAddress = () => `127.0.1.${host++}`;

const loginKey = (): Ed25519KeyPair => ed25519FromSeed(new Uint8Array(randomBytes(32)));
/** Bytes the relay takes as a backup: format byte 1, then opaque bytes (it never opens one). */
const fakeBackup = (size: number): Uint8Array => {
  const b = new Uint8Array(randomBytes(size));
  b[0] = 1;
  return b;
};

async function loggedIn(u: TestUser, localAddress = freshAddress()): Promise<RawClient> {
  const c = await RawClient.ready(r, { localAddress });
  await c.loginAs(u);
  return c;
}

async function salt(username: string, localAddress = freshAddress()): Promise<RelayMessage> {
  const c = await RawClient.ready(r, { localAddress });
  try {
    return await c.request<"passphrase_salt">({ t: "passphrase_salt", username });
  } finally {
    c.close();
  }
}

interface SetRequest {
  salt: Uint8Array;
  t_cost: number;
  mem_kib: number;
  login_public: Uint8Array;
  size: number;
}

/** Stages `backup` in pieces of `piece` bytes and sends passphrase_set; the set's reply. */
async function setPassphrase(
  c: RawClient,
  backup: Uint8Array,
  over: Partial<SetRequest> = {},
  piece = 20_000,
): Promise<RelayMessage> {
  for (let off = 0; off < backup.length; off += piece) {
    const put = await c.request<"backup_put">({ t: "backup_put", offset: off, data: backup.slice(off, off + piece) });
    expect(put).toMatchObject({ t: "ok" });
  }
  return c.request<"passphrase_set">({
    t: "passphrase_set",
    salt: new Uint8Array(randomBytes(16)),
    t_cost: PASSPHRASE_ARGON2.t,
    mem_kib: PASSPHRASE_ARGON2.memKiB,
    login_public: loginKey().publicKey,
    size: backup.length,
    ...over,
  });
}

function passphraseLogin(c: RawClient, username: string, key: Ed25519KeyPair, hash = c.handshakeHash) {
  return c.request<"passphrase_login">({
    t: "passphrase_login",
    username,
    proof: makeLoginProof(key.privateKey, hash, username),
  });
}

const expectError = (m: RelayMessage, code: string) => expect(m).toMatchObject({ t: "error", code });

describe("decoys (§18.5)", () => {
  test("a name without an account and one without a passphrase get stable answers of the real shape", async () => {
    const unknown1 = (await salt("nobody")) as RelayMessageOf<"passphrase_params">;
    const unknown2 = (await salt("nobody")) as RelayMessageOf<"passphrase_params">;
    const bob1 = (await salt("bob")) as RelayMessageOf<"passphrase_params">;
    const bob2 = (await salt("bob")) as RelayMessageOf<"passphrase_params">;
    for (const m of [unknown1, bob1])
      expect(m).toMatchObject({ t: "passphrase_params", t_cost: 3, mem_kib: 262144, salt: expect.any(Uint8Array) });
    expect(unknown1.salt).toHaveLength(16);
    expect(unknown2.salt).toEqual(unknown1.salt);
    expect(bob2.salt).toEqual(bob1.salt);
    expect(bob1.salt).not.toEqual(unknown1.salt);
  });

  test("a second relay on the same database answers the same decoys", async () => {
    const first = (await salt("carol-nobody")) as RelayMessageOf<"passphrase_params">;
    const second = await startRelay({ db: r.db });
    try {
      const c = await RawClient.ready(second, { localAddress: freshAddress() });
      const m = (await c.request<"passphrase_salt">({
        t: "passphrase_salt",
        username: "carol-nobody",
      })) as RelayMessageOf<"passphrase_params">;
      expect(m.salt).toEqual(first.salt);
      c.close();
    } finally {
      await second.stop();
    }
  });

  test("a proof for a name without a record fails like a wrong passphrase", async () => {
    const c = await RawClient.ready(r, { localAddress: freshAddress() });
    expect(await passphraseLogin(c, "nobody", loginKey())).toMatchObject({
      t: "error",
      code: "AUTH_FAILED",
      message: "login failed",
    });
    expect(await passphraseLogin(c, "bob", loginKey())).toMatchObject({
      t: "error",
      code: "AUTH_FAILED",
      message: "login failed",
    });
    c.close();
  });

  test("passphrase_salt is limited per remote address like bundle fetches: more connections buy nothing", async () => {
    const address = freshAddress();
    const conns = [
      await RawClient.ready(r, { localAddress: address }),
      await RawClient.ready(r, { localAddress: address }),
    ];
    const burst = r.relay.ctx.config.limits.bundleBurst;
    const replies: RelayMessage[] = [];
    // Half the requests on each connection, one connection after the other.
    for (const [k, c] of conns.entries()) {
      const n = Math.ceil((burst + 5) / 2);
      for (let i = 1; i <= n; i++) c.send({ t: "passphrase_salt", id: k * 1000 + i, username: "nobody" });
      for (let i = 0; i < n; i++) replies.push(await c.next());
    }
    const limited = replies.filter((m) => m.t === "error" && m.code === "RATE_LIMITED").length;
    // A token may come back while the burst is read: at least a few of the last ones are refused.
    expect(limited).toBeGreaterThanOrEqual(3);
    expect(replies[0]).toMatchObject({ t: "passphrase_params" });
    // Another address has its own bucket.
    const other = await RawClient.ready(r, { localAddress: freshAddress() });
    other.send({ t: "passphrase_salt", id: 1, username: "nobody" });
    expect(await other.next()).toMatchObject({ t: "passphrase_params" });
    for (const c of [...conns, other]) c.close();
  });
});

describe("setting a passphrase (§18.6)", () => {
  test("refusals change nothing: parameters, key, size, format byte", async () => {
    const before = (await salt("alice")) as RelayMessageOf<"passphrase_params">;
    const c = await loggedIn(alice);
    const backup = fakeBackup(200);
    const smallOrder = new Uint8Array(32);
    smallOrder[0] = 1; // the identity point
    const nonCanonical = new Uint8Array(32).fill(0xff);
    nonCanonical[31] = 0x7f; // y = 2^255 − 1 ≥ p
    const cases: Partial<SetRequest>[] = [
      { t_cost: PASSPHRASE_ARGON2.t - 1 },
      { mem_kib: PASSPHRASE_ARGON2.memKiB - 1 },
      { t_cost: PASSPHRASE_ARGON2_MAX.t + 1 },
      { mem_kib: PASSPHRASE_ARGON2_MAX.memKiB + 1 },
      { login_public: smallOrder },
      { login_public: nonCanonical },
      { size: 201 },
      { size: 199 },
    ];
    // Staged once: a refused set keeps the staged bytes, as it keeps the record.
    const staged = await setPassphrase(c, backup, cases[0]);
    expectError(staged, "BAD_MESSAGE");
    for (const over of cases.slice(1)) {
      const refused = await c.request<"passphrase_set">({
        t: "passphrase_set",
        salt: new Uint8Array(16),
        t_cost: PASSPHRASE_ARGON2.t,
        mem_kib: PASSPHRASE_ARGON2.memKiB,
        login_public: loginKey().publicKey,
        size: backup.length,
        ...over,
      });
      expectError(refused, "BAD_MESSAGE");
    }
    const d = await loggedIn(alice);
    const wrongFormat = fakeBackup(200);
    wrongFormat[0] = 2;
    expectError(await setPassphrase(d, wrongFormat), "BAD_MESSAGE");
    d.close();
    const after = (await salt("alice")) as RelayMessageOf<"passphrase_params">;
    expect(after.salt).toEqual(before.salt);
    expect(await r.relay.store.db.query("SELECT 1 FROM passphrase_records")).toHaveLength(0);
    // The bytes staged before the refusals are still there: a valid set takes them.
    const good = new Uint8Array(randomBytes(16));
    expect(
      await c.request<"passphrase_set">({
        t: "passphrase_set",
        salt: good,
        t_cost: PASSPHRASE_ARGON2.t,
        mem_kib: PASSPHRASE_ARGON2.memKiB,
        login_public: loginKey().publicKey,
        size: backup.length,
      }),
    ).toMatchObject({ t: "ok" });
    expect(await salt("alice")).toMatchObject({ salt: good });
    c.close();
  });

  test("backup_put pieces must come in order and stay within 61513 bytes", async () => {
    const c = await loggedIn(alice);
    expectError(
      await c.request<"backup_put">({ t: "backup_put", offset: 1, data: new Uint8Array([1]) }),
      "BAD_MESSAGE",
    );
    expect(await c.request<"backup_put">({ t: "backup_put", offset: 0, data: fakeBackup(61_000) })).toMatchObject({
      t: "ok",
    });
    expectError(
      await c.request<"backup_put">({ t: "backup_put", offset: 61_000, data: new Uint8Array(514) }),
      "BAD_MESSAGE",
    );
    expect(await c.request<"backup_put">({ t: "backup_put", offset: 61_000, data: new Uint8Array(513) })).toMatchObject(
      { t: "ok" },
    );
    c.close();
  });

  test("set, then a new connection logs in with the proof and reads the same backup", async () => {
    const key = loginKey();
    const backup = fakeBackup(61_513);
    const saltBytes = new Uint8Array(randomBytes(16));
    const c = await loggedIn(alice);
    expect(await setPassphrase(c, backup, { login_public: key.publicKey, salt: saltBytes })).toMatchObject({ t: "ok" });
    c.close();

    expect(await salt("alice")).toMatchObject({ t: "passphrase_params", salt: saltBytes, t_cost: 3, mem_kib: 262144 });
    const n = await RawClient.ready(r, { localAddress: freshAddress() });
    expectError(await n.request<"backup_get">({ t: "backup_get", offset: 0 }), "NOT_AUTHENTICATED");
    const info = await passphraseLogin(n, "alice", key);
    expect(info).toMatchObject({ t: "backup_info", username: "alice", size: backup.length });
    const account = await r.relay.store.accountByUsername("alice");
    expect((info as RelayMessageOf<"backup_info">).identity).toEqual(account!.identity);
    const part = await n.request<"backup_get">({ t: "backup_get", offset: 0 });
    expect(part).toMatchObject({ t: "backup_part", offset: 0 });
    expect((part as RelayMessageOf<"backup_part">).data).toEqual(backup);
    const tail = await n.request<"backup_get">({ t: "backup_get", offset: 61_500 });
    expect((tail as RelayMessageOf<"backup_part">).data).toEqual(backup.slice(61_500));
    expectError(await n.request<"backup_get">({ t: "backup_get", offset: backup.length }), "BAD_MESSAGE");
    // Nothing but backup_get, the device registration and ping until a device registers.
    expectError(await n.request<"list_chats">({ t: "list_chats" }), "NOT_AUTHENTICATED");
    expectError(await n.request<"passphrase_remove">({ t: "passphrase_remove" }), "NOT_AUTHENTICATED");
    // It may read its own list with fetch_device_list; the versions question needs a logged-in device (§17.8).
    expectError(
      await n.request<"fetch_device_list_versions">({ t: "fetch_device_list_versions", usernames: ["alice"] }),
      "NOT_AUTHENTICATED",
    );
    expectError(
      await n.request<"register_device">({
        t: "register_device",
        username: "bob",
        device: 2,
        credential: new Uint8Array(32),
        identity: new Uint8Array(128),
        signed_prekey: { key_id: 1, public_key: new Uint8Array(32), signature: new Uint8Array(64) },
        one_time_prekeys: [],
        signature: new Uint8Array(64),
      }),
      "NOT_AUTHENTICATED",
    );
    n.send({ t: "ping", n: 7 });
    expect(await n.nextWhere((m) => m.t === "pong")).toMatchObject({ t: "pong", n: 7 });
    n.close();

    // A logged-in device that did not pass passphrase_login cannot read the backup.
    const d = await loggedIn(alice);
    expectError(await d.request<"backup_get">({ t: "backup_get", offset: 0 }), "NOT_AUTHENTICATED");
    d.close();
  });

  test("a proof made for another connection, a wrong key and a disabled account fail alike", async () => {
    const key = loginKey();
    const c = await loggedIn(bob);
    expect(await setPassphrase(c, fakeBackup(100), { login_public: key.publicKey })).toMatchObject({ t: "ok" });
    c.close();

    const other = await RawClient.ready(r, { localAddress: freshAddress() });
    const n = await RawClient.ready(r, { localAddress: freshAddress() });
    const relayed = await passphraseLogin(n, "bob", key, other.handshakeHash);
    expect(relayed).toMatchObject({ t: "error", code: "AUTH_FAILED", message: "login failed" });
    expect(await passphraseLogin(n, "bob", loginKey())).toMatchObject({ code: "AUTH_FAILED", message: "login failed" });
    other.close();

    await r.relay.store.setDisabled("bob", true);
    try {
      expect(await passphraseLogin(n, "bob", key)).toMatchObject({ code: "AUTH_FAILED", message: "login failed" });
    } finally {
      await r.relay.store.setDisabled("bob", false);
    }
    n.close();
    const m = await RawClient.ready(r, { localAddress: freshAddress() });
    expect(await passphraseLogin(m, "bob", key)).toMatchObject({ t: "backup_info", username: "bob", size: 100 });
    m.close();
  });

  test("remove: the name gets its decoy again and the old proof fails", async () => {
    const dave = await joinUser(r, "dave");
    const decoy = (await salt("dave")) as RelayMessageOf<"passphrase_params">;
    const key = loginKey();
    const c = await loggedIn(dave);
    expect(await setPassphrase(c, fakeBackup(80), { login_public: key.publicKey })).toMatchObject({ t: "ok" });
    expect(((await salt("dave")) as RelayMessageOf<"passphrase_params">).salt).not.toEqual(decoy.salt);
    expect(await c.request<"passphrase_remove">({ t: "passphrase_remove" })).toMatchObject({ t: "ok" });
    c.close();
    expect(((await salt("dave")) as RelayMessageOf<"passphrase_params">).salt).toEqual(decoy.salt);
    const n = await RawClient.ready(r, { localAddress: freshAddress() });
    expect(await passphraseLogin(n, "dave", key)).toMatchObject({ code: "AUTH_FAILED", message: "login failed" });
    n.close();
    dave.client.close();
  });

  test("deleting an account deletes its record: its name gets a decoy and the proof fails", async () => {
    const gina = await joinUser(r, "gina");
    const decoy = (await salt("gina")) as RelayMessageOf<"passphrase_params">;
    const key = loginKey();
    const c = await loggedIn(gina);
    expect(await setPassphrase(c, fakeBackup(75), { login_public: key.publicKey })).toMatchObject({ t: "ok" });
    c.close();
    gina.client.close();
    const account = await r.relay.store.accountByUsername("gina");
    await deleteAccount(r.db, account!.id, new Date());
    expect(((await salt("gina")) as RelayMessageOf<"passphrase_params">).salt).toEqual(decoy.salt);
    const n = await RawClient.ready(r, { localAddress: freshAddress() });
    expect(await passphraseLogin(n, "gina", key)).toMatchObject({ code: "AUTH_FAILED", message: "login failed" });
    n.close();
  });

  test("after a passphrase log-in: read the own list, publish one adding one device, register it, be logged in as it", async () => {
    const frank = await joinUser(r, "frank");
    const key = loginKey();
    const c = await loggedIn(frank);
    expect(await setPassphrase(c, fakeBackup(90), { login_public: key.publicKey })).toMatchObject({ t: "ok" });
    c.close();
    const n = await RawClient.ready(r, { localAddress: freshAddress() });
    expect(await passphraseLogin(n, "frank", key)).toMatchObject({ t: "backup_info" });
    const dev1 = { id: 1, identity: frank.identity.publicKey };
    const keys2 = deviceKeys("frank 2");
    const keys3 = deviceKeys("frank 3");
    const dev2 = { id: 2, identity: keys2.identity.publicKey };
    const dev3 = { id: 3, identity: keys3.identity.publicKey };
    // Adding two at once, or dropping device 1, is refused on such a connection: it holds no device.
    const publish = (list: Uint8Array) => n.request<"publish_device_list">({ t: "publish_device_list", list });
    const none = await n.request<"fetch_device_list">({ t: "fetch_device_list", username: "frank" });
    expect(none).toMatchObject({ t: "device_list", username: "frank" });
    expect((none as RelayMessageOf<"device_list">).list).toBeUndefined();
    expect((none as RelayMessageOf<"device_list">).highest).toBe(1);
    expectError(await publish(signedList(frank.identity, "frank", 1, [dev1, dev2, dev3])), "BAD_MESSAGE");
    expectError(await publish(signedList(frank.identity, "frank", 1, [dev2])), "BAD_MESSAGE");
    expect(await publish(signedList(frank.identity, "frank", 1, [dev1, dev2]))).toMatchObject({ t: "ok" });
    // The new device reads the list it must keep (§18.6): its own account's only.
    const fetched = await n.request<"fetch_device_list">({ t: "fetch_device_list", username: "frank" });
    expect(fetched).toMatchObject({ t: "device_list", username: "frank" });
    expect((fetched as RelayMessageOf<"device_list">).list).toEqual(
      signedList(frank.identity, "frank", 1, [dev1, dev2]),
    );
    expect((fetched as RelayMessageOf<"device_list">).seen).toBeUndefined();
    expect((fetched as RelayMessageOf<"device_list">).highest).toBe(2);
    expectError(
      await n.request<"fetch_device_list">({ t: "fetch_device_list", username: "alice" }),
      "NOT_AUTHENTICATED",
    );
    expect(await registerDevice(n, "frank", 2, keys2)).toMatchObject({ t: "joined", username: "frank" });
    // Now a device: it may do what devices do.
    expect(await n.request<"list_chats">({ t: "list_chats" })).toMatchObject({ t: "chats" });
    n.close();
    frank.client.close();
  });
});
