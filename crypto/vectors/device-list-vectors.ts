/**
 * test/vectors/device-list.json: device certificates, device lists and the acceptance rule
 * (SECURITY.md §17.2–§17.4).
 *
 * Inputs: `username`, the account's `account_signing_seed` and `account_dh_private` (device 1
 * is the account identity itself, §17.1), `device_keys[k]` (`signing_seed`, `dh_private`: the
 * identities of devices 2.., by key number k + 1), `other_signing_seed` (a key that is not the
 * account's) and `issued_ms`. The table of lists (which devices, which version, what is wrong
 * with it) and the table of cases (which lists were accepted before, which one arrives) are
 * fixed by the suite, like padding's unpad table: a changed case would otherwise still be
 * refused and go unnoticed. Outputs: per list its entries (identity, certificate bytes and
 * signature, fingerprint), body, signed bytes, signature and `encoded`; per case the result of
 * §17.4 (accepted, with the devices added and removed and the highest id, or refused, with the
 * reason).
 */
import { concat, toHex, utf8 } from "../bytes.js";
import {
  type DeviceEntry,
  deviceCertificateSignedBytes,
  deviceFingerprint,
  encodeDeviceEntry,
} from "../device-certificate.js";
import type { DeviceListState } from "../device-list-acceptance.js";
import { deviceListSignedBytes, encodeDeviceListBody } from "../device-list.js";
import { CodecError } from "../errors.js";
import { type IdentityKeyPair, type IdentityPublic, identityFromSecrets, identityKey } from "../identity.js";
import { ed25519FromSeed, ed25519Sign } from "../primitives.js";
import { seededRng } from "../rng.js";
import { identityDhKeyMessage } from "../signed-messages.js";
import { Inputs, clamp } from "./inputs.js";
import type { VectorImplementation, VectorSuite } from "./suite.js";
import { THIS_IMPLEMENTATION } from "./suite.js";

const FILE = "device-list.json";

const DESCRIPTION =
  "Device lists. Device 1 is the account identity; devices 2.. are device_keys[0..]. A certificate signs " +
  '"SMSG-v1 device certificate" || account identity_key || u8 len(username) || username || u32be(id) || device IdentityPublic; ' +
  "an entry is u32be(id) || IdentityPublic || certificate signature. A list body is 0x01 || u8 len(username) || username || " +
  'u32be(version) || u64be(issued_ms) || u8 count || entries; the account signs "SMSG-v1 device list" || account identity_key || body; ' +
  "encoded = body || signature. Each case accepts `history` in order from no state, then applies the acceptance rule to `incoming`.";

/** A device slot: its id and which key it carries (0: the account identity, k: device_keys[k-1]). */
interface Slot {
  readonly id: number;
  readonly key: number;
  /** The certificate is signed by other_signing_seed instead of the account key. */
  readonly foreignCertificate?: boolean;
  /** The device's own dh-key signature (§4.1) is made by other_signing_seed. */
  readonly badIdentitySignature?: boolean;
}

type Change =
  { op: "set"; offset: number; hex: string } | { op: "truncate"; length: number } | { op: "append"; hex: string };

/** A list of the table: signed from slots, or bytes changed from another list. */
interface ListSpec {
  readonly name: string;
  readonly comment: string;
  readonly username?: string;
  readonly version?: number;
  readonly slots?: readonly Slot[];
  readonly signer?: "account" | "other";
  /** The list's signature with L added to S (§2.1 rule 1). */
  readonly sPlusL?: boolean;
  readonly from?: string;
  readonly changes?: readonly Change[];
}

const d = (id: number, key = id - 1): Slot => ({ id, key });

