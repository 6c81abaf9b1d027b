/**
 * Devices on the relay (SECURITY.md §17.8) against a real relay and PostgreSQL: logging in as a
 * device, publishing and fetching device lists (and every refusal changing nothing), registering
 * a listed device, per-device bundles and prekeys, removal (prekeys gone, connections closed,
 * DEVICE_REMOVED at login), device_list_changed reaching chat peers, and an account from before
 * §17 (no list) working as before. Lists are built with crypto/ and seeded keys.
 *
 * Every test connects from its own 127.0.0.x address: failed logins there never throttle the next.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { utf8 } from "../../crypto/bytes.js";
import { encodeIdentityPublic as encode, generateIdentity } from "../../crypto/identity.js";
import { seededRng } from "../../crypto/rng.js";
import type { RelayMessage, RelayMessageOf } from "../../src/wire/index.js";
import { type DeviceKeys, deviceKeys, loginDevice, registerDevice, signedList } from "./device-keys.js";
import { type TestRelay, type TestUser, joinUser, startRelay } from "./harness.js";
import { RawClient } from "./raw-client.js";

let r: TestRelay;

beforeAll(async () => {
  r = await startRelay();
}, 120_000);
afterAll(async () => {
  await r?.stop();
});

let host = 10;
/** A loopback address no other test used. */
const freshAddress = () => `127.0.1.${host++}`;
let n = 0;
/** A username no other test used. */
const fresh = (prefix: string) => `${prefix}${n++}x${randomBytes(3).toString("hex")}`;

const dev1 = (u: TestUser) => ({ id: 1, identity: u.identity.publicKey });

/** A raw connection logged in as `u`'s device `id` (1: the account key). */
async function as(u: TestUser, id = 1, keys?: DeviceKeys): Promise<RawClient> {
  const c = await RawClient.ready(r, { localAddress: freshAddress() });
  const reply = await loginDevice(c, u.username, id, keys?.credential ?? u.credential, keys?.identity ?? u.identity);
  expect(reply).toMatchObject({ t: "logged_in", username: u.username });
  return c;
}

function publish(c: RawClient, list: Uint8Array): Promise<RelayMessage> {
  return c.request<"publish_device_list">({ t: "publish_device_list", list });
}

async function fetchList(c: RawClient, username: string): Promise<RelayMessageOf<"device_list">> {
  const reply = await c.request<"fetch_device_list">({ t: "fetch_device_list", username });
  expect(reply.t).toBe("device_list");
  return reply as RelayMessageOf<"device_list">;
}

async function accountId(u: TestUser): Promise<number> {
  return (await r.relay.store.accountByUsername(u.username))!.id;
}

/** An account with device 1 and a registered device 2 (list version 2), and a connection of device 1. */
async function twoDevices(prefix: string) {
  const u = await joinUser(r, fresh(prefix));
  const d2 = deviceKeys(`${u.username} 2`);
  const c1 = await as(u);
  expect(await publish(c1, signedList(u.identity, u.username, 1, [dev1(u)]))).toMatchObject({ t: "ok" });
  const v2 = signedList(u.identity, u.username, 2, [dev1(u), { id: 2, identity: d2.identity.publicKey }]);
  expect(await publish(c1, v2)).toMatchObject({ t: "ok" });
  const reg = await RawClient.ready(r, { localAddress: freshAddress() });
  expect(await registerDevice(reg, u.username, 2, d2)).toMatchObject({ t: "joined", username: u.username });
  return { u, d2, c1, reg, v2 };
}

