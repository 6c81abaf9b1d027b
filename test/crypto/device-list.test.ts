/**
 * Device lists and their acceptance rule (SECURITY.md §17.3, §17.4): unit cases for each
 * refusal and seeded fast-check properties (test/fast-check-seed.ts) — a refusal never changes
 * the state, every changed byte of a genuine list is refused, and accepted versions only rise.
 */
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { utf8 } from "../../crypto/bytes.js";
import { certifyDevice, deviceFingerprint } from "../../crypto/device-certificate.js";
import { acceptLinkGrant, encodeLinkGrant, linkAccountHash } from "../../crypto/device-link.js";
import { type DeviceListState, acceptDeviceList } from "../../crypto/device-list-acceptance.js";
import { decodeDeviceList, signDeviceList } from "../../crypto/device-list.js";
import { CryptoVerificationError, UsageError } from "../../crypto/errors.js";
import { type IdentityKeyPair, generateIdentity, identityFromSecrets, identityKey } from "../../crypto/identity.js";
import { seededRng } from "../../crypto/rng.js";

const rng = seededRng(utf8("device list tests seed"));
const accountId = generateIdentity(rng);
const deviceIds: IdentityKeyPair[] = [accountId, ...Array.from({ length: 7 }, () => generateIdentity(rng))];
const mallory = generateIdentity(rng);
const account = { username: "alice", accountKey: identityKey(accountId.publicKey) };

/** A list of `ids` (device k carries deviceIds[k - 1]), signed by `signer`. */
function list(version: number, ids: number[], signer: IdentityKeyPair = accountId): Uint8Array {
  const devices = ids.map((id) => certifyDevice(accountId, "alice", id, deviceIds[id - 1]!.publicKey));
  return signDeviceList(signer, { username: "alice", version, issuedMs: 1_764_000_000_000 + version, devices });
}

function acceptAll(...lists: Uint8Array[]): DeviceListState {
  let state: DeviceListState | null = null;
  for (const l of lists) {
    const d = acceptDeviceList(account, state, l);
    if (!d.accepted) throw new Error(`setup refused: ${d.refusal.reason}`);
    state = d.state;
  }
  return state!;
}

const snapshot = (s: DeviceListState | null) => (s ? { ...s, encoded: [...s.encoded] } : null);

describe("acceptDeviceList", () => {
  test("first list accepted on first use; additions and removals reported", () => {
    const first = acceptDeviceList(account, null, list(1, [1]));
    expect(first.accepted && first.added.map((d) => d.id)).toEqual([1]);
    const s = acceptAll(list(1, [1]), list(2, [1, 2]), list(3, [1, 2, 3]));
    const d = acceptDeviceList(account, s, list(4, [1, 3, 4]));
    expect(d.accepted && [d.added.map((e) => e.id), d.removed.map((e) => e.id), d.state.highestDeviceId]).toEqual([
      [4],
      [2],
      4,
    ]);
  });

  test("each refusal, with the state unchanged", () => {
    const s = acceptAll(list(1, [1]), list(2, [1, 2]), list(3, [1, 3]));
    const before = snapshot(s);
    const reasons = [
      list(3, [1, 3]),
      list(2, [1, 2]),
      list(3, [1, 4]),
      list(4, [1, 2, 3]),
      list(4, [1, 3, 4], mallory),
    ].map((l) => {
      const d = acceptDeviceList(account, s, l);
      return d.accepted ? "accepted" : d.refusal.reason;
    });
    expect(reasons).toEqual(["replayed", "rolled_back", "conflict", "removed_device_returned", "bad_signature"]);
    expect(snapshot(s)).toEqual(before);
  });

  test("device 1 must be the account key, and the account key appears under no other id (§17.2)", () => {
    const s = acceptAll(list(1, [1]), list(2, [1, 2]));
    const signed = (slots: [number, IdentityKeyPair][]) =>
      signDeviceList(accountId, {
        username: "alice",
        version: 3,
        issuedMs: 1_764_000_000_003,
        devices: slots.map(([id, k]) => certifyDevice(accountId, "alice", id, k.publicKey)),
      });
    const refusal = (l: Uint8Array) => {
      const d = acceptDeviceList(account, s, l);
      return d.accepted ? "accepted" : d.refusal;
    };
    expect(
      refusal(
        signed([
          [1, deviceIds[2]!],
          [2, deviceIds[1]!],
        ]),
      ),
    ).toEqual({
      reason: "bad_certificate",
      deviceId: 1,
    });
    expect(
      refusal(
        signed([
          [2, deviceIds[1]!],
          [3, accountId],
        ]),
      ),
    ).toEqual({ reason: "bad_certificate", deviceId: 3 });
    // Device 1 removed is fine (it may remove itself, §17.7).
    expect(
      refusal(
        signed([
          [2, deviceIds[1]!],
          [3, deviceIds[2]!],
        ]),
      ),
    ).toBe("accepted");
  });

  test("a stored state of another account key is a usage error, not a refusal", () => {
    const s = acceptAll(list(1, [1]));
    expect(() =>
      acceptDeviceList({ username: "alice", accountKey: identityKey(mallory.publicKey) }, s, list(2, [1, 2])),
    ).toThrow(UsageError);
  });

  test("decode of a signed list round-trips; fingerprints are five groups of 8 hex digits", () => {
    const l = decodeDeviceList(list(5, [1, 2, 7]));
    expect([l.version, l.devices.map((d) => d.id), l.username]).toEqual([5, [1, 2, 7], "alice"]);
    expect(deviceFingerprint(deviceIds[1]!.publicKey)).toMatch(/^([0-9a-f]{8} ){4}[0-9a-f]{8}$/);
  });
});

