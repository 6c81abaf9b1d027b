/**
 * Device lists (SECURITY.md §17.3): the set of an account's devices, versioned and signed by
 * the account identity key, so that neither the relay nor anyone else can add, remove or roll
 * back a device without the account key. This file encodes, decodes (structurally), signs and
 * verifies a list; what a client does with a new one is `acceptDeviceList`
 * (device-list-acceptance.ts, §17.4).
 */
import { Reader, bytesEqual, concat, u32be } from "./bytes.js";
import {
  type AccountSigner,
  type DeviceEntry,
  DEVICE_ENTRY_BYTES,
  deviceEntryValid,
  encodeDeviceEntry,
  readDeviceEntry,
  usernameBytes,
} from "./device-certificate.js";
import { CodecError, UsageError } from "./errors.js";
import { IDENTITY_KEY_BYTES, identityKey } from "./identity.js";
import { label } from "./labels.js";
import { ed25519Sign, ed25519Verify } from "./primitives.js";

/** The version byte of the encoding. */
export const DEVICE_LIST_FORMAT = 0x01;
/** Most devices in one account (§17.3). */
export const MAX_DEVICES = 16;
/** Longest encoded list: 1 + 1 + 32 + 4 + 8 + 1 + 16 × 196 + 64. */
export const MAX_DEVICE_LIST_BYTES = 1 + 1 + 32 + 4 + 8 + 1 + MAX_DEVICES * DEVICE_ENTRY_BYTES + 64;

/** A decoded device list (§17.3). */
export interface DeviceList {
  readonly username: string;
  /** u32, ≥ 1; increases with every change the account signs. */
  readonly version: number;
  /** The signer's clock, ms since the epoch (uint53): shown only, never compared. */
  readonly issuedMs: number;
  /** 1..16 entries, ids strictly ascending. */
  readonly devices: readonly DeviceEntry[];
  /** Ed25519(account signing key, deviceListSignedBytes(accountKey, body)). */
  readonly signature: Uint8Array;
}

function u64be(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`not a uint53: ${n}`);
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n), false);
  return out;
}

function checkShape(list: Omit<DeviceList, "signature">, fail: (m: string) => Error): void {
  if (!Number.isInteger(list.version) || list.version < 1 || list.version > 0xffffffff)
    throw fail("device list: version must be 1..2^32-1");
  if (list.devices.length < 1 || list.devices.length > MAX_DEVICES)
    throw fail(`device list: 1..${MAX_DEVICES} devices`);
  for (let i = 1; i < list.devices.length; i++) {
    if (list.devices[i]!.id <= list.devices[i - 1]!.id) throw fail("device list: ids not strictly ascending");
  }
  for (let i = 0; i < list.devices.length; i++) {
    for (let j = 0; j < i; j++) {
      const a = list.devices[i]!.identity;
      const b = list.devices[j]!.identity;
      if (bytesEqual(a.signingKey, b.signingKey) || bytesEqual(a.dhKey, b.dhKey))
        throw fail("device list: two devices share a key");
    }
  }
}

/**
 * The list without its signature: `0x01 || u8(len(username)) || username || u32be(version) ||
 * u64be(issued ms) || u8(count) || count × entry`. Throws UsageError for a list the rules of
 * §17.3 refuse (count, order, shared keys, a version or time out of range).
 */
export function encodeDeviceListBody(list: Omit<DeviceList, "signature">): Uint8Array {
  checkShape(list, (m) => new UsageError(m));
  const name = usernameBytes(list.username);
  return concat(
    new Uint8Array([DEVICE_LIST_FORMAT, name.length]),
    name,
    u32be(list.version),
    u64be(list.issuedMs),
    new Uint8Array([list.devices.length]),
    ...list.devices.map(encodeDeviceEntry),
  );
}

/** §17.3: `L("SMSG-v1 device list") || account identity_key (64) || body`. */
export function deviceListSignedBytes(accountKey: Uint8Array, body: Uint8Array): Uint8Array {
  if (accountKey.length !== IDENTITY_KEY_BYTES) throw new UsageError("account identity key must be 64 bytes");
  return concat(label("deviceList"), accountKey, body);
}

/** The account signs a list; returns its wire form, body || signature. */
export function signDeviceList(account: AccountSigner, list: Omit<DeviceList, "signature">): Uint8Array {
  const body = encodeDeviceListBody(list);
  const signature = ed25519Sign(
    account.signing.privateKey,
    deviceListSignedBytes(identityKey(account.publicKey), body),
  );
  return concat(body, signature);
}

/**
 * Parses a list, structurally only: nothing is verified. Throws CodecError for another format
 * byte, a username that is not canonical, version 0, a count outside 1..16, ids not strictly
 * ascending (which also refuses duplicates), two devices sharing a signing or dh key, a time
 * above 2^53 − 1, truncated input or trailing bytes.
 */
export function decodeDeviceList(bytes: Uint8Array): DeviceList {
  if (bytes.length > MAX_DEVICE_LIST_BYTES) throw new CodecError("device list: too long");
  // A copy: Reader slices what it returns, and a slice of a Node Buffer is a view of it, not a copy.
  const r = new Reader(new Uint8Array(bytes), "device list");
  if (r.u8() !== DEVICE_LIST_FORMAT) throw new CodecError("device list: unknown format");
  const nameLength = r.u8();
  const username = new TextDecoder().decode(r.bytes(nameLength));
  try {
    usernameBytes(username);
  } catch {
    throw new CodecError("device list: not a canonical username");
  }
  const version = r.u32();
  const high = r.u32();
  const low = r.u32();
  if (high > 0x1fffff) throw new CodecError("device list: time above 2^53 - 1");
  const issuedMs = high * 0x100000000 + low;
  const count = r.u8();
  const devices: DeviceEntry[] = [];
  for (let i = 0; i < count; i++) devices.push(readDeviceEntry(r));
  const signature = r.bytes(64);
  r.end();
  const list = { username, version, issuedMs, devices, signature };
  checkShape(list, (m) => new CodecError(m));
  return list;
}

/** The body (everything before the signature) of an encoded list. */
export function deviceListBody(bytes: Uint8Array): Uint8Array {
  if (bytes.length < 64) throw new CodecError("device list: truncated");
  return bytes.slice(0, bytes.length - 64);
}

/** The outcome of verifying a decoded list under an account key. */
export type DeviceListVerdict =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: "bad_signature" }
  | { readonly ok: false; readonly reason: "bad_certificate"; readonly deviceId: number };

/**
 * Verifies an encoded list (already decoded as `list`) under the account's 64-byte identity
 * key (its Ed25519 half signs): first the list signature, then each device's identity and
 * certificate (§17.2, including device 1 = the account key), strictly (§2.1). `verify` and
 * `enforceAccountSlot` are replaceable only for the mutation tests.
 */
export function verifyDeviceList(
  accountKey: Uint8Array,
  bytes: Uint8Array,
  list: DeviceList,
  verify: (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => boolean = ed25519Verify,
  enforceAccountSlot = true,
): DeviceListVerdict {
  const signingKey = accountKey.slice(0, 32);
  if (!verify(signingKey, deviceListSignedBytes(accountKey, deviceListBody(bytes)), list.signature))
    return { ok: false, reason: "bad_signature" };
  for (const entry of list.devices) {
    if (!deviceEntryValid(signingKey, accountKey, list.username, entry, verify, enforceAccountSlot))
      return { ok: false, reason: "bad_certificate", deviceId: entry.id };
  }
  return { ok: true };
}