describe("an account from before §17 (no device list)", () => {
  test("logs in with and without device 1, has no list, and its bundle is device 1's", async () => {
    const u = await joinUser(r, fresh("old"));
    const c = await RawClient.ready(r, { localAddress: freshAddress() });
    expect(await loginDevice(c, u.username, undefined, u.credential, u.identity)).toMatchObject({ t: "logged_in" });
    await as(u, 1);
    const other = await joinUser(r, fresh("oldpeer"));
    const list = await fetchList(c, u.username);
    expect(list.list).toBeUndefined();
    expect(list.seen?.map((s) => s.device)).toEqual([1]);
    expect((await fetchList(c, other.username)).seen).toBeUndefined();
    const bundle = await c.request<"fetch_bundle">({ t: "fetch_bundle", username: other.username });
    expect(bundle).toMatchObject({ t: "bundle", device: 1, signed_prekey: { key_id: other.spk.id } });
    expect(await c.request<"fetch_bundle">({ t: "fetch_bundle", username: other.username, device: 2 })).toMatchObject({
      t: "error",
      code: "DEVICE_UNKNOWN",
    });
    // No device 2 to log in as: the same failure as a wrong credential.
    const c2 = await RawClient.ready(r, { localAddress: freshAddress() });
    expect(await loginDevice(c2, u.username, 2, u.credential, u.identity)).toMatchObject({ code: "AUTH_FAILED" });
    expect(await r.relay.store.currentDeviceIds(await accountId(u))).toEqual([1]);
  });
});

describe("logging in as a device", () => {
  test("device 2 logs in with its own key and credential, and with nothing else", async () => {
    const { u, d2 } = await twoDevices("login");
    const c2 = await as(u, 2, d2);
    expect((await c2.request<"fetch_device_list">({ t: "fetch_device_list", username: u.username })).t).toBe(
      "device_list",
    );
    const refused = async (id: number | undefined, credential: Uint8Array, signer: typeof d2.identity) => {
      const c = await RawClient.ready(r, { localAddress: freshAddress() });
      expect(await loginDevice(c, u.username, id, credential, signer)).toMatchObject({
        t: "error",
        code: "AUTH_FAILED",
      });
      c.close();
    };
    await refused(2, d2.credential, u.identity); // the account key is not device 2's key
    await refused(2, u.credential, d2.identity); // device 1's credential
    await refused(undefined, d2.credential, d2.identity); // absent device = device 1
    await refused(3, d2.credential, d2.identity); // never listed
  });

  test("seen reports when each device of the caller's own account was last seen", async () => {
    const { u, c1 } = await twoDevices("seen");
    const list = await fetchList(c1, u.username);
    expect(list.seen?.map((s) => s.device)).toEqual([1, 2]);
    for (const s of list.seen!) expect(s.at).toBeGreaterThan(Date.now() - 600_000);
  });
});

