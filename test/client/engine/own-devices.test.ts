/**
 * `smsg device list | rename | remove` at the engine (client/engine/own-devices.ts, SECURITY.md
 * §17.2, §17.7) against the in-process relay: a second device registered for real (signed
 * list, createDeviceProfile, register_device), the list with fingerprints, names and the
 * current flag on both devices, and removal: the relay refuses the removed device's login
 * with DEVICE_REMOVED and the other device's list no longer holds it; a device may remove
 * itself. Then, on a scripted relay, the order of publish and store: a refused publish and a
 * lost answer leave the store as it was, and the next refresh takes the relay's list.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { exitCodeOf } from "../../../client/commands/exit.js";
import {
  DeviceListRefusedError,
  DeviceListUnconfirmedError,
  DeviceNotListedError,
} from "../../../client/engine/device-errors.js";
import { type Account, closeAccount, connectAccount } from "../../../client/engine/open-account.js";
import { accountSignerOf, listAddingDevice } from "../../../client/engine/own-device-list.js";
import { refreshOwnDevices, removeOwnDevice, renameOwnDevice } from "../../../client/engine/own-devices.js";
import type { RelayClient } from "../../../client/relay-client.js";
import { deviceFingerprint } from "../../../crypto/device-certificate.js";
import { decodeDeviceList } from "../../../crypto/device-list.js";
import { generateIdentity } from "../../../crypto/identity.js";
import { RemoteError, UsageError } from "../../../src/errors.js";
import { EXIT } from "../../../src/exit-codes.js";
import { systemRng } from "../../../src/system-rng.js";
import { ConnectionClosedError } from "../../../src/transport/errors.js";
import { type TestRelay, startRelay } from "../../relay/harness.js";
import { addDeviceFor } from "./add-device.js";
import { type EngineUser, emptyRelay, engineUser, profileDir } from "./helpers.js";
import { type Recorded, refuse, scriptedRelay } from "./scripted-relay.js";

let tr: TestRelay;
let alice: EngineUser;
const opened: Account[] = [];

beforeAll(async () => {
  tr = await startRelay();
});
afterAll(async () => {
  await tr.stop();
});
beforeEach(async () => {
  alice?.close();
  for (const a of opened.splice(0)) closeAccount(a);
  await emptyRelay(tr);
  alice = await engineUser(tr, "alice");
});

/** Adds a device to alice's account (add-device.ts); closed after the test. */
async function addDevice(relay: RelayClient): Promise<Account> {
  const device = await addDeviceFor(alice.acct, relay, profileDir("alice-laptop"));
  opened.push(device);
  return device;
}

