/**
 * A new device of an existing account (SECURITY.md §17.1, §17.6, §18.6): writes its profile,
 * then registers it with the relay. Shared by `smsg login` (the account seed came from the
 * passphrase backup) and `smsg device add` (it came in a link grant). The caller has already
 * made the device's identity and a list, signed by the account, that holds it; this module
 * checks that list, stores everything in one transaction (with the account-state snapshot of
 * the grant or backup, §17.6.1 "Applying"), and builds the `register_device` request (§17.8)
 * for the connection it goes out on.
 *
 * Nothing is half-written: a refused list or a failed write removes the new profile again,
 * and `abandon` does the same when the relay refuses the registration.
 */
import { existsSync } from "node:fs";
import { join as joinPath } from "node:path";
import { bytesEqual } from "../../crypto/bytes.js";
import {
  type IdentityKeyPair,
  type IdentityPublic,
  encodeIdentityPublic,
  identityFromSecrets,
  identityKey,
  verifyIdentityPublic,
} from "../../crypto/identity.js";
import { ed25519FromSeed, wipe } from "../../crypto/primitives.js";
import type { Rng } from "../../crypto/rng.js";
import { CryptoVerificationError, UsageError } from "../../src/errors.js";
import type { ClientMessageOf } from "../../src/wire/messages.js";
import { ProfileExistsError } from "../profile/errors.js";
import type { KeystoreOptions } from "../profile/keystore.js";
import { createProfile, removeProfileFiles } from "../profile/open.js";
import { KEYSTORE_FILE } from "../profile/paths.js";
import { loginSignature } from "../relay-client.js";
import type { ClientStore } from "../store/client-store.js";
import type { BackupMaterial } from "../store/types.js";
import { type AppliedAccountState, applyAccountState } from "./account-state-snapshot.js";
import { storeInitialPrekeys } from "./initial-prekeys.js";
import { ONE_TIME_PREKEY_BATCH } from "./prekeys.js";

/** What createDeviceProfile needs. */
export interface NewDeviceOptions {
  /** The profile folder to create (it must not hold a profile). */
  readonly dir: string;
  readonly relayHost: string;
  readonly relayPort: number;
  /** The relay key the new device pins (from the link it was given, §14.8). */
  readonly relayKey: Uint8Array;
  /** Canonical username of the account. */
  readonly username: string;
  /** The account IdentityPublic: verified here (§4.1) and pinned as the account key. */
  readonly accountIdentity: IdentityPublic;
  /** The account's Ed25519 seed; its public key must be the account's. */
  readonly accountSigningSeed: Uint8Array;
  /** This device's own new identity (§17.1: never the account key; device 1 is the only one that is). */
  readonly device: IdentityKeyPair;
  /** The id the list gives this device. */
  readonly deviceId: number;
  /** The account's list, signed by the account, holding `deviceId` with exactly `device`'s keys. */
  readonly deviceList: Uint8Array;
  /** The account-state snapshot (§17.6.1) of the grant or backup; applied in the same transaction. */
  readonly accountState?: Uint8Array;
  /**
   * `smsg login` only: what it keeps to update the passphrase backup (§18.6 "Update"), stored
   * in the same transaction. A device made by a link grant never saw the passphrase: none.
   */
  readonly backupMaterial?: BackupMaterial;
  /** Protects the new profile's keystore (Argon2id) when given. */
  readonly profilePassphrase?: string | undefined;
  readonly displayName?: string | null;
  readonly rng: Rng;
  readonly now?: () => number;
  readonly keystore?: KeystoreOptions;
}

/** A device profile written and not yet registered. */
export interface PendingDevice {
  /** The open store of the new profile (the caller closes it). */
  readonly store: ClientStore;
  /** What the account-state snapshot brought (undefined when none was given). */
  readonly applied: AppliedAccountState | undefined;
  /** The `register_device` request for a connection with this Noise handshake hash (§10.4): registerDeviceRequest. */
  readonly request: (id: number, handshakeHash: Uint8Array) => ClientMessageOf<"register_device">;
  /** The relay answered `joined`: the prekeys are published. */
  readonly registered: () => void;
  /** The relay refused it: closes the store and removes the profile (nothing of it stays). */
  readonly abandon: () => void;
}

/**
 * Writes the profile of device `opts.deviceId` of the account, in one transaction: the account
 * row (this device's identity, the account identity and seed, a fresh credential), its
 * prekeys, its own account's device list accepted under the account key (§17.4), and the
 * account-state snapshot when given. Throws, writing nothing: ProfileExistsError;
 * AccountStateError for a snapshot that does not decode (§17.6.1); CryptoVerificationError when the account
 * identity does not verify, the seed is not the account's, or the list does not hold this
 * device (or is refused by §17.4); AccountStateError (CODEC) for a snapshot that does not
 * decode (§17.6.1: the new device stores nothing); UsageError for device id 1 (the account
 * key's own slot).
 */