describe("publish_device_list", () => {
  test("every refusal changes nothing: forged, rolled back, equal version, non-account device 1, changed or returning ids", async () => {
    const { u, d2, c1, v2 } = await twoDevices("pub");
    const id = await accountId(u);
    const stranger = generateIdentity(seededRng(utf8(`stranger ${u.username}`)));
    const d3 = deviceKeys(`${u.username} 3`);
    const both = [dev1(u), { id: 2, identity: d2.identity.publicKey }];
    const cases: [string, Uint8Array, string][] = [
      ["signed by another key", signedList(stranger, u.username, 3, both), "BAD_MESSAGE"],
      ["certified by another key", signedList(u.identity, u.username, 3, both, { certifier: stranger }), "BAD_MESSAGE"],
      ["another account's name", signedList(u.identity, fresh("other"), 3, both), "BAD_MESSAGE"],
      ["rolled back", signedList(u.identity, u.username, 1, [dev1(u)]), "DEVICE_LIST_STALE"],
      ["equal version, other bytes", signedList(u.identity, u.username, 2, [dev1(u)]), "DEVICE_LIST_STALE"],
      ["the same list again", v2, "DEVICE_LIST_STALE"],
      [
        "device 1 is not the account key",
        signedList(u.identity, u.username, 3, [{ id: 1, identity: d3.identity.publicKey }]),
        "BAD_MESSAGE",
      ],
      [
        "device 2 with other keys",
        signedList(u.identity, u.username, 3, [dev1(u), { id: 2, identity: d3.identity.publicKey }]),
        "BAD_MESSAGE",
      ],
    ];
    for (const [what, list, code] of cases) {
      const reply = await publish(c1, list);
      expect(reply, what).toMatchObject({ t: "error", code });
      expect((await r.relay.store.deviceList(id))?.version, what).toBe(2);
      expect(Buffer.from((await fetchList(c1, u.username)).list!).equals(Buffer.from(v2)), what).toBe(true);
      expect(await r.relay.store.currentDeviceIds(id), what).toEqual([1, 2]);
    }
    expect(await r.relay.store.oneTimePrekeyCount(id, 2)).toBe(d2.opks.length);
  });

  test("highest: the caller's own account gets the highest id it ever listed, a removed one included; others get none", async () => {
    const u = await joinUser(r, fresh("highest"));
    const c1 = await as(u);
    expect((await fetchList(c1, u.username)).highest).toBe(1);
    const d2 = deviceKeys("highest 2");
    const v1 = signedList(u.identity, u.username, 1, [dev1(u), { id: 2, identity: d2.identity.publicKey }]);
    expect(await publish(c1, v1)).toMatchObject({ t: "ok" });
    expect(await publish(c1, signedList(u.identity, u.username, 2, [dev1(u)]))).toMatchObject({ t: "ok" });
    expect((await fetchList(c1, u.username)).highest).toBe(2);
    const other = await joinUser(r, fresh("highest2"));
    expect((await fetchList(await as(other), u.username)).highest).toBeUndefined();
  });

  test("an id that was removed, or one skipped below the highest, never comes back", async () => {
    const u = await joinUser(r, fresh("reuse"));
    const id = await accountId(u);
    const c1 = await as(u);
    const d2 = deviceKeys("reuse 2");
    const d4 = deviceKeys("reuse 4");
    const d3 = deviceKeys("reuse 3");
    // Device 4 is listed (ids may skip); device 2 is then removed.
    expect(
      await publish(
        c1,
        signedList(u.identity, u.username, 1, [
          dev1(u),
          { id: 2, identity: d2.identity.publicKey },
          { id: 4, identity: d4.identity.publicKey },
        ]),
      ),
    ).toMatchObject({ t: "ok" });
    const v2 = signedList(u.identity, u.username, 2, [dev1(u), { id: 4, identity: d4.identity.publicKey }]);
    expect(await publish(c1, v2)).toMatchObject({ t: "ok" });
    for (const [what, entry] of [
      ["removed device 2 with its own keys", { id: 2, identity: d2.identity.publicKey }],
      ["skipped id 3", { id: 3, identity: d3.identity.publicKey }],
    ] as const) {
      const list = signedList(u.identity, u.username, 3, [dev1(u), entry, { id: 4, identity: d4.identity.publicKey }]);
      expect(await publish(c1, list), what).toMatchObject({ t: "error", code: "BAD_MESSAGE" });
      expect((await r.relay.store.deviceList(id))?.version, what).toBe(2);
      expect(await r.relay.store.currentDeviceIds(id), what).toEqual([1, 4]);
    }
    // A new id above the highest may carry a removed device's keys (§17.4 step 6).
    expect(
      await publish(
        c1,
        signedList(u.identity, u.username, 3, [
          dev1(u),
          { id: 4, identity: d4.identity.publicKey },
          { id: 5, identity: d2.identity.publicKey },
        ]),
      ),
    ).toMatchObject({ t: "ok" });
    expect(await r.relay.store.currentDeviceIds(id)).toEqual([1, 4, 5]);
  });

  test("the first list of an account must hold device 1", async () => {
    const u = await joinUser(r, fresh("first"));
    const c1 = await as(u);
    const d2 = deviceKeys("first 2");
    const reply = await publish(
      c1,
      signedList(u.identity, u.username, 1, [{ id: 2, identity: d2.identity.publicKey }]),
    );
    expect(reply).toMatchObject({ t: "error", code: "BAD_MESSAGE" });
    expect(await r.relay.store.deviceList(await accountId(u))).toBeUndefined();
    expect(await r.relay.store.device(await accountId(u), 2)).toBeUndefined();
  });

  test("the store refuses a publishing device that is not listed, and an add-one change that is not one", async () => {
    const { u, d2, v2 } = await twoDevices("store");
    const id = await accountId(u);
    const d3 = deviceKeys("store 3");
    const entries = [dev1(u), { id: 2, identity: d2.identity.publicKey }, { id: 3, identity: d3.identity.publicKey }];
    const input = (devices: typeof entries, by: { device: number } | "add_one") => ({
      accountId: id,
      version: 3,
      list: signedList(u.identity, u.username, 3, devices),
      devices: devices.map((d) => ({ id: d.id, identity: encode(d.identity) })),
      by,
      now: new Date(),
    });
    expect(await r.relay.store.storeDeviceList(input(entries, { device: 7 }))).toEqual({
      ok: false,
      reason: "caller_not_listed",
    });
    expect(await r.relay.store.storeDeviceList(input(entries.slice(1), "add_one"))).toEqual({
      ok: false,
      reason: "not_add_one",
    });
    expect(await r.relay.store.storeDeviceList(input(entries.slice(0, 2), "add_one"))).toEqual({
      ok: false,
      reason: "not_add_one",
    });
    expect(Buffer.from((await r.relay.store.deviceList(id))!.list).equals(Buffer.from(v2))).toBe(true);
    expect(await r.relay.store.storeDeviceList(input(entries, "add_one"))).toEqual({
      ok: true,
      added: [3],
      removed: [],
    });
  });
});