describe("acceptDeviceList properties", () => {
  const base = acceptAll(list(1, [1]), list(2, [1, 2, 3]));
  const genuine = list(3, [1, 3, 4]);

  test("any changed byte of a genuine list is refused, and the state stays as it was", () => {
    const before = snapshot(base);
    fc.assert(
      fc.property(fc.nat({ max: genuine.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, mask) => {
        const changed = genuine.slice();
        changed[at]! ^= mask;
        expect(acceptDeviceList(account, base, changed).accepted).toBe(false);
        expect(snapshot(base)).toEqual(before);
      }),
      { numRuns: 200 },
    );
  });

  test("over any sequence of genuine lists, accepted versions strictly rise and removed ids never return", () => {
    const entry = fc.record({
      version: fc.integer({ min: 1, max: 12 }),
      ids: fc.uniqueArray(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 4 }).map((xs) => xs.sort()),
    });
    fc.assert(
      fc.property(fc.array(entry, { minLength: 1, maxLength: 6 }), (steps) => {
        let state: DeviceListState | null = null;
        const removed = new Set<number>();
        for (const step of steps) {
          const before = snapshot(state);
          const d = acceptDeviceList(account, state, list(step.version, step.ids));
          if (!d.accepted) {
            expect(snapshot(state)).toEqual(before);
            continue;
          }
          if (state) expect(d.state.list.version).toBeGreaterThan(state.list.version);
          for (const id of step.ids) expect(removed.has(id)).toBe(false);
          for (const r of d.removed) removed.add(r.id);
          state = d.state;
        }
      }),
      { numRuns: 60 },
    );
  });
});

describe("acceptLinkGrant (§17.6)", () => {
  // Seeds kept so the grant can carry them; device 2 is the new device N.
  const seed = rng(32);
  const genuine = identityFromSecrets(seed, rng(32));
  const otherSeed = rng(32);
  const other = identityFromSecrets(otherSeed, rng(32));
  const newDevice = deviceIds[1]!.publicKey;
  const grantOf = (acct: IdentityKeyPair, acctSeed: Uint8Array) =>
    encodeLinkGrant({
      account: acct.publicKey,
      accountSigningSeed: acctSeed,
      deviceId: 2,
      deviceList: signDeviceList(acct, {
        username: "alice",
        version: 2,
        issuedMs: 1_764_000_000_000,
        devices: [certifyDevice(acct, "alice", 1, acct.publicKey), certifyDevice(acct, "alice", 2, newDevice)],
      }),
      state: new Uint8Array(0),
    });
  const link = { username: "alice", accountHash: linkAccountHash(genuine.publicKey) };

  test("the grant of the account the link names is accepted", () => {
    expect(acceptLinkGrant(grantOf(genuine, seed), link, newDevice).entry.id).toBe(2);
  });

  test("a self-consistent grant of another account (someone answering N with their own link key) is refused", () => {
    expect(() => acceptLinkGrant(grantOf(other, otherSeed), link, newDevice)).toThrow(CryptoVerificationError);
    expect(() => acceptLinkGrant(grantOf(other, otherSeed), link, newDevice)).toThrow(/another account/);
  });

  test("a link account hash of the wrong size is a usage error", () => {
    expect(() =>
      acceptLinkGrant(grantOf(genuine, seed), { username: "alice", accountHash: new Uint8Array(19) }, newDevice),
    ).toThrow(UsageError);
  });
});