export function createDeviceProfile(opts: NewDeviceOptions): PendingDevice {
  if (opts.deviceId === 1) throw new UsageError("device 1 is the account key itself: a new device has another id");
  verifyIdentityPublic(opts.accountIdentity);
  const seedKey = ed25519FromSeed(opts.accountSigningSeed);
  const seedMatches = bytesEqual(seedKey.publicKey, opts.accountIdentity.signingKey);
  wipe(seedKey.privateKey);
  if (!seedMatches) throw new CryptoVerificationError("the account signing key does not belong to the account key");
  if (existsSync(joinPath(opts.dir, KEYSTORE_FILE))) throw new ProfileExistsError(opts.dir);
  const dirExisted = existsSync(opts.dir);

  const store = createProfile(opts.dir, opts.rng, opts.profilePassphrase, {
    ...(opts.keystore ? { keystore: opts.keystore } : {}),
    store: { rng: opts.rng, ...(opts.now ? { now: opts.now } : {}) },
  });
  const abandon = () => {
    store.close();
    removeProfileFiles(opts.dir, !dirExisted);
  };
  try {
    const credential = opts.rng(32);
    const accountKey = identityKey(opts.accountIdentity);
    const seed = opts.device.signing.privateKey.slice(0, 32);
    const { prekeys, applied } = store.transaction(() => {
      const decision = store.deviceLists.offer({ username: opts.username, accountKey }, opts.deviceList);
      if (!decision.accepted)
        throw new CryptoVerificationError(`the account's device list was refused (${decision.refusal.reason})`);
      const mine = decision.state.list.devices.find((d) => d.id === opts.deviceId);
      if (
        mine === undefined ||
        !bytesEqual(mine.identity.signingKey, opts.device.publicKey.signingKey) ||
        !bytesEqual(mine.identity.dhKey, opts.device.publicKey.dhKey)
      )
        throw new CryptoVerificationError(
          `the account's device list does not hold this device as device ${opts.deviceId}`,
        );
      store.account.set({
        relayHost: opts.relayHost,
        relayPort: opts.relayPort,
        relayKey: opts.relayKey,
        username: opts.username,
        displayName: opts.displayName ?? null,
        credential,
        signingSeed: seed,
        dhPrivate: opts.device.dh.privateKey,
        deviceId: opts.deviceId,
        accountIdentity: encodeIdentityPublic(opts.accountIdentity),
        accountSigningSeed: opts.accountSigningSeed,
      });
      if (opts.backupMaterial !== undefined) store.account.setBackupMaterial(opts.backupMaterial);
      const applied = opts.accountState === undefined ? undefined : applyAccountState(store, opts.accountState);
      return { prekeys: storeInitialPrekeys(store, opts.rng, opts.device), applied };
    });
    wipe(seed);
    return {
      store,
      applied,
      request: (id, handshakeHash) => registerDeviceRequest(store, id, handshakeHash),
      registered: () => {
        prekeys.markPublished();
        wipe(credential);
      },
      abandon,
    };
  } catch (e) {
    abandon();
    throw e;
  }
}

/**
 * The `register_device` request (§17.8) of the device whose profile `store` is, for a
 * connection with this Noise handshake hash (§10.4): its credential and identity, signed by
 * the device's own key, its current signed prekey and the one-time prekeys not yet published.
 * Built from the store alone, so a registration whose answer was lost can be repeated later,
 * by another process, byte for byte but the signature. Throws UsageError without an account
 * or a signed prekey.
 */
export function registerDeviceRequest(
  store: ClientStore,
  id: number,
  handshakeHash: Uint8Array,
): ClientMessageOf<"register_device"> {
  const acct = store.account.get();
  const spk = store.prekeys.currentSigned();
  if (acct === undefined || spk === undefined) throw new UsageError("this profile holds no device to register");
  const device = identityFromSecrets(acct.signingSeed, acct.dhPrivate);
  const oneTime = store.prekeys.unpublishedOneTime(ONE_TIME_PREKEY_BATCH);
  try {
    return {
      t: "register_device",
      id,
      username: acct.username,
      device: acct.deviceId,
      credential: acct.credential,
      identity: encodeIdentityPublic(device.publicKey),
      signed_prekey: { key_id: spk.id, public_key: spk.publicKey, signature: spk.signature },
      one_time_prekeys: oneTime.map((k) => ({ key_id: k.id, public_key: k.publicKey })),
      signature: loginSignature(device, handshakeHash),
    };
  } finally {
    wipe(acct.signingSeed, acct.dhPrivate, acct.accountSigningSeed, spk.privateKey, device.signing.privateKey);
    wipe(device.dh.privateKey, acct.backupKey ?? undefined, ...oneTime.map((k) => k.privateKey));
  }
}