describe("removing a device", () => {
  test("a removal that commits while a login of that device is under way still closes it", async () => {
    const { u, d2, c1 } = await twoDevices("rmrace");
    const id = await accountId(u);
    const store = r.relay.store;
    const read = store.device.bind(store);
    // The login reads the device row (not removed yet); the removal commits and closes the
    // connections presence holds (not this one yet); then the login adds itself to presence.
    let raced = false;
    store.device = async (accountId: number, device: number) => {
      const row = await read(accountId, device);
      if (!raced && accountId === id && device === 2) {
        raced = true;
        expect(await publish(c1, signedList(u.identity, u.username, 3, [dev1(u)]))).toMatchObject({ t: "ok" });
      }
      return row;
    };
    try {
      const c = await RawClient.ready(r, { localAddress: freshAddress() });
      expect(await loginDevice(c, u.username, 2, d2.credential, d2.identity)).toMatchObject({ code: "DEVICE_REMOVED" });
      await c.waitClosed();
    } finally {
      store.device = read;
    }
    expect(raced).toBe(true);
  });

  test("deletes its prekeys, closes its connection, and its login then gets DEVICE_REMOVED", async () => {
    const { u, d2, c1, reg } = await twoDevices("rm");
    const id = await accountId(u);
    const c2 = await as(u, 2, d2);
    expect(await r.relay.store.oneTimePrekeyCount(id, 2)).toBe(d2.opks.length);
    expect(await publish(c1, signedList(u.identity, u.username, 3, [dev1(u)]))).toMatchObject({ t: "ok" });
    await c2.expectClosedWith("DEVICE_REMOVED");
    await reg.expectClosedWith("DEVICE_REMOVED");
    expect(await r.relay.store.oneTimePrekeyCount(id, 2)).toBe(0);
    expect(await r.relay.store.takeBundle(id, 2)).toBeUndefined();
    expect((await r.relay.store.device(id, 2))?.removedAt).not.toBeNull();
    expect(await c1.request<"fetch_bundle">({ t: "fetch_bundle", username: u.username, device: 2 })).toMatchObject({
      t: "error",
      code: "DEVICE_UNKNOWN",
    });
    const again = await RawClient.ready(r, { localAddress: freshAddress() });
    expect(await loginDevice(again, u.username, 2, d2.credential, d2.identity)).toMatchObject({
      code: "DEVICE_REMOVED",
    });
    await again.waitClosed();
    // Without its credential, a removed device's login fails like any other.
    const wrong = await RawClient.ready(r, { localAddress: freshAddress() });
    expect(await loginDevice(wrong, u.username, 2, u.credential, d2.identity)).toMatchObject({ code: "AUTH_FAILED" });
    // Device 1 still works.
    expect(await fetchList(c1, u.username)).toMatchObject({ t: "device_list" });
  });

  test("a device may remove itself: it is answered, then closed", async () => {
    const { u, d2 } = await twoDevices("self");
    const c2 = await as(u, 2, d2);
    expect(await publish(c2, signedList(u.identity, u.username, 3, [dev1(u)]))).toMatchObject({ t: "ok" });
    await c2.expectClosedWith("DEVICE_REMOVED");
    expect(await r.relay.store.currentDeviceIds(await accountId(u))).toEqual([1]);
  });
});

