/**
 * Sessions per peer device against the device list (client/engine/sessions.ts; SECURITY.md
 * §17.4, §17.5): a session is used only with the key the account's accepted list certifies for
 * that device id, and an account key change resolved by the user drops the old account's list and
 * every session of its devices, so a device id reused under the new key is never encrypted to on
 * the old device's session (found in review: the new account's device 2 was reached on the old
 * device 2's session without a bundle being fetched).
 */
import { describe, expect, test } from "vitest";
import { utf8 } from "../../../crypto/bytes.js";
import { certifyDevice } from "../../../crypto/device-certificate.js";
import { signDeviceList } from "../../../crypto/device-list.js";
import { type IdentityKeyPair, encodeIdentityPublic, generateIdentity, identityKey } from "../../../crypto/identity.js";
import { generateSignedPrekey } from "../../../crypto/prekeys.js";
import { seededRng } from "../../../crypto/rng.js";
import { encodeSessionState } from "../../../crypto/session-codec.js";
import { initiateSession } from "../../../crypto/session.js";
import { UnlistedDeviceError } from "../../../client/engine/errors.js";
import type { Account } from "../../../client/engine/open-account.js";
import {
  acceptNewIdentity,
  encryptForPeer,
  ensureSession,
  safetyNumbersWith,
} from "../../../client/engine/sessions.js";
import type { RelayClient } from "../../../client/relay-client.js";
import type { ClientStore } from "../../../client/store/index.js";
import { openTestStore, tempDir } from "../store/helpers.js";

const rng = seededRng(utf8("sessions per peer device, test"));
const alice = generateIdentity(rng);
const bobOld = generateIdentity(rng);
const bobOldDevice2 = generateIdentity(rng);
const bobNew = generateIdentity(rng);
const bobNewDevice2 = generateIdentity(rng);

function listOf(account: IdentityKeyPair, version: number, devices: [number, IdentityKeyPair][]): Uint8Array {
  return signDeviceList(account, {
    username: "bob",
    version,
    issuedMs: 1_700_000_000_000 + version,
    devices: devices.map(([id, d]) => certifyDevice(account, "bob", id, d.publicKey)),
  });
}

/** A session of alice's with `device` as bob's device 2, stored as current. */
function sessionWith(store: ClientStore, device: IdentityKeyPair): void {
  const spk = generateSignedPrekey(rng, device, 1);
  const { session } = initiateSession(rng, alice, {
    identity: device.publicKey,
    signedPrekey: { id: 1, publicKey: spk.keyPair.publicKey, signature: spk.signature },
  });
  store.sessions.put("bob", session.baseKey, encodeSessionState(session), { makeCurrent: true, device: 2 });
}

/** A relay that must not be asked: ensureSession reaching it means it went for a new bundle. */
const noRelay = { request: () => Promise.reject(new Error("asked the relay for a bundle")) } as unknown as RelayClient;

function aliceWithBob(): { store: ClientStore; acct: Account } {
  const store = openTestStore(tempDir());
  const acct = {
    store,
    username: "alice",
    identity: alice,
    accountIdentity: alice.publicKey,
    rng,
  } as unknown as Account;
  store.contacts.pin("bob", encodeIdentityPublic(bobOld.publicKey));
  const offered = store.deviceLists.offer(
    { username: "bob", accountKey: identityKey(bobOld.publicKey) },
    listOf(bobOld, 1, [
      [1, bobOld],
      [2, bobOldDevice2],
    ]),
  );
  expect(offered.accepted).toBe(true);
  return { store, acct };
}

describe("sessions per device follow the device list", () => {
  test("a listed device's session is used as long as its key is the listed one", async () => {
    const { store, acct } = aliceWithBob();
    sessionWith(store, bobOldDevice2);
    expect(await ensureSession(acct, noRelay, "bob", 2)).toBe("existing");
    expect(encryptForPeer(acct, "bob", new Uint8Array([1]), 2).length).toBeGreaterThan(0);
  });

  test("a session with another key than the listed one is deleted, not used: a bundle is fetched", async () => {
    const { store, acct } = aliceWithBob();
    sessionWith(store, bobNewDevice2); // not the key bob's list certifies for device 2
    expect(() => encryptForPeer(acct, "bob", new Uint8Array([1]), 2)).toThrow(/not with the key its list certifies/);
    await expect(ensureSession(acct, noRelay, "bob", 2)).rejects.toThrow(/asked the relay for a bundle/);
    expect(store.sessions.list("bob", 2)).toEqual([]);
  });

  test("a device the list does not hold is neither asked for a bundle nor encrypted to", async () => {
    const { acct } = aliceWithBob();
    await expect(ensureSession(acct, noRelay, "bob", 3)).rejects.toBeInstanceOf(UnlistedDeviceError);
    expect(() => encryptForPeer(acct, "bob", new Uint8Array([1]), 3)).toThrow(UnlistedDeviceError);
  });

  test("accepting bob's new account key drops his old list and the old devices' sessions", async () => {
    const { store, acct } = aliceWithBob();
    sessionWith(store, bobOldDevice2);
    store.contacts.markChanged("bob", encodeIdentityPublic(bobNew.publicKey));
    acceptNewIdentity(store, "bob");
    expect(store.deviceLists.get("bob")).toBeUndefined();
    expect(store.sessions.devices("bob")).not.toContain(2);
    // The new account key's list reuses id 2 for another device: reached only through a new bundle.
    const offered = store.deviceLists.offer(
      { username: "bob", accountKey: identityKey(bobNew.publicKey) },
      listOf(bobNew, 1, [
        [1, bobNew],
        [2, bobNewDevice2],
      ]),
    );
    expect(offered.accepted).toBe(true);
    await expect(ensureSession(acct, noRelay, "bob", 2)).rejects.toThrow(/asked the relay for a bundle/);
    expect(() => encryptForPeer(acct, "bob", new Uint8Array([1]), 2)).toThrow(/no session/);
  });

  test("a list stored under another account key than the pinned one names no device", async () => {
    const { store, acct } = aliceWithBob();
    // Accepted under bobNew's key while bob's pinned key is still bobOld (a store written otherwise than by the key-change path).
    const offered = store.deviceLists.offer(
      { username: "bob", accountKey: identityKey(bobNew.publicKey) },
      listOf(bobNew, 1, [
        [1, bobNew],
        [2, bobNewDevice2],
      ]),
    );
    expect(offered.accepted).toBe(true);
    await expect(ensureSession(acct, noRelay, "bob", 2)).rejects.toBeInstanceOf(UnlistedDeviceError);
  });
});

describe("safety numbers on a device other than 1", () => {
  test("are the account's (§17.1): the same on every device of the account", () => {
    const { store, acct } = aliceWithBob();
    const device2 = generateIdentity(rng);
    const onDevice2 = { ...acct, identity: device2 } as Account;
    const bob = store.contacts.get("bob")!;
    expect(safetyNumbersWith(onDevice2, bob)).toEqual(safetyNumbersWith(acct, bob));
  });
});