const LISTS: readonly ListSpec[] = [
  { name: "v1", comment: "one device: the account identity as device 1", version: 1, slots: [d(1)] },
  { name: "v2", comment: "device 2 added", version: 2, slots: [d(1), d(2)] },
  { name: "v3", comment: "device 3 added", version: 3, slots: [d(1), d(2), d(3)] },
  { name: "v4", comment: "device 2 removed", version: 4, slots: [d(1), d(3)] },
  { name: "v5", comment: "device 4 added", version: 5, slots: [d(1), d(3), d(4)] },
  { name: "v2_other", comment: "version 2 again, with device 3 instead of 2", version: 2, slots: [d(1), d(3)] },
  { name: "v4_drop_highest", comment: "device 3, the highest, removed", version: 4, slots: [d(1), d(2)] },
  { name: "v5_returns_2", comment: "removed device 2 listed again", version: 5, slots: [d(1), d(2), d(3)] },
  {
    name: "v5_returns_3",
    comment: "removed device 3 (the highest id) listed again",
    version: 5,
    slots: [d(1), d(2), d(3)],
  },
  { name: "v5_new_key_3", comment: "device 3 with another key (device 4's)", version: 5, slots: [d(1), d(3, 3)] },
  {
    name: "v5_forged",
    comment: "v5's devices signed by another key",
    version: 5,
    slots: [d(1), d(3), d(4)],
    signer: "other",
  },
  {
    name: "v5_foreign_certificate",
    comment: "device 4's certificate signed by another key",
    version: 5,
    slots: [d(1), d(3), { id: 4, key: 3, foreignCertificate: true }],
  },
  {
    name: "v5_bad_device_identity",
    comment: "device 4's own dh-key signature made by another key",
    version: 5,
    slots: [d(1), d(3), { id: 4, key: 3, badIdentitySignature: true }],
  },
  {
    name: "v5_device_1_not_account",
    comment: "device 1 certified with device 2's key instead of the account identity (§17.1)",
    version: 5,
    slots: [{ id: 1, key: 1 }, d(3), d(4)],
  },
  {
    name: "v5_account_key_as_4",
    comment: "device 1 left out and the account identity certified as device 4 (§17.1)",
    version: 5,
    slots: [d(3), { id: 4, key: 0 }],
  },
  {
    name: "v5_s_plus_l",
    comment: "v5 with S + L in its signature",
    version: 5,
    slots: [d(1), d(3), d(4)],
    sPlusL: true,
  },
  {
    name: "v5_other_account",
    comment: "a list for the account mallory, signed by this account's key",
    username: "mallory",
    version: 5,
    slots: [d(1), d(3), d(4)],
  },
  { name: "v5_truncated", comment: "v5 without its last byte", from: "v5", changes: [{ op: "truncate", length: -1 }] },
  { name: "v5_trailing", comment: "v5 with a byte appended", from: "v5", changes: [{ op: "append", hex: "00" }] },
  { name: "v5_format_2", comment: "v5 with format byte 2", from: "v5", changes: [{ op: "set", offset: 0, hex: "02" }] },
  {
    name: "v5_version_0",
    comment: "v5 with version 0",
    from: "v5",
    changes: [{ op: "set", offset: 7, hex: "00000000" }],
  },
  {
    name: "v5_count_0",
    comment: "v5 with count 0 and no entries",
    from: "v5",
    changes: [
      { op: "set", offset: 19, hex: "00" },
      { op: "truncate", length: 20 },
      { op: "append", hex: "00".repeat(64) },
    ],
  },
  {
    name: "v5_ids_descending",
    comment: "v5 with entries 3 and 4 swapped (ids not ascending)",
    from: "v5",
    changes: [{ op: "set", offset: 20 + 196, hex: "swap" }],
  },
  {
    name: "v5_uppercase_name",
    comment: "v5 with the username's first letter uppercase",
    from: "v5",
    changes: [{ op: "set", offset: 2, hex: "41" }],
  },
];

interface CaseSpec {
  readonly id: number;
  readonly comment: string;
  readonly history: readonly string[];
  readonly incoming: string;
}

const CASES: readonly CaseSpec[] = [
  {
    comment: "first list of an account, accepted on first use (the account key is pinned)",
    history: [],
    incoming: "v1",
  },
  { comment: "a device added", history: ["v1"], incoming: "v2" },
  { comment: "a device removed", history: ["v1", "v2", "v3"], incoming: "v4" },
  { comment: "versions may skip (the relay hid v2)", history: ["v1"], incoming: "v3" },
  { comment: "added and removed after a removal", history: ["v1", "v2", "v3", "v4"], incoming: "v5" },
  { comment: "the accepted list again: replayed", history: ["v1", "v2"], incoming: "v2" },
  { comment: "an older genuine list: rolled back", history: ["v1", "v2", "v3"], incoming: "v2" },
  { comment: "an older genuine list, several versions back", history: ["v1", "v2", "v3", "v4"], incoming: "v1" },
  { comment: "the same version with other devices: conflict", history: ["v1", "v2"], incoming: "v2_other" },
  { comment: "a removed device listed again", history: ["v1", "v2", "v3", "v4"], incoming: "v5_returns_2" },
  {
    comment: "a removed device with the highest id ever listed again",
    history: ["v1", "v2", "v3", "v4_drop_highest"],
    incoming: "v5_returns_3",
  },
  { comment: "a device id with another key", history: ["v1", "v2", "v3", "v4"], incoming: "v5_new_key_3" },
  { comment: "signed by a key that is not the account's", history: ["v1", "v2", "v3", "v4"], incoming: "v5_forged" },
  { comment: "not signed by the account, on first contact", history: [], incoming: "v5_forged" },
  {
    comment: "a device whose certificate the account did not sign",
    history: ["v1", "v2", "v3", "v4"],
    incoming: "v5_foreign_certificate",
  },
  {
    comment: "a device whose own identity signature does not verify",
    history: ["v1", "v2", "v3", "v4"],
    incoming: "v5_bad_device_identity",
  },
  {
    comment: "device 1 is not the account key",
    history: ["v1", "v2", "v3", "v4"],
    incoming: "v5_device_1_not_account",
  },
  {
    comment: "the account key under another id than 1",
    history: ["v1", "v2", "v3", "v4"],
    incoming: "v5_account_key_as_4",
  },
  {
    comment: "a non-canonical S (S + L) in the list signature",
    history: ["v1", "v2", "v3", "v4"],
    incoming: "v5_s_plus_l",
  },
  { comment: "a list of another account", history: ["v1"], incoming: "v5_other_account" },
  { comment: "truncated", history: ["v1"], incoming: "v5_truncated" },
  { comment: "trailing bytes", history: ["v1"], incoming: "v5_trailing" },
  { comment: "another format byte", history: ["v1"], incoming: "v5_format_2" },
  { comment: "version 0", history: ["v1"], incoming: "v5_version_0" },
  { comment: "no devices", history: ["v1"], incoming: "v5_count_0" },
  { comment: "ids not ascending", history: ["v1"], incoming: "v5_ids_descending" },
  { comment: "a username that is not canonical", history: ["v1"], incoming: "v5_uppercase_name" },
].map((c, i) => ({ id: i + 1, ...c }));

