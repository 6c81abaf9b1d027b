/**
 * §18.6's device registration after a passphrase log-in (client/engine/register-new-device.ts)
 * against a scripted relay: fetch_device_list, then publish_device_list with the next list and
 * register_device, as createDeviceProfile builds it, signed over the h of the connection it goes
 * out on by the device's own key; a forged list is refused before anything is published; a
 * relay without §17.8 is "not supported" (exit 19).
 */
import { describe, expect, test } from "vitest";
import { exitCodeOf } from "../../../client/commands/exit.js";
import { createDeviceProfile } from "../../../client/engine/new-device.js";
import type { NewDeviceList } from "../../../client/engine/new-device-list.js";
import { nextListFromRelay, publishNewList, registerNewDevice } from "../../../client/engine/register-new-device.js";
import { certifyDevice } from "../../../crypto/device-certificate.js";
import { decodeDeviceList, signDeviceList } from "../../../crypto/device-list.js";
import { bytesEqual, concat } from "../../../crypto/bytes.js";
import { decodeIdentityPublic, generateIdentity } from "../../../crypto/identity.js";
import { label } from "../../../crypto/labels.js";
import { ed25519Verify } from "../../../crypto/primitives.js";
import { CryptoVerificationError } from "../../../src/errors.js";
import { EXIT } from "../../../src/exit-codes.js";
import { systemRng } from "../../../src/system-rng.js";
import { profileDir } from "./helpers.js";
import { type Recorded, refuse, scriptedRelay } from "./scripted-relay.js";

const account = generateIdentity(systemRng);
const identity = generateIdentity(systemRng);
/** The new device's profile for `next`, as smsg login writes it. */
const pendingFor = (next: NewDeviceList) =>
  createDeviceProfile({
    dir: profileDir("alice2"),
    relayHost: "127.0.0.1",
    relayPort: 7443,
    relayKey: new Uint8Array(32).fill(9),
    username: "alice",
    accountIdentity: account.publicKey,
    accountSigningSeed: account.signing.privateKey.slice(0, 32),
    device: identity,
    deviceId: next.deviceId,
    deviceList: next.list,
    rng: systemRng,
  });
const stored = (signer: typeof account) =>
  signDeviceList(signer, {
    username: "alice",
    version: 2,
    issuedMs: 1,
    devices: [certifyDevice(signer, "alice", 1, signer.publicKey)],
  });
const ok = () => ({ t: "ok" });
const joined = () => ({ t: "joined", username: "alice", is_admin: false });

describe("registering the new device", () => {
  test("fetch, publish the next list, register signed over h by the device key", async () => {
    const relay = scriptedRelay({
      fetch_device_list: () => ({ t: "device_list", username: "alice", list: stored(account) }),
      publish_device_list: ok,
      register_device: joined,
    });
    const next = await nextListFromRelay(relay, { username: "alice", account, device: identity, nowMs: 9 });
    expect(next.deviceId).toBe(2);
    expect(decodeDeviceList(next.list).version).toBe(3);
    const pending = pendingFor(next);
    await publishNewList(relay, next);
    // A lost answer: the same request again on a connection with another h.
    const again = scriptedRelay({ register_device: joined }, new Uint8Array(32).fill(8));
    for (const c of [relay, again]) await registerNewDevice(c, pending);
    expect(relay.requests.map((q) => q.t)).toEqual(["fetch_device_list", "publish_device_list", "register_device"]);
    const published = relay.requests[1]!["list"] as Uint8Array;
    expect(decodeDeviceList(published).devices.map((d) => d.id)).toEqual([1, 2]);
    const [reg, reg2] = [relay.requests[2] as Recorded, again.requests[0] as Recorded];
    expect(reg).toMatchObject({ username: "alice", device: 2 });
    expect(reg["id"]).toBeUndefined(); // RelayClient numbers its requests
    expect(decodeIdentityPublic(reg["identity"] as Uint8Array)).toEqual(identity.publicKey);
    for (const [r, h] of [
      [reg, relay.handshakeHash],
      [reg2, again.handshakeHash],
    ] as const)
      expect(
        ed25519Verify(identity.publicKey.signingKey, concat(label("relayLogin"), h), r["signature"] as Uint8Array),
      ).toBe(true);
    expect(bytesEqual(reg["credential"] as Uint8Array, reg2["credential"] as Uint8Array)).toBe(true);
    expect(reg["credential"]).toEqual(pending.store.account.get()!.credential);
    expect((reg["one_time_prekeys"] as unknown[]).length).toBeGreaterThan(0);
    pending.abandon();
  });

  test("a list another key signed is refused before anything is published", async () => {
    const relay = scriptedRelay({
      fetch_device_list: () => ({ t: "device_list", username: "alice", list: stored(generateIdentity(systemRng)) }),
      publish_device_list: ok,
      register_device: joined,
    });
    await expect(
      nextListFromRelay(relay, { username: "alice", account, device: identity, nowMs: 9 }),
    ).rejects.toBeInstanceOf(CryptoVerificationError);
    expect(relay.requests.map((q) => q.t)).toEqual(["fetch_device_list"]);
  });

  test("a relay without §17.8 is 'not supported' (exit 19); a refused registration passes through", async () => {
    const old = scriptedRelay({ fetch_device_list: refuse("UNKNOWN_TYPE") });
    const err = await nextListFromRelay(old, { username: "alice", account, device: identity, nowMs: 9 }).catch(
      (e) => e,
    );
    expect((err as Error).message).toBe("this relay does not support several devices (update the relay)");
    expect(exitCodeOf(err)).toBe(EXIT.notSupported);
    const next = await nextListFromRelay(
      scriptedRelay({ fetch_device_list: () => ({ t: "device_list", username: "alice" }) }),
      { username: "alice", account, device: identity, nowMs: 9 },
    );
    expect(next.deviceId).toBe(2);
    expect(decodeDeviceList(next.list).version).toBe(1);
    const stale = scriptedRelay({ publish_device_list: refuse("DEVICE_LIST_STALE") });
    const e2 = await publishNewList(stale, next).catch((e) => e);
    expect((e2 as { code: string }).code).toBe("DEVICE_LIST_STALE");
    const pending = pendingFor(next);
    const e3 = await registerNewDevice(scriptedRelay({ register_device: refuse("UNKNOWN_TYPE") }), pending).catch(
      (e) => e,
    );
    expect(exitCodeOf(e3)).toBe(EXIT.notSupported);
    pending.abandon();
  });
});
