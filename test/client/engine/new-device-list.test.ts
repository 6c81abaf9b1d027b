/**
 * The list a new machine signs after a passphrase log-in (client/engine/new-device-list.ts,
 * SECURITY.md §18.6): it keeps every device, adds one under the next id with version + 1, and
 * is accepted by §17.4 from the old list; a list the account did not sign, another account's,
 * or a full one is refused.
 */
import { describe, expect, test } from "vitest";
import { nextDeviceList } from "../../../client/engine/new-device-list.js";
import { certifyDevice } from "../../../crypto/device-certificate.js";
import { MAX_DEVICES, decodeDeviceList, signDeviceList, verifyDeviceList } from "../../../crypto/device-list.js";
import { generateIdentity, identityKey } from "../../../crypto/identity.js";
import { CryptoVerificationError, LimitError } from "../../../src/errors.js";
import { systemRng } from "../../../src/system-rng.js";

const account = generateIdentity(systemRng);
const device = () => generateIdentity(systemRng).publicKey;
const listOf = (signer: typeof account, version: number, ids: number[], username = "alice") =>
  signDeviceList(signer, {
    username,
    version,
    issuedMs: 1,
    devices: ids.map((id) => certifyDevice(signer, username, id, id === 1 ? signer.publicKey : device())),
  });

describe("nextDeviceList", () => {
  test("an account without a list: version 1 with device 1 (the account key) and the new device as 2", () => {
    const n = device();
    const r = nextDeviceList({ account, username: "alice", current: undefined, device: n, nowMs: 5 });
    expect(r).toMatchObject({ deviceId: 2 });
    expect(decodeDeviceList(r.list).version).toBe(1);
    const l = decodeDeviceList(r.list);
    expect(verifyDeviceList(identityKey(account.publicKey), r.list, l).ok).toBe(true);
    expect(l.devices.map((d) => d.id)).toEqual([1, 2]);
    expect(l.devices[1]!.identity).toEqual(n);
  });

  test("keeps every device, takes the highest id + 1, version + 1", () => {
    const current = listOf(account, 4, [1, 3, 7]);
    const r = nextDeviceList({ account, username: "alice", current, device: device(), nowMs: 5 });
    expect(r.deviceId).toBe(8);
    expect(decodeDeviceList(r.list).version).toBe(5);
    const before = decodeDeviceList(current);
    const after = decodeDeviceList(r.list);
    expect(after.devices.slice(0, 3)).toEqual(before.devices);
    expect(verifyDeviceList(identityKey(account.publicKey), r.list, after).ok).toBe(true);
    // A list without device 1 (it was removed) still gets the next id.
    expect(
      nextDeviceList({ account, username: "alice", current: listOf(account, 2, [2]), device: device(), nowMs: 1 }),
    ).toMatchObject({ deviceId: 3 });
  });

  test("takes the id above the highest the relay says was ever listed: a removed highest id never returns", () => {
    const current = listOf(account, 3, [1, 2]); // device 5 was listed once, then removed
    expect(
      nextDeviceList({ account, username: "alice", current, highest: 5, device: device(), nowMs: 1 }),
    ).toMatchObject({
      deviceId: 6,
    });
    // A relay's value below the list's own ids changes nothing.
    expect(
      nextDeviceList({ account, username: "alice", current, highest: 1, device: device(), nowMs: 1 }),
    ).toMatchObject({
      deviceId: 3,
    });
  });

  test("refuses a list another key signed, another account's list, and a full list", () => {
    const other = generateIdentity(systemRng);
    expect(() =>
      nextDeviceList({ account, username: "alice", current: listOf(other, 2, [1, 2]), device: device(), nowMs: 1 }),
    ).toThrow(CryptoVerificationError);
    expect(() =>
      nextDeviceList({
        account,
        username: "alice",
        current: listOf(account, 2, [1], "bob"),
        device: device(),
        nowMs: 1,
      }),
    ).toThrow(/not signed by the account/);
    const full = listOf(
      account,
      9,
      [...Array(MAX_DEVICES).keys()].map((i) => i + 1),
    );
    expect(() => nextDeviceList({ account, username: "alice", current: full, device: device(), nowMs: 1 })).toThrow(
      LimitError,
    );
  });
});