describe("the own devices on a real relay", () => {
  test("device 1 alone: its first list is signed and published, and it is listed as this device", async () => {
    const a = await alice.online();
    try {
      const { devices, events } = await refreshOwnDevices(alice.acct, a.relay);
      expect(events).toEqual([]);
      expect(devices).toHaveLength(1);
      const [d] = devices;
      expect(d).toMatchObject({ id: 1, name: null, current: true });
      expect(d!.fingerprint).toBe(deviceFingerprint(alice.acct.accountIdentity));
      expect(d!.fingerprint).toMatch(/^[0-9a-f]{8}( [0-9a-f]{8}){4}$/);
      expect(d!.lastSeen).not.toBeNull();
      // The relay now holds that list (version 1), not only this profile.
      const rows = await tr.db.query<{ version: number }>(
        "SELECT l.version FROM device_lists l JOIN accounts a ON a.id = l.account_id WHERE a.username = 'alice'",
      );
      expect(rows.map((r) => Number(r.version))).toEqual([1]);
    } finally {
      a.close();
    }
  });

  test("two devices: both listed on both, names after rename, the current flag on each; then device 2 removed", async () => {
    const a = await alice.online();
    try {
      await refreshOwnDevices(alice.acct, a.relay);
      const laptop = await addDevice(a.relay);

      const one = await refreshOwnDevices(alice.acct, a.relay);
      expect(one.devices.map((d) => [d.id, d.current])).toEqual([
        [1, true],
        [2, false],
      ]);
      expect(one.devices[1]!.fingerprint).toBe(deviceFingerprint(laptop.identity.publicKey));
      // The relay has not seen device 2 log in yet (register_device logs in; its close is seen).
      renameOwnDevice(alice.acct, 1, "Desktop");
      renameOwnDevice(alice.acct, 2, "Laptop");
      expect(() => renameOwnDevice(alice.acct, 5, "Phone")).toThrow(DeviceNotListedError);
      expect(() => renameOwnDevice(alice.acct, 2, "bad\x1bname")).toThrow(UsageError);
      const named = await refreshOwnDevices(alice.acct, a.relay);
      expect(named.devices.map((d) => [d.id, d.name, d.current])).toEqual([
        [1, "Desktop", true],
        [2, "Laptop", false],
      ]);

      const { relay: l } = await connectAccount(laptop);
      try {
        const two = await refreshOwnDevices(laptop, l);
        expect(two.devices.map((d) => [d.id, d.current])).toEqual([
          [1, false],
          [2, true],
        ]);
        expect(two.devices.find((d) => d.id === 2)!.lastSeen).not.toBeNull();
        expect(two.devices.map((d) => d.fingerprint)).toEqual(named.devices.map((d) => d.fingerprint));
      } finally {
        l.close();
      }

      const removed = await removeOwnDevice(alice.acct, a.relay, 2);
      expect(removed).toEqual({ version: 3, self: false });
      expect((await refreshOwnDevices(alice.acct, a.relay)).devices.map((d) => [d.id, d.name])).toEqual([
        [1, "Desktop"],
      ]);
      const err = await connectAccount(laptop).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RemoteError);
      expect((err as RemoteError).code).toBe("DEVICE_REMOVED");
      expect(exitCodeOf(err)).toBe(EXIT.loginFailed);
      // Removing it again: it is no longer listed.
      await expect(removeOwnDevice(alice.acct, a.relay, 2)).rejects.toBeInstanceOf(DeviceNotListedError);
    } finally {
      a.close();
    }
  });

  test("a device removes itself: ok, then the relay closes its connection and refuses its logins", async () => {
    const a = await alice.online();
    let laptop: Account;
    try {
      await refreshOwnDevices(alice.acct, a.relay);
      laptop = await addDevice(a.relay);
    } finally {
      a.close();
    }
    const { relay: l } = await connectAccount(laptop);
    const closed = new Promise((resolve) => l.once("close", resolve));
    const removed = await removeOwnDevice(laptop, l, 2);
    expect(removed).toEqual({ version: 3, self: true });
    await closed;
    expect(laptop.store.deviceLists.devices("alice").map((d) => d.entry.id)).toEqual([1]);
    const err = await connectAccount(laptop).catch((e: unknown) => e);
    expect((err as RemoteError).code).toBe("DEVICE_REMOVED");
    const before = alice.events.length;
    const b = await alice.online();
    try {
      // Going online checks our own list first (own-list-online.ts): the removal is reported there, once.
      const seen = alice.events.slice(before).filter((e) => e.type === "device_list");
      expect(seen.map((e) => e.type === "device_list" && [e.outcome, e.devices])).toEqual([["removed", [2]]]);
      const { devices, events } = await refreshOwnDevices(alice.acct, b.relay);
      expect(devices.map((d) => d.id)).toEqual([1]);
      expect(events).toEqual([]);
    } finally {
      b.close();
    }
  });
});

