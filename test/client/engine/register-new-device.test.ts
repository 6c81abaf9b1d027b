/**
 * §18.6's device registration after a passphrase log-in (client/engine/register-new-device.ts)
 * against a scripted relay: fetch_device_list, then publish_device_list with the next list and
 * register_device signed over this connection's h by the device's own key; a forged list is
 * refused before anything is published; a relay without §17.8 is "not supported" (exit 19).
 */
import { describe, expect, test } from "vitest";
import { exitCodeOf } from "../../../client/commands/exit.js";
import { nextListFromRelay, publishAndRegister } from "../../../client/engine/register-new-device.js";
import { certifyDevice } from "../../../crypto/device-certificate.js";
import { decodeDeviceList, signDeviceList } from "../../../crypto/device-list.js";
import { bytesEqual, concat } from "../../../crypto/bytes.js";
import { decodeIdentityPublic, generateIdentity } from "../../../crypto/identity.js";
import { label } from "../../../crypto/labels.js";
import { ed25519Verify } from "../../../crypto/primitives.js";
import { generateOneTimePrekeys, generateSignedPrekey } from "../../../crypto/prekeys.js";
import { CryptoVerificationError } from "../../../src/errors.js";
import { EXIT } from "../../../src/exit-codes.js";
import { systemRng } from "../../../src/system-rng.js";
import { type Recorded, refuse, scriptedRelay } from "./scripted-relay.js";

const account = generateIdentity(systemRng);
const identity = generateIdentity(systemRng);
const device = {
  identity,
  credential: systemRng(32),
  signedPrekey: generateSignedPrekey(systemRng, identity, 1),
  oneTimePrekeys: generateOneTimePrekeys(systemRng, 1, 3),
};
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
    await publishAndRegister(relay, { username: "alice", next, device });
    expect(relay.requests.map((q) => q.t)).toEqual(["fetch_device_list", "publish_device_list", "register_device"]);
    const published = relay.requests[1]!["list"] as Uint8Array;
    expect(decodeDeviceList(published).devices.map((d) => d.id)).toEqual([1, 2]);
    const reg = relay.requests[2] as Recorded;
    expect(reg).toMatchObject({ username: "alice", device: 2 });
    expect(decodeIdentityPublic(reg["identity"] as Uint8Array)).toEqual(identity.publicKey);
    expect(
      ed25519Verify(
        identity.publicKey.signingKey,
        concat(label("relayLogin"), relay.handshakeHash),
        reg["signature"] as Uint8Array,
      ),
    ).toBe(true);
    expect(bytesEqual(reg["credential"] as Uint8Array, device.credential)).toBe(true);
    expect((reg["one_time_prekeys"] as unknown[]).length).toBe(3);
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
    const stale = scriptedRelay({ publish_device_list: refuse("DEVICE_LIST_STALE"), register_device: joined });
    const e2 = await publishAndRegister(stale, { username: "alice", next, device }).catch((e) => e);
    expect((e2 as { code: string }).code).toBe("DEVICE_LIST_STALE");
    expect(stale.requests.map((q) => q.t)).toEqual(["publish_device_list"]);
  });
});
