/**
 * The acceptance rule for device lists (SECURITY.md §17.4): a pure function of (what the
 * client holds for an account, a new encoded list) to either the new state, with the devices
 * added and removed, or a typed refusal that leaves the state exactly as it was. The client
 * keeps one state per account it talks to, its own included.
 */
import { bytesEqual } from "./bytes.js";
import type { DeviceEntry } from "./device-certificate.js";
import { type DeviceList, decodeDeviceList, verifyDeviceList } from "./device-list.js";
import { CodecError, UsageError } from "./errors.js";
import { IDENTITY_KEY_BYTES } from "./identity.js";
import { ed25519Verify } from "./primitives.js";

/** What a client keeps per account: the last accepted list and the highest device id ever accepted. */
export interface DeviceListState {
  readonly username: string;
  /** The account's 64-byte identity key (§4.1) the list was verified under: the pinned one. */
  readonly accountKey: Uint8Array;
  /** The accepted list, exactly as received (to tell a replay from a conflict). */
  readonly encoded: Uint8Array;
  readonly list: DeviceList;
  /** The highest device id of any list accepted for this account: ids at or below it never return. */
  readonly highestDeviceId: number;
}

/** Why a list was refused; the client's reaction to each is §17.4's table. */
export type DeviceListRefusal =
  | { readonly reason: "malformed"; readonly message: string }
  | { readonly reason: "wrong_account" }
  | { readonly reason: "replayed" }
  | { readonly reason: "bad_signature" }
  | { readonly reason: "bad_certificate"; readonly deviceId: number }
  | { readonly reason: "rolled_back"; readonly version: number; readonly acceptedVersion: number }
  | { readonly reason: "conflict"; readonly version: number }
  | { readonly reason: "removed_device_returned"; readonly deviceId: number }
  | { readonly reason: "device_key_changed"; readonly deviceId: number };

export type DeviceListDecision =
  | {
      readonly accepted: true;
      readonly state: DeviceListState;
      /** Devices in the new list and not in the old one (all of them on first acceptance). */
      readonly added: readonly DeviceEntry[];
      /** Devices in the old list and not in the new one. */
      readonly removed: readonly DeviceEntry[];
    }
  | { readonly accepted: false; readonly refusal: DeviceListRefusal };

/**
 * The checks, replaceable only so that test/crypto/vector-mutants.test.ts can show that the
 * published cases catch an implementation that leaves one out.
 */
export interface DeviceListRules {
  /** §2.1: strict Ed25519 verification. */
  readonly verify: (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => boolean;
  /** Step 5: a version below the accepted one is refused. */
  readonly refuseRollback: boolean;
  /** Step 5: the same version with other bytes is refused. */
  readonly refuseConflict: boolean;
  /** Step 6: a removed id never comes back, and an id keeps its key. */
  readonly refuseReturningDevices: boolean;
  /** §17.2: device 1 is the account key and no other id carries the account's keys. */
  readonly enforceAccountSlot: boolean;
}

export const DEVICE_LIST_RULES: DeviceListRules = Object.freeze({
  verify: ed25519Verify,
  refuseRollback: true,
  refuseConflict: true,
  refuseReturningDevices: true,
  enforceAccountSlot: true,
});

/** The account a list must belong to: the name and the pinned 64-byte identity key. */
export interface DeviceListAccount {
  readonly username: string;
  readonly accountKey: Uint8Array;
}

const refuse = (refusal: DeviceListRefusal): DeviceListDecision => ({ accepted: false, refusal });

/**
 * §17.4, in order: 1 decode (malformed); 2 the username (wrong_account); 3 the same bytes as
 * the accepted list (replayed); 4 the list signature under the pinned account key
 * (bad_signature), then every device's identity and certificate (bad_certificate); 5 the
 * version against the accepted one (rolled_back below, conflict equal); 6 every id at or below
 * the highest ever accepted must be in the accepted list with the same keys
 * (removed_device_returned, device_key_changed); 7 accept. Never throws for bad input; throws
 * UsageError when `stored` belongs to another account than `account` (the caller drops the
 * stored state when the user accepts a changed account key, §17.4).
 */
export function acceptDeviceList(
  account: DeviceListAccount,
  stored: DeviceListState | null,
  encoded: Uint8Array,
  rules: DeviceListRules = DEVICE_LIST_RULES,
): DeviceListDecision {
  if (account.accountKey.length !== IDENTITY_KEY_BYTES) throw new UsageError("account identity key must be 64 bytes");
  if (stored && (stored.username !== account.username || !bytesEqual(stored.accountKey, account.accountKey)))
    throw new UsageError("the stored device list state belongs to another account key");

  let list: DeviceList;
  try {
    list = decodeDeviceList(encoded);
  } catch (e) {
    if (e instanceof CodecError) return refuse({ reason: "malformed", message: e.message });
    throw e;
  }
  if (list.username !== account.username) return refuse({ reason: "wrong_account" });
  if (stored && bytesEqual(stored.encoded, encoded)) return refuse({ reason: "replayed" });

  const verdict = verifyDeviceList(account.accountKey, encoded, list, rules.verify, rules.enforceAccountSlot);
  if (!verdict.ok) {
    return refuse(
      verdict.reason === "bad_signature"
        ? { reason: "bad_signature" }
        : { reason: "bad_certificate", deviceId: verdict.deviceId },
    );
  }

  if (stored) {
    const acceptedVersion = stored.list.version;
    if (rules.refuseRollback && list.version < acceptedVersion)
      return refuse({ reason: "rolled_back", version: list.version, acceptedVersion });
    if (rules.refuseConflict && list.version === acceptedVersion)
      return refuse({ reason: "conflict", version: list.version });
    if (rules.refuseReturningDevices) {
      for (const entry of list.devices) {
        if (entry.id > stored.highestDeviceId) continue;
        const before = stored.list.devices.find((d) => d.id === entry.id);
        if (!before) return refuse({ reason: "removed_device_returned", deviceId: entry.id });
        if (!sameDevice(before, entry)) return refuse({ reason: "device_key_changed", deviceId: entry.id });
      }
    }
  }

  const old = stored?.list.devices ?? [];
  const added = list.devices.filter((d) => !old.some((o) => o.id === d.id));
  const removed = old.filter((o) => !list.devices.some((d) => d.id === o.id));
  const highest = Math.max(stored?.highestDeviceId ?? 0, ...list.devices.map((d) => d.id));
  const state: DeviceListState = Object.freeze({
    username: account.username,
    accountKey: account.accountKey.slice(),
    encoded: encoded.slice(),
    list,
    highestDeviceId: highest,
  });
  return { accepted: true, state, added, removed };
}

/** Same id and the same two public keys (the signatures may differ: a re-signed certificate is the same device). */
function sameDevice(a: DeviceEntry, b: DeviceEntry): boolean {
  return (
    a.id === b.id &&
    bytesEqual(a.identity.signingKey, b.identity.signingKey) &&
    bytesEqual(a.identity.dhKey, b.identity.dhKey)
  );
}
