/** SECURITY.md §17.4's table: what each acceptance decision tells the user (client/engine/device-list-events.ts). */
import { describe, expect, test } from "vitest";
import { utf8 } from "../../../crypto/bytes.js";
import { certifyDevice } from "../../../crypto/device-certificate.js";
import { type DeviceListState, acceptDeviceList } from "../../../crypto/device-list-acceptance.js";
import { signDeviceList } from "../../../crypto/device-list.js";
import { type IdentityKeyPair, generateIdentity, identityKey } from "../../../crypto/identity.js";
import { seededRng } from "../../../crypto/rng.js";
import { deviceListEvents } from "../../../client/engine/device-list-events.js";
import { deviceListText } from "../../../client/commands/output.js";

const rng = seededRng(utf8("device list events seed"));
const accountId = generateIdentity(rng);
const devices: IdentityKeyPair[] = [accountId, ...Array.from({ length: 4 }, () => generateIdentity(rng))];
const mallory = generateIdentity(rng);
const account = { username: "alice", accountKey: identityKey(accountId.publicKey) };

function list(version: number, ids: number[], signer: IdentityKeyPair = accountId, issued = 0): Uint8Array {
  const entries = ids.map((id) => certifyDevice(accountId, "alice", id, devices[id - 1]!.publicKey));
  return signDeviceList(signer, { username: "alice", version, issuedMs: 1_764_000_000_000 + issued, devices: entries });
}

function state(...lists: Uint8Array[]): DeviceListState {
  let s: DeviceListState | null = null;
  for (const l of lists) {
    const d = acceptDeviceList(account, s, l);
    if (!d.accepted) throw new Error(d.refusal.reason);
    s = d.state;
  }
  return s!;
}

const s3 = state(list(1, [1]), list(2, [1, 2]), list(3, [1, 2, 3]));
const outcomes = (encoded: Uint8Array, source: "relay" | "encrypted" = "relay") =>
  deviceListEvents("alice", false, acceptDeviceList(account, s3, encoded), source, false, (d) =>
    d === 4 ? "Laptop" : null,
  ).map((e) => [e.outcome, e.devices, e.names]);

describe("deviceListEvents (SECURITY.md §17.4)", () => {
  test("accepted: devices added and removed, with the names known", () => {
    expect(outcomes(list(4, [1, 3, 4]))).toEqual([
      ["added", [4], ["Laptop"]],
      ["removed", [2], [null]],
    ]);
  });

  test("the first list of an account says nothing (trust on first use)", () => {
    const d = acceptDeviceList(account, null, list(3, [1, 2, 3]));
    expect(deviceListEvents("alice", false, d, "relay", true)).toEqual([]);
  });

  test("a replay says nothing; a rollback only when the relay served it", () => {
    expect(outcomes(list(3, [1, 2, 3]))).toEqual([]);
    expect(outcomes(list(2, [1, 2]), "encrypted")).toEqual([]);
    const [e] = deviceListEvents("alice", false, acceptDeviceList(account, s3, list(2, [1, 2])), "relay", false);
    expect(e).toMatchObject({ outcome: "rolled_back", version: 2, acceptedVersion: 3 });
    expect(deviceListText(e!)).toBe("⚠ the relay served an older device list of alice (version 2, you have 3)");
  });

  test("a list the account did not sign, a conflict, a removed device brought back", () => {
    expect(outcomes(list(4, [1, 2, 3, 4], mallory))).toEqual([["refused", [], []]]);
    expect(outcomes(list(3, [1, 2], accountId, 9))).toEqual([["conflict", [], []]]);
    const s4 = state(list(1, [1]), list(2, [1, 2]), list(3, [1, 2, 3]), list(4, [1, 3]));
    const back = deviceListEvents("alice", false, acceptDeviceList(account, s4, list(5, [1, 2, 3])), "relay", false);
    expect(back.map((e) => [e.outcome, e.devices])).toEqual([["returned", [2]]]);
    expect(outcomes(new Uint8Array([1, 2, 3]))).toEqual([["refused", [], []]]);
  });

  test("the sentences of the table", () => {
    const [refused] = deviceListEvents(
      "alice",
      false,
      acceptDeviceList(account, s3, list(4, [1, 2, 3, 4], mallory)),
      "relay",
      false,
    );
    expect(deviceListText(refused!)).toBe(
      "⚠ a device list for alice that alice's account did not sign was refused; messages go only to alice's verified devices",
    );
    const [own] = deviceListEvents("alice", true, acceptDeviceList(account, s3, list(4, [1, 2, 3, 4])), "relay", false);
    expect(deviceListText(own!)).toBe("a device was added to your account (device 4)");
  });
});