describe("removal: the relay and the store stay consistent", () => {
  /** The relay's list, as a scripted relay answers fetch_device_list with it. */
  function scripted(list: () => Uint8Array, publish: (req: Recorded) => Record<string, unknown>) {
    return scriptedRelay({
      fetch_device_list: () => ({ t: "device_list", username: "alice", list: list(), seen: [] }),
      publish_device_list: publish,
    });
  }

  async function twoDevices(): Promise<Uint8Array> {
    const a = await alice.online();
    try {
      await refreshOwnDevices(alice.acct, a.relay);
      await addDevice(a.relay);
      await refreshOwnDevices(alice.acct, a.relay);
    } finally {
      a.close();
    }
    return alice.acct.store.deviceLists.get("alice")!.encoded;
  }

  test("the relay refuses the list: nothing changes in the store, one sentence with the relay's code", async () => {
    const v2 = await twoDevices();
    for (const [code, sentence] of [
      [
        "DEVICE_LIST_STALE",
        "another device of your account changed its device list meanwhile: nothing was changed; run the command again",
      ],
      ["BAD_MESSAGE", "the relay refused the new device list (refused with BAD_MESSAGE): nothing was changed"],
      ["DEVICE_REMOVED", "this device was removed from your account: it can no longer change the account's devices"],
    ] as const) {
      const relay = scripted(() => v2, refuse(code));
      const err = await removeOwnDevice(alice.acct, relay as never, 2).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DeviceListRefusedError);
      expect((err as Error).message).toBe(sentence);
      expect((err as DeviceListRefusedError).code).toBe(code);
      expect(alice.acct.store.deviceLists.get("alice")!.encoded).toEqual(v2);
      expect(relay.requests.map((r) => r.t)).toEqual(["fetch_device_list", "publish_device_list"]);
    }
  });

  test("a relay before §17 is 'not supported' (exit 19), with nothing changed", async () => {
    const v2 = await twoDevices();
    const old = scriptedRelay({ fetch_device_list: refuse("UNKNOWN_TYPE") });
    const err = await removeOwnDevice(alice.acct, old as never, 2).catch((e: unknown) => e);
    expect((err as Error).message).toBe("this relay does not support several devices (update the relay)");
    expect(exitCodeOf(err)).toBe(EXIT.notSupported);
    expect(alice.acct.store.deviceLists.get("alice")!.encoded).toEqual(v2);
  });

  test("published but the answer lost: the store is unchanged, and the next refresh accepts the relay's list", async () => {
    const v2 = await twoDevices();
    let onRelay = v2;
    const relay = scripted(
      () => onRelay,
      (req) => {
        onRelay = req.list as Uint8Array; // the relay stored it, and the connection broke before `ok`
        throw new ConnectionClosedError("the relay closed the connection");
      },
    );
    const err = await removeOwnDevice(alice.acct, relay as never, 2).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeviceListUnconfirmedError);
    expect((err as Error).message).toMatch(
      /^the relay did not confirm the new device list .*: the removal of device 2 may or may not have happened/,
    );
    expect(exitCodeOf(err)).toBe(EXIT.relayUnreachable);
    expect(alice.acct.store.deviceLists.get("alice")!.encoded).toEqual(v2);
    const after = await refreshOwnDevices(alice.acct, relay as never);
    expect(after.devices.map((d) => d.id)).toEqual([1]);
    expect(after.events.map((e) => [e.outcome, e.devices])).toEqual([["removed", [2]]]);
  });

  test("the list signed is the relay's newest without the device, when another device changed it meanwhile", async () => {
    await twoDevices();
    // Another device added device 3 (v3); this profile still holds v2 until it refreshes.
    const signer = accountSignerOf(alice.acct.store.account.get()!);
    const v3 = listAddingDevice(
      signer,
      "alice",
      alice.acct.store.deviceLists.get("alice")!,
      generateIdentity(systemRng).publicKey,
    );
    const published: Uint8Array[] = [];
    const relay = scripted(
      () => v3.encoded,
      (req) => {
        published.push(req.list as Uint8Array);
        return { t: "ok" };
      },
    );
    expect(await removeOwnDevice(alice.acct, relay as never, 2)).toEqual({ version: 4, self: false });
    expect(published.map((l) => decodeDeviceList(l).devices.map((d) => d.id))).toEqual([[1, 3]]);
    expect(alice.acct.store.deviceLists.get("alice")!.encoded).toEqual(published[0]);
  });
});
