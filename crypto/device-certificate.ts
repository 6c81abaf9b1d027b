/**
 * Device certificates (SECURITY.md §17.2): the account identity key (§4.1, §17.1) signs each
 * device's own identity — its Ed25519 and X25519 keys in the 128-byte `IdentityPublic` form —
 * together with the account's name and key and the device's id, so a device key can be
 * presented for exactly one device of exactly one account.
 */
import { Reader, bytesEqual, concat, u32be, utf8 } from "./bytes.js";
import { CodecError, UsageError } from "./errors.js";
import {
  IDENTITY_KEY_BYTES,
  type IdentityKeyPair,
  type IdentityPublic,
  encodeIdentityPublic,
  identityKey,
} from "./identity.js";
import { label } from "./labels.js";
import { blake2b, ed25519Sign, ed25519Verify } from "./primitives.js";
import { identityDhKeyMessage } from "./signed-messages.js";

/** A device entry on the wire: u32be(id) || device IdentityPublic (128) || certificate signature (64). */
export const DEVICE_ENTRY_BYTES = 4 + 128 + 64;
/** Device ids are u32 and start at 1 (§17.1); 0 is never a device. */
export const MIN_DEVICE_ID = 1;

/** Canonical usernames (§14.5), repeated here because crypto/ imports nothing from src/. */
const USERNAME = /^[a-z0-9][a-z0-9_.-]{2,31}$/;

/** A device of an account: its id and its own identity (§17.2). */
export interface DeviceEntry {
  readonly id: number;
  readonly identity: IdentityPublic;
  /** Ed25519(account signing key, deviceCertificateSignedBytes(...)). */
  readonly certificateSignature: Uint8Array;
}

/**
 * What signs for an account: its Ed25519 key pair and its public identity. Every device holds
 * the account signing seed (§17.1), but only device 1 holds the account's X25519 key.
 */
export type AccountSigner = Pick<IdentityKeyPair, "signing" | "publicKey">;

/** The bytes of a canonical username; throws UsageError for any other string. */
export function usernameBytes(username: string): Uint8Array {
  if (!USERNAME.test(username)) throw new UsageError(`not a canonical username: ${JSON.stringify(username)}`);
  return utf8(username);
}

/** Throws UsageError unless `id` is a device id: a u32 of at least 1. */
export function checkDeviceId(id: number): void {
  if (!Number.isInteger(id) || id < MIN_DEVICE_ID || id > 0xffffffff) throw new UsageError(`not a device id: ${id}`);
}

/**
 * §17.2: `L("SMSG-v1 device certificate") || account identity_key (64) || u8(len(username)) ||
 * username || u32be(device id) || device IdentityPublic (128)`.
 */
export function deviceCertificateSignedBytes(
  accountKey: Uint8Array,
  username: string,
  deviceId: number,
  device: IdentityPublic,
): Uint8Array {
  if (accountKey.length !== IDENTITY_KEY_BYTES) throw new UsageError("account identity key must be 64 bytes");
  checkDeviceId(deviceId);
  const name = usernameBytes(username);
  return concat(
    label("deviceCertificate"),
    accountKey,
    new Uint8Array([name.length]),
    name,
    u32be(deviceId),
    encodeIdentityPublic(device),
  );
}

/** The account signs a device: returns its entry (§17.2). */
export function certifyDevice(
  account: AccountSigner,
  username: string,
  deviceId: number,
  device: IdentityPublic,
): DeviceEntry {
  const signed = deviceCertificateSignedBytes(identityKey(account.publicKey), username, deviceId, device);
  return { id: deviceId, identity: device, certificateSignature: ed25519Sign(account.signing.privateKey, signed) };
}

/** The 196-byte wire form of an entry. */
export function encodeDeviceEntry(entry: DeviceEntry): Uint8Array {
  checkDeviceId(entry.id);
  return concat(u32be(entry.id), encodeIdentityPublic(entry.identity), entry.certificateSignature);
}

/**
 * Reads one entry from `r`, structurally: no signature is checked here. The device's own
 * dh-key signature (§4.1) and the certificate are checked by `deviceEntryValid`, once the
 * account is known. Throws CodecError for an id of 0 or a truncated entry.
 */
export function readDeviceEntry(r: Reader): DeviceEntry {
  const id = r.u32();
  if (id < MIN_DEVICE_ID) throw new CodecError("device list: device id 0");
  const identity = { signingKey: r.bytes(32), dhKey: r.bytes(32), dhKeySignature: r.bytes(64) };
  return { id, identity, certificateSignature: r.bytes(64) };
}

/**
 * Whether an entry is a device of the account: device 1 is the account key itself and no other
 * id carries either of the account's keys (§17.1, §17.2); the device's own dh-key signature
 * (§4.1) and the account's certificate signature (§17.2) both verify, strictly (§2.1, through
 * `verify`). `enforceAccountSlot` is false only in the mutation tests.
 */
export function deviceEntryValid(
  accountSigningKey: Uint8Array,
  accountKey: Uint8Array,
  username: string,
  entry: DeviceEntry,
  verify: (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => boolean = ed25519Verify,
  enforceAccountSlot = true,
): boolean {
  const d = entry.identity;
  const isAccount =
    bytesEqual(d.signingKey, accountKey.subarray(0, 32)) && bytesEqual(d.dhKey, accountKey.subarray(32));
  const holdsAccountKey =
    bytesEqual(d.signingKey, accountKey.subarray(0, 32)) || bytesEqual(d.dhKey, accountKey.subarray(32));
  if (enforceAccountSlot && (entry.id === 1 ? !isAccount : holdsAccountKey)) return false;
  if (!verify(d.signingKey, identityDhKeyMessage(d.dhKey), d.dhKeySignature)) return false;
  const signed = deviceCertificateSignedBytes(accountKey, username, entry.id, d);
  return verify(accountSigningKey, signed, entry.certificateSignature);
}

/**
 * A device's fingerprint, shown in `device list` and in "alice added a device" (§17.7):
 * BLAKE2b-160 of its 64-byte identity key, as five groups of 8 hex digits.
 */
export function deviceFingerprint(device: IdentityPublic): string {
  const hex = Buffer.from(blake2b(identityKey(device), 20)).toString("hex");
  return hex.match(/.{8}/g)!.join(" ");
}