const L_LE = (() => {
  const out = new Uint8Array(32);
  let l = 2n ** 252n + 27742317777372353535851937790883648493n;
  for (let i = 0; i < 32; i++) {
    out[i] = Number(l & 0xffn);
    l >>= 8n;
  }
  return out;
})();

/** S + L as 32 little-endian bytes (it fits: S < L < 2^253). */
function sPlusL(signature: Uint8Array): Uint8Array {
  const out = signature.slice();
  let carry = 0;
  for (let i = 0; i < 32; i++) {
    const v = out[32 + i]! + L_LE[i]! + carry;
    out[32 + i] = v & 0xff;
    carry = v >> 8;
  }
  return out;
}

function applyChanges(bytes: Uint8Array, changes: readonly Change[]): Uint8Array {
  let out: Uint8Array = bytes.slice();
  for (const c of changes) {
    if (c.op === "truncate") out = out.slice(0, c.length < 0 ? out.length + c.length : c.length);
    else if (c.op === "append") out = concat(out, Uint8Array.from(Buffer.from(c.hex, "hex")));
    else if (c.hex === "swap") {
      // Swap the two 196-byte entries that start at offset - 196 and offset.
      const a = out.slice(c.offset - 196, c.offset);
      const b = out.slice(c.offset, c.offset + 196);
      out.set(b, c.offset - 196);
      out.set(a, c.offset);
    } else out.set(Buffer.from(c.hex, "hex"), c.offset);
  }
  return out;
}

interface Keys {
  readonly username: string;
  readonly account: IdentityKeyPair;
  readonly other: ReturnType<typeof ed25519FromSeed>;
  readonly devices: readonly IdentityKeyPair[];
  readonly issuedMs: number;
}

function readKeys(f: Inputs): Keys {
  const account = identityFromSecrets(f.hex("account_signing_seed", 32), f.x25519Private("account_dh_private"));
  const devices = f
    .list("device_keys")
    .map((k) => identityFromSecrets(k.hex("signing_seed", 32), k.x25519Private("dh_private")));
  if (devices.length !== 3) throw new CodecError(`${FILE}.device_keys: must hold 3 keys`);
  return {
    username: f.string("username"),
    account,
    other: ed25519FromSeed(f.hex("other_signing_seed", 32)),
    devices,
    issuedMs: f.uint53("issued_ms"),
  };
}

