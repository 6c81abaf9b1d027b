/**
 * A new device's profile (client/engine/new-device.ts, SECURITY.md §17.1, §17.6, §18.6) and
 * the own list of a device-1 profile (own-device-list.ts). No relay: registering the device
 * is the relay's part (§17.8) and is tested with it.
 */
import { existsSync, readdirSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { utf8 } from "../../../crypto/bytes.js";
import { encodeIdentityPublic, generateIdentity, identityKey } from "../../../crypto/identity.js";
import { seededRng } from "../../../crypto/rng.js";
import { closeAccount, openLocalAccount } from "../../../client/engine/open-account.js";
import { createDeviceProfile } from "../../../client/engine/new-device.js";
import { AccountStateError, encodeAccountState } from "../../../client/protocol/account-state.js";
import { accountSignerOf, ensureOwnDeviceList, listAddingDevice } from "../../../client/engine/own-device-list.js";
import { ProfileExistsError } from "../../../client/profile/errors.js";
import { createProfile, openProfile } from "../../../client/profile/open.js";
import { CryptoVerificationError, UsageError } from "../../../src/errors.js";
import { profileDir } from "./helpers.js";

/** A device-1 profile of alice (as join writes it), without a relay. */
function aliceDevice1(seed: string) {
  const rng = seededRng(utf8(`new-device test: ${seed}`.padEnd(16, ".")));
  const dir = profileDir("alice1");
  const account = generateIdentity(rng);
  const store = createProfile(dir, rng);
  store.account.set({
    relayHost: "127.0.0.1",
    relayPort: 7443,
    relayKey: new Uint8Array(32).fill(9),
    username: "alice",
    displayName: null,
    credential: rng(32),
    signingSeed: account.signing.privateKey.slice(0, 32),
    dhPrivate: account.dh.privateKey,
  });
  return { rng, dir, account, store };
}

describe("the own device list", () => {
  test("a device-1 profile signs version 1 = [itself] once, and it is accepted under its own key", () => {
    const { store, account } = aliceDevice1("own list");
    const encoded = ensureOwnDeviceList(store, 1_700_000_000_000);
    expect(encoded).toBeInstanceOf(Uint8Array);
    const state = store.deviceLists.get("alice")!;
    expect(state.list.version).toBe(1);
    expect(state.list.devices.map((d) => d.id)).toEqual([1]);
    expect(state.accountKey).toEqual(identityKey(account.publicKey));
    expect(ensureOwnDeviceList(store)).toBeUndefined(); // already there
    store.close();
  });

  test("the next list adds a device under the next id, version + 1", () => {
    const { store, rng } = aliceDevice1("next list");
    ensureOwnDeviceList(store);
    const signer = accountSignerOf(store.account.get()!);
    const laptop = generateIdentity(rng);
    const next = listAddingDevice(signer, "alice", store.deviceLists.get("alice")!, laptop.publicKey);
    expect(next.deviceId).toBe(2);
    const d = store.deviceLists.offer({ username: "alice", accountKey: identityKey(signer.publicKey) }, next.encoded);
    expect(d.accepted && d.state.list.version).toBe(2);
    store.close();
  });
});

describe("createDeviceProfile", () => {
  test("writes device N of the account: its own identity, the account key and seed, the accepted list, the state", () => {
    const { store, rng, account } = aliceDevice1("new device");
    ensureOwnDeviceList(store);
    const signer = accountSignerOf(store.account.get()!);
    const laptop = generateIdentity(rng);
    const bob = encodeIdentityPublic(generateIdentity(rng).publicKey);
    const next = listAddingDevice(signer, "alice", store.deviceLists.get("alice")!, laptop.publicKey);
    store.close();
    const dir = profileDir("alice2");
    const pending = createDeviceProfile({
      dir,
      relayHost: "127.0.0.1",
      relayPort: 7443,
      relayKey: new Uint8Array(32).fill(9),
      username: "alice",
      accountIdentity: account.publicKey,
      accountSigningSeed: account.signing.privateKey.slice(0, 32),
      device: laptop,
      deviceId: next.deviceId,
      deviceList: next.encoded,
      accountState: encodeAccountState({
        displayName: "Alice",
        contacts: [{ username: "bob", identity: bob, verified: true, pendingIdentity: null, displayName: "Bob" }],
        chats: [],
      }),
      rng,
    });
    expect(pending.applied).toMatchObject({ contactsPinned: 1, chatsAdded: 0 });
    const req = pending.request(7, new Uint8Array(32).fill(3));
    expect(req).toMatchObject({ t: "register_device", id: 7, username: "alice", device: 2 });
    expect(req.one_time_prekeys.length).toBeGreaterThan(0);
    pending.registered();
    pending.store.close();

    const acct = openLocalAccount({ dir });
    expect(acct.deviceId).toBe(2);
    expect(acct.identity.publicKey.signingKey).toEqual(laptop.publicKey.signingKey);
    expect(identityKey(acct.accountIdentity)).toEqual(identityKey(account.publicKey));
    const rec = acct.store.account.get()!;
    expect(rec.accountSigningSeed).toEqual(account.signing.privateKey.slice(0, 32));
    expect(acct.store.deviceLists.get("alice")!.list.version).toBe(2);
    expect(acct.store.prekeys.unpublishedOneTime().length).toBe(0);
    // The snapshot went in with the rest (§17.6.1): bob pinned and verified as alice had him.
    expect(acct.displayName).toBe("Alice");
    expect(acct.store.contacts.get("bob")).toMatchObject({ identity: bob, verified: true, displayName: "Bob" });
    closeAccount(acct);
  });

  test("refuses, writing nothing: a foreign seed, a list without this device, a forged list, device 1, bad state, a profile there", () => {
    const { store, rng, account } = aliceDevice1("refusals");
    ensureOwnDeviceList(store);
    const signer = accountSignerOf(store.account.get()!);
    const laptop = generateIdentity(rng);
    const intruder = generateIdentity(rng);
    const current = store.deviceLists.get("alice")!;
    const next = listAddingDevice(signer, "alice", current, laptop.publicKey);
    const forged = listAddingDevice(
      { signing: intruder.signing, publicKey: account.publicKey },
      "alice",
      current,
      laptop.publicKey,
    );
    const withoutMe = listAddingDevice(signer, "alice", current, intruder.publicKey);
    const base: Parameters<typeof createDeviceProfile>[0] = {
      dir: "",
      relayHost: "127.0.0.1",
      relayPort: 7443,
      relayKey: new Uint8Array(32).fill(9),
      username: "alice",
      accountIdentity: account.publicKey,
      accountSigningSeed: account.signing.privateKey.slice(0, 32),
      device: laptop,
      deviceId: 2,
      deviceList: next.encoded,
      rng,
    };
    const cases: [Partial<typeof base & { accountState: Uint8Array }>, new (...a: never[]) => Error][] = [
      [{ accountSigningSeed: intruder.signing.privateKey.slice(0, 32) }, CryptoVerificationError],
      [{ deviceList: withoutMe.encoded }, CryptoVerificationError],
      [{ deviceList: forged.encoded }, CryptoVerificationError],
      [{ deviceId: 1 }, UsageError],
      // A snapshot that does not decode (§17.6.1: format 2) refuses the whole grant.
      [{ accountState: new Uint8Array([2, 0, 0, 0, 0, 0]) }, AccountStateError],
    ];
    for (const [change, kind] of cases) {
      const dir = profileDir("alice2");
      expect(() => createDeviceProfile({ ...base, ...change, dir })).toThrow(kind);
      expect(existsSync(dir) ? readdirSync(dir) : []).toEqual([]);
    }
    const taken = profileDir("alice2");
    createProfile(taken, rng).close();
    expect(() => createDeviceProfile({ ...base, dir: taken })).toThrow(ProfileExistsError);
    expect(openProfile(taken).account.exists()).toBe(false);

    const abandoned = profileDir("alice2");
    createDeviceProfile({ ...base, dir: abandoned }).abandon();
    expect(existsSync(abandoned) ? readdirSync(abandoned) : []).toEqual([]);
    store.close();
  });
});