describe("register_device", () => {
  test("only a listed device with exactly its listed identity registers; the rest are refused and store nothing", async () => {
    const u = await joinUser(r, fresh("reg"));
    const id = await accountId(u);
    const c1 = await as(u);
    const d2 = deviceKeys("reg 2");
    const other = deviceKeys("reg other");
    expect(
      await publish(c1, signedList(u.identity, u.username, 1, [dev1(u), { id: 2, identity: d2.identity.publicKey }])),
    ).toMatchObject({ t: "ok" });
    const attempt = async (
      name: string,
      device: number,
      keys: DeviceKeys,
      opts: Parameters<typeof registerDevice>[4] = {},
    ) => {
      const c = await RawClient.ready(r, { localAddress: freshAddress() });
      const reply = await registerDevice(c, name, device, keys, opts);
      c.close();
      return reply;
    };
    expect(await attempt(u.username, 2, other)).toMatchObject({ code: "DEVICE_UNKNOWN" }); // not the listed identity
    expect(await attempt(u.username, 3, d2)).toMatchObject({ code: "DEVICE_UNKNOWN" }); // not listed
    expect(await attempt(fresh("nobody"), 2, d2)).toMatchObject({ code: "DEVICE_UNKNOWN" }); // no such account
    expect(await attempt(u.username, 2, d2, { signer: other.identity })).toMatchObject({ code: "AUTH_FAILED" });
    expect((await r.relay.store.device(id, 2))?.credentialHash).toBeNull();
    expect(await r.relay.store.oneTimePrekeyCount(id, 2)).toBe(0);
    // The listed device registers, and the connection is logged in as it.
    const c2 = await RawClient.ready(r, { localAddress: freshAddress() });
    expect(await registerDevice(c2, u.username, 2, d2)).toMatchObject({ t: "joined", username: u.username });
    expect(c2.relaySide(r)?.account).toMatchObject({ id, device: 2 });
    expect(await r.relay.store.oneTimePrekeyCount(id, 2)).toBe(d2.opks.length);
    expect(await r.relay.store.oneTimePrekeyCount(id, 1)).toBe(u.opks.length);
    // A repeat with the same credential succeeds; with another one it is refused.
    expect(await attempt(u.username, 2, d2)).toMatchObject({ t: "joined" });
    expect(await attempt(u.username, 2, { ...d2, credential: new Uint8Array(32).fill(7) })).toMatchObject({
      code: "AUTH_FAILED",
    });
    await as(u, 2, d2);
  });
});