function buildList(spec: ListSpec, keys: Keys, built: Map<string, Uint8Array>): Record<string, unknown> {
  if (spec.from) {
    const encoded = applyChanges(built.get(spec.from)!, spec.changes!);
    built.set(spec.name, encoded);
    return { name: spec.name, comment: spec.comment, from: spec.from, encoded: toHex(encoded) };
  }
  const username = spec.username ?? keys.username;
  const accountKey = identityKey(keys.account.publicKey);
  const identityOf = (slot: Slot): IdentityPublic => {
    const base = slot.key === 0 ? keys.account : keys.devices[slot.key - 1]!;
    if (!slot.badIdentitySignature) return base.publicKey;
    const bad = ed25519Sign(keys.other.privateKey, identityDhKeyMessage(base.publicKey.dhKey));
    return { ...base.publicKey, dhKeySignature: bad };
  };
  const entries: DeviceEntry[] = [];
  const entryOut = spec.slots!.map((slot) => {
    const identity = identityOf(slot);
    const signed = deviceCertificateSignedBytes(accountKey, username, slot.id, identity);
    const signer = slot.foreignCertificate ? keys.other : keys.account.signing;
    const entry = { id: slot.id, identity, certificateSignature: ed25519Sign(signer.privateKey, signed) };
    entries.push(entry);
    return {
      id: slot.id,
      identity_public: toHex(encodeDeviceEntry(entry).slice(4, 132)),
      certificate_signed_bytes: toHex(signed),
      certificate_signature: toHex(entry.certificateSignature),
      fingerprint: deviceFingerprint(identity),
    };
  });
  const issuedMs = keys.issuedMs + spec.version! * 1000;
  const body = encodeDeviceListBody({ username, version: spec.version!, issuedMs, devices: entries });
  const signedBytes = deviceListSignedBytes(accountKey, body);
  const signer = spec.signer === "other" ? keys.other : keys.account.signing;
  let signature = ed25519Sign(signer.privateKey, signedBytes);
  if (spec.sPlusL) signature = sPlusL(signature);
  const encoded = concat(body, signature);
  built.set(spec.name, encoded);
  return {
    name: spec.name,
    comment: spec.comment,
    version: spec.version,
    issued_ms: issuedMs,
    devices: entryOut,
    body: toHex(body),
    signed_bytes: toHex(signedBytes),
    signature: toHex(signature),
    encoded: toHex(encoded),
  };
}

function runCase(
  c: CaseSpec,
  keys: Keys,
  built: Map<string, Uint8Array>,
  impl: VectorImplementation,
): Record<string, unknown> {
  const account = { username: keys.username, accountKey: identityKey(keys.account.publicKey) };
  let state: DeviceListState | null = null;
  for (const name of c.history) {
    const decision = impl.acceptDeviceList(account, state, built.get(name)!);
    // The history is the setup of the case: an implementation that refuses it differs there.
    if (!decision.accepted) return { ...caseHead(c), history_refused: name, reason: decision.refusal.reason };
    state = decision.state;
  }
  const decision = impl.acceptDeviceList(account, state, built.get(c.incoming)!);
  if (decision.accepted) {
    return {
      ...caseHead(c),
      result: "accepted",
      version: decision.state.list.version,
      devices: decision.state.list.devices.map((e) => e.id),
      added: decision.added.map((e) => e.id),
      removed: decision.removed.map((e) => e.id),
      highest_device_id: decision.state.highestDeviceId,
    };
  }
  const r = decision.refusal;
  return {
    ...caseHead(c),
    result: "refused",
    reason: r.reason,
    ...("deviceId" in r ? { device_id: r.deviceId } : {}),
    ...(r.reason === "rolled_back" ? { version: r.version, accepted_version: r.acceptedVersion } : {}),
  };
}

const caseHead = (c: CaseSpec) => ({ id: c.id, comment: c.comment, history: c.history, incoming: c.incoming });

/** The device-list vector suite (SECURITY.md §17.2–§17.4). */
export const deviceListVectors: VectorSuite = {
  file: FILE,

  recompute(file: unknown, impl: VectorImplementation = THIS_IMPLEMENTATION) {
    const f = new Inputs(file, FILE);
    const keys = readKeys(f);
    const built = new Map<string, Uint8Array>();
    const lists = LISTS.map((spec) => buildList(spec, keys, built));
    return {
      suite: "device-list",
      description: DESCRIPTION,
      spec: "SECURITY.md §17.2 (device certificates), §17.3 (device lists), §17.4 (acceptance)",
      username: keys.username,
      account_signing_seed: toHex(f.hex("account_signing_seed")),
      account_dh_private: toHex(f.hex("account_dh_private")),
      account_identity_public: toHex(
        concat(identityKey(keys.account.publicKey), keys.account.publicKey.dhKeySignature),
      ),
      device_keys: f.list("device_keys").map((k, i) => ({
        signing_seed: toHex(k.hex("signing_seed")),
        dh_private: toHex(k.hex("dh_private")),
        identity_public: toHex(
          concat(identityKey(keys.devices[i]!.publicKey), keys.devices[i]!.publicKey.dhKeySignature),
        ),
      })),
      other_signing_seed: toHex(f.hex("other_signing_seed")),
      other_signing_public: toHex(keys.other.publicKey),
      issued_ms: keys.issuedMs,
      lists,
      cases: CASES.map((c) => runCase(c, keys, built, impl)),
    };
  },

  /** The fixed inputs, from seededRng("SMSG-v1 vectors device list"). */
  generate() {
    const rng = seededRng(utf8("SMSG-v1 vectors device list"));
    const x = () => toHex(clamp(rng(32)));
    return this.recompute({
      username: "alice",
      account_signing_seed: toHex(rng(32)),
      account_dh_private: x(),
      device_keys: [0, 1, 2].map(() => ({ signing_seed: toHex(rng(32)), dh_private: x() })),
      other_signing_seed: toHex(rng(32)),
      issued_ms: 1_764_000_000_000,
    });
  },
};
