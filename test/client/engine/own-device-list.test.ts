/**
 * The list that removes a device (client/engine/own-device-list.ts listRemovingDevice,
 * SECURITY.md §17.7): version + 1, every other entry kept byte for byte, signed by the
 * account, accepted by §17.4 as a removal; an id the list does not hold and the last device
 * are refused before anything is signed.
 */
import { describe, expect, test } from "vitest";
import { exitCodeOf } from "../../../client/commands/exit.js";
import { DeviceNotListedError, LastDeviceError } from "../../../client/engine/device-errors.js";
import { listAddingDevice, listRemovingDevice } from "../../../client/engine/own-device-list.js";
import { acceptDeviceList } from "../../../crypto/device-list-acceptance.js";
import { utf8 } from "../../../crypto/bytes.js";
import { encodeDeviceEntry } from "../../../crypto/device-certificate.js";
import { decodeDeviceList, verifyDeviceList } from "../../../crypto/device-list.js";
import { generateIdentity, identityKey } from "../../../crypto/identity.js";
import { seededRng } from "../../../crypto/rng.js";
import { EXIT } from "../../../src/exit-codes.js";

const rng = seededRng(utf8("own-device-list test: removing"));
const account = generateIdentity(rng);
const laptop = generateIdentity(rng);
const phone = generateIdentity(rng);
const accountKey = identityKey(account.publicKey);

/** alice's lists: v1 [1], v2 [1, 2], v3 [1, 2, 3], each accepted in turn; returns the states. */
function history() {
  const v2 = listAddingDevice(account, "alice", null, laptop.publicKey, 2);
  let state = acceptOrThrow(null, v2.encoded);
  const v3 = listAddingDevice(account, "alice", state, phone.publicKey, 3);
  state = acceptOrThrow(state, v3.encoded);
  return state;
}

function acceptOrThrow(stored: Parameters<typeof acceptDeviceList>[1], encoded: Uint8Array) {
  const d = acceptDeviceList({ username: "alice", accountKey }, stored, encoded);
  if (!d.accepted) throw new Error(`refused: ${d.refusal.reason}`);
  return d.state;
}

describe("listRemovingDevice", () => {
  test("version + 1, the other entries kept exactly, signed by the account, accepted as a removal", () => {
    const state = history();
    expect(state.list.version).toBe(2);
    expect(state.list.devices.map((d) => d.id)).toEqual([1, 2, 3]);
    const encoded = listRemovingDevice(account, "alice", state.list, 2, 1_700_000_000_123);
    const list = decodeDeviceList(encoded);
    expect(list.version).toBe(3);
    expect(list.issuedMs).toBe(1_700_000_000_123);
    expect(list.devices.map((d) => d.id)).toEqual([1, 3]);
    for (const d of list.devices) {
      const before = state.list.devices.find((e) => e.id === d.id)!;
      expect(encodeDeviceEntry(d)).toEqual(encodeDeviceEntry(before));
    }
    expect(verifyDeviceList(accountKey, encoded, list).ok).toBe(true);
    const d = acceptDeviceList({ username: "alice", accountKey }, state, encoded);
    expect(d.accepted && d.removed.map((e) => e.id)).toEqual([2]);
    expect(d.accepted && d.added).toEqual([]);
    // The removed id stays counted: the next device gets 4, never 2 again (§17.1).
    expect(d.accepted && d.state.highestDeviceId).toBe(3);
    expect(listAddingDevice(account, "alice", d.accepted ? d.state : null, laptop.publicKey).deviceId).toBe(4);
  });

  test("device 1 (the account key) may be removed too", () => {
    const encoded = listRemovingDevice(account, "alice", history().list, 1);
    expect(decodeDeviceList(encoded).devices.map((d) => d.id)).toEqual([2, 3]);
  });

  test("refuses an id the list does not hold, and the last device, before signing anything", () => {
    const state = history();
    for (const id of [4, 7, 0xffffffff]) {
      const err = (() => {
        try {
          return listRemovingDevice(account, "alice", state.list, id);
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(DeviceNotListedError);
      expect((err as Error).message).toBe(`your account has no device ${id} (smsg device list shows its devices)`);
      expect(exitCodeOf(err)).toBe(EXIT.userUnknown);
    }
    const one = acceptOrThrow(null, listAddingDevice(account, "alice", null, laptop.publicKey).encoded);
    const onlyTwo = decodeDeviceList(listRemovingDevice(account, "alice", one.list, 1));
    expect(onlyTwo.devices.map((d) => d.id)).toEqual([2]);
    expect(() => listRemovingDevice(account, "alice", onlyTwo, 2)).toThrow(LastDeviceError);
    expect(() => listRemovingDevice(account, "alice", onlyTwo, 2)).toThrow(
      "device 2 is your account's only device: an account keeps at least one",
    );
    expect(exitCodeOf(new LastDeviceError(2))).toBe(EXIT.usage);
  });
});