describe("prekeys per device", () => {
  test("fetch_bundle consumes the named device's one-time prekeys only, and names the device", async () => {
    const { u, d2, c1 } = await twoDevices("bundle");
    const id = await accountId(u);
    const fetcher = await as(await joinUser(r, fresh("fetcher")));
    for (let i = 0; i < 2; i++) {
      const b = await fetcher.request<"fetch_bundle">({ t: "fetch_bundle", username: u.username, device: 2 });
      expect(b).toMatchObject({ t: "bundle", device: 2, signed_prekey: { key_id: d2.spk.id } });
      const bundle = b as RelayMessageOf<"bundle">;
      expect(Buffer.from(bundle.identity).equals(Buffer.from(encode(d2.identity.publicKey)))).toBe(true);
      expect(bundle.one_time_prekey?.key_id).toBe(d2.opks[i]!.id);
    }
    expect(await r.relay.store.oneTimePrekeyCount(id, 2)).toBe(d2.opks.length - 2);
    expect(await r.relay.store.oneTimePrekeyCount(id, 1)).toBe(u.opks.length);
    const b1 = (await fetcher.request<"fetch_bundle">({
      t: "fetch_bundle",
      username: u.username,
    })) as RelayMessageOf<"bundle">;
    expect(b1.device).toBe(1);
    expect(Buffer.from(b1.identity).equals(Buffer.from(encode(u.identity.publicKey)))).toBe(true);
    expect(await r.relay.store.oneTimePrekeyCount(id, 1)).toBe(u.opks.length - 1);
    c1.close();
  });

  test("upload_prekeys stores the logged-in device's keys, signed by its own key", async () => {
    const { u, d2 } = await twoDevices("upload");
    const id = await accountId(u);
    const c2 = await as(u, 2, d2);
    const more = deviceKeys("upload more", 3, 100);
    const wrongSigner = {
      t: "upload_prekeys" as const,
      signed_prekey: { key_id: 9, public_key: more.spk.keyPair.publicKey, signature: more.spk.signature },
      one_time_prekeys: [],
    };
    expect(await c2.request<"upload_prekeys">(wrongSigner)).toMatchObject({ t: "error", code: "BAD_MESSAGE" });
    const reply = await c2.request<"upload_prekeys">({
      t: "upload_prekeys",
      one_time_prekeys: more.opks.map((k) => ({ key_id: k.id, public_key: k.keyPair.publicKey })),
    });
    expect(reply).toMatchObject({ t: "prekeys_stored", stock: d2.opks.length + 3 });
    expect(await r.relay.store.oneTimePrekeyCount(id, 1)).toBe(u.opks.length);
  });

  test("prekeys_low goes to the device that runs low", async () => {
    const u = await joinUser(r, fresh("low"), { opks: 50 });
    const c1 = await as(u);
    const d2 = deviceKeys("low 2", 0);
    expect(
      await publish(c1, signedList(u.identity, u.username, 1, [dev1(u), { id: 2, identity: d2.identity.publicKey }])),
    ).toMatchObject({ t: "ok" });
    const c2 = await RawClient.ready(r, { localAddress: freshAddress() });
    expect(await registerDevice(c2, u.username, 2, d2)).toMatchObject({ t: "joined" });
    const c2b = await as(u, 2, d2);
    expect(c2b.prekeysLow).toEqual([{ t: "prekeys_low", stock: 0 }]);
    expect(c1.prekeysLow).toEqual([]);
  });
});

describe("device_list_changed", () => {
  test("reaches the account's devices and its chat peers, and no one else", async () => {
    const { u, d2, c1 } = await twoDevices("push");
    const c2 = await as(u, 2, d2);
    const peer = await joinUser(r, fresh("peer"));
    const stranger = await joinUser(r, fresh("stranger"));
    await peer.client.request<"open_direct">({ t: "open_direct", username: u.username });
    const peerConn = await as(peer);
    const strangerConn = await as(stranger);
    const v3 = signedList(u.identity, u.username, 3, [
      dev1(u),
      { id: 2, identity: d2.identity.publicKey },
      { id: 3, identity: deviceKeys("push 3").identity.publicKey },
    ]);
    expect(await publish(c1, v3)).toMatchObject({ t: "ok" });
    const changed = (m: RelayMessage) => m.t === "device_list_changed";
    for (const c of [peerConn, c2, c1])
      expect(await c.nextWhere(changed)).toEqual({ t: "device_list_changed", username: u.username, version: 3 });
    // Had the stranger been told, the push would be written on its connection before the
    // peer's (one loop, in memory): it would then come before the answer to this ping.
    strangerConn.send({ t: "ping", n: 7 });
    expect(await strangerConn.nextWhere((m) => m.t === "pong" || changed(m))).toEqual({ t: "pong", n: 7 });
  });
});
