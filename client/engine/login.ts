/**
 * `smsg login`: a new machine becomes a new device of an existing account with the relay link,
 * the username and the account passphrase (SECURITY.md §18.6 "Log-in on a new machine"). The
 * steps, in order:
 *
 * 1. check the input and refuse a folder that already holds a profile (nothing is asked yet);
 * 2. the passphrase log-in (passphrase-login.ts): `passphrase_salt` on one connection, the
 *    Argon2id with none open, `passphrase_login` and the backup on a second (§14.7's login
 *    timeout runs on it until `register_device`), the backup opened under the account key;
 * 3. on that connection, the account's current list, checked under the account key, and the
 *    next one with this device added (register-new-device.ts);
 * 4. the profile, in one transaction: this device's keys and prekeys, the account key and its
 *    signing seed, the accepted list and the backup's account state (new-device.ts, §17.6.1);
 * 5. `publish_device_list`, then `register_device`: the connection is now this device.
 *
 * Nothing is left behind by a failure before the relay stored the new list: the half-made
 * profile is removed (abandon). Once the list may be stored (published, or its answer lost),
 * the device is listed in the account, and a device that never registers would be a device its
 * contacts cannot reach; so the registration is repeated on new connections
 * (`register_device` is allowed before login and a repeat with the same credential succeeds,
 * §17.8) until the relay answers. A DEVICE_UNKNOWN answer after a lost publish means the list
 * was not stored: the profile is removed. When the relay stays unreachable the profile is kept
 * (its keys are the listed device's), and the same `smsg login` later finishes the
 * registration (resumeRegistration).
 */
import { existsSync } from "node:fs";
import { join as joinPath } from "node:path";
import { type IdentityKeyPair, generateIdentity } from "../../crypto/identity.js";
import { ed25519FromSeed, wipe } from "../../crypto/primitives.js";
import type { Rng } from "../../crypto/rng.js";
import { RemoteError, SmsgError, UsageError } from "../../src/errors.js";
import { parseRelayLink, type RelayLink } from "../../src/relay-link.js";
import { systemRng } from "../../src/system-rng.js";
import { normalizeUsername } from "../../src/wire/username.js";
import type { KeystoreOptions } from "../profile/keystore.js";
import { KEYSTORE_FILE } from "../profile/paths.js";
import type { RelayClient } from "../relay-client.js";
import { type PendingDevice, createDeviceProfile } from "./new-device.js";
import type { NewDeviceList } from "./new-device-list.js";
import { RelayUnreachableError } from "./errors.js";
import { type ConnectOptions, asUnreachable, connectRelay } from "./open-account.js";
import { passphraseLogIn } from "./passphrase-login.js";
import { type Registered, nextListFromRelay, publishNewList, registerNewDevice } from "./register-new-device.js";
import { resumeRegistration } from "./resume-registration.js";

/** How often `register_device` is sent, on new connections, once the new list may be stored. */
export const REGISTER_ATTEMPTS = 3;
/** The wait before each repeat (ms): long enough for a relay that restarts or a network that recovers. */
const REGISTER_RETRY_WAIT_MS = 1_000;

/** A relay connection as the log-in uses it. */
export type LoginRelay = Pick<RelayClient, "request" | "handshakeHash" | "close">;

/** What logInNewDevice needs. */
export interface LoginOptions {
  /** The profile folder to create (it must not hold a profile). */
  readonly dir: string;
  /** The relay link, `smsg://HOST:PORT/RELAYKEY` (as `smsg whoami` prints it). */
  readonly link: string;
  /** The account's username (any ASCII case). */
  readonly username: string;
  /**
   * The account passphrase (§18; never checked by the strength rule when logging in, §18.7), or
   * how to get it: asked only when a log-in needs it (finishing an earlier run does not).
   */
  readonly passphrase: string | (() => Promise<string>);
  /** Protects the new profile's keystore (§16.1) when given. */
  readonly profilePassphrase?: string | undefined;
  /** Called right before the Argon2id of §18.2 (seconds). */
  readonly onDerive?: () => void;
  readonly rng?: Rng;
  readonly now?: () => number;
  /** Argon2id cost of the profile's keystore (tests pass a small one). */
  readonly keystore?: KeystoreOptions;
  readonly connect?: ConnectOptions;
  /** Opens a connection to the relay of the link (tests wrap it); connectRelay by default. */
  readonly dial?: (link: RelayLink, rng: Rng) => Promise<LoginRelay>;
  /** Waits before a repeated registration (tests pass one that does not wait). */
  readonly wait?: (ms: number) => Promise<void>;
}

/** What logInNewDevice returns. */
export interface LoginResult {
  readonly username: string;
  /** This device's id in the account (§17.1: never 1). */
  readonly deviceId: number;
  readonly isAdmin: boolean;
  readonly relayHost: string;
  readonly relayPort: number;
  /** One-time prekeys published. */
  readonly oneTimePrekeys: number;
  /** Contacts and chats taken from the backup's account state (§17.6.1). */
  readonly contacts: number;
  readonly chats: number;
  /** True when this run finished a registration an earlier run left unconfirmed. */
  readonly resumed: boolean;
}

/**
 * The relay did not confirm the registration, and the list that names this device may be
 * stored: the profile is kept so that the same `smsg login` can finish it. Code
 * JOIN_UNCONFIRMED (exit 8, as for a join the relay did not confirm).
 */
export class LoginUnconfirmedError extends SmsgError {
  constructor(username: string, deviceId: number, dir: string, reason: string, options?: { cause?: unknown }) {
    super(
      "JOIN_UNCONFIRMED",
      `the relay did not confirm device ${deviceId} of ${username} (${reason}); the profile in ${dir} was kept: ` +
        "run the same smsg login again to finish it",
      options,
    );
  }
}

/**
 * The relay refused `register_device` after it stored the list that names this device (or may
 * have): the profile is removed, and the sentence says how the account gets rid of the listed
 * device that never registered. The relay's own code.
 */
export class RegistrationRefusedError extends SmsgError {
  constructor(e: RemoteError, username: string, deviceId: number) {
    super(
      e.code,
      `the relay refused to register device ${deviceId} of ${username} (${e.message}); nothing was kept here, ` +
        `but the account's device list may name device ${deviceId}: remove it with smsg device remove ${deviceId} ` +
        "on another device of the account",
      { cause: e },
    );
  }
}

/** Another device changed the account's list between our fetch and our publish. The relay's DEVICE_LIST_STALE (exit 1). */
export class ListChangedError extends SmsgError {
  constructor(username: string, e: RemoteError) {
    super(
      e.code,
      `the device list of ${username} changed while this machine logged in (another device changed it): ` +
        "nothing was kept; run smsg login again",
      { cause: e },
    );
  }
}

/** The publish's answer was lost and the relay does not know the device: the list was not stored. Code RELAY_UNREACHABLE. */
export class ListNotStoredError extends SmsgError {
  constructor(username: string, e: RemoteError) {
    super(
      "RELAY_UNREACHABLE",
      `the connection to the relay broke while it was given the new device list of ${username}, and it did not ` +
        "store it: nothing was kept; run smsg login again",
      { cause: e },
    );
  }
}

const defaultDial = (link: RelayLink, rng: Rng, opts?: ConnectOptions): Promise<LoginRelay> =>
  connectRelay({ host: link.host, port: link.port, relayKey: link.relayKey, rng, keyFrom: "relay link" }, opts);

const defaultWait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Logs in on a new machine and writes the new device's profile in `opts.dir`. Throws, leaving
 * no profile: UsageError (a bad link or username, an empty passphrase), ProfileExistsError,
 * RelayUnreachableError, RelayKeyMismatchError, what passphraseLogIn throws (a wrong
 * passphrase: PassphraseLoginFailedError), what nextDeviceList and createDeviceProfile throw,
 * the relay's RemoteError (DEVICE_LIST_STALE: another device changed the list meanwhile), or
 * RegistrationRefusedError. Throws LoginUnconfirmedError keeping the profile (see the file
 * comment). A folder an earlier run left unconfirmed is finished instead (resumeRegistration).
 */
export async function logInNewDevice(opts: LoginOptions): Promise<LoginResult> {
  const link = parseRelayLink(opts.link);
  const username = normalizeUsername(opts.username);
  const rng = opts.rng ?? systemRng;
  const now = opts.now ?? Date.now;
  const dial = () =>
    (opts.dial ?? ((l: RelayLink, r: Rng) => defaultDial(l, r, opts.connect)))(link, rng).catch((e: unknown) => {
      throw asUnreachable(link.host, link.port, e);
    });
  if (existsSync(joinPath(opts.dir, KEYSTORE_FILE))) {
    const finished = await resumeRegistration({ ...opts, link, username, rng, now, dial });
    return { ...finished, relayHost: link.host, relayPort: link.port, resumed: true };
  }

  const passphrase = typeof opts.passphrase === "string" ? opts.passphrase : await opts.passphrase();
  if (passphrase === "") throw new UsageError("an account passphrase cannot be empty");
  let relay: LoginRelay;
  let backup;
  try {
    ({ backup, relay } = await passphraseLogIn({
      connect: dial,
      relayKey: link.relayKey,
      username,
      passphrase,
      ...(opts.onDerive ? { onDerive: opts.onDerive } : {}),
    }));
  } catch (e) {
    throw asUnreachable(link.host, link.port, e);
  }
  const signing = ed25519FromSeed(backup.accountSigningSeed);
  const device = generateIdentity(rng);
  let pending: PendingDevice | undefined;
  try {
    const next = await nextListFromRelay(relay, {
      username,
      account: { signing, publicKey: backup.account },
      device,
      nowMs: now(),
    });
    pending = createDeviceProfile({
      dir: opts.dir,
      relayHost: link.host,
      relayPort: link.port,
      relayKey: link.relayKey,
      username,
      accountIdentity: backup.account,
      accountSigningSeed: backup.accountSigningSeed,
      device,
      deviceId: next.deviceId,
      deviceList: next.list,
      accountState: backup.state,
      backupMaterial: backup.material,
      ...(opts.profilePassphrase !== undefined ? { profilePassphrase: opts.profilePassphrase } : {}),
      rng,
      now,
      ...(opts.keystore ? { keystore: opts.keystore } : {}),
    });
    const registered = await publishAndRegister(relay, dial, pending, next, {
      username,
      dir: opts.dir,
      wait: opts.wait ?? defaultWait,
    });
    pending.registered();
    return {
      username,
      deviceId: next.deviceId,
      isAdmin: registered.joined.is_admin,
      relayHost: link.host,
      relayPort: link.port,
      oneTimePrekeys: registered.oneTimePrekeys,
      contacts: pending.store.contacts.list().length,
      chats: pending.store.chats.list().length,
      resumed: false,
    };
  } catch (e) {
    if (pending && !(e instanceof LoginUnconfirmedError)) {
      pending.abandon();
      pending = undefined;
    }
    throw asUnreachable(link.host, link.port, e);
  } finally {
    if (pending?.store.isOpen) pending.store.close();
    relay.close();
    wipe(signing.privateKey, backup.accountSigningSeed, backup.material.backupKey, ...secretsOf(device));
  }
}

function secretsOf(device: IdentityKeyPair): Uint8Array[] {
  return [device.signing.privateKey, device.dh.privateKey];
}

/** True for a failure that says nothing about what the relay did with the request: its answer was lost. */
function answerLost(e: unknown): boolean {
  return e instanceof RelayUnreachableError || asUnreachable("", 0, e) !== e;
}

/**
 * §18.6's two requests, with the repeats the file comment explains. `relay` is the connection
 * that passed passphrase_login; `dial` opens new ones. Returns the relay's `joined`.
 */
async function publishAndRegister(
  relay: LoginRelay,
  dial: () => Promise<LoginRelay>,
  pending: PendingDevice,
  next: NewDeviceList,
  ctx: { readonly username: string; readonly dir: string; readonly wait: (ms: number) => Promise<void> },
): Promise<Registered> {
  let listStored: boolean | "unknown" = true;
  try {
    await publishNewList(relay, next);
  } catch (e) {
    // Refused: nothing was stored, the caller removes the profile.
    if (e instanceof RemoteError && e.code === "DEVICE_LIST_STALE") throw new ListChangedError(ctx.username, e);
    if (!answerLost(e)) throw e;
    listStored = "unknown";
  }
  let lastError: unknown;
  for (let attempt = 0; attempt < REGISTER_ATTEMPTS; attempt++) {
    // After a lost answer the first connection is gone; a repeat always goes out on a new one.
    const fresh = attempt > 0 || listStored === "unknown";
    let conn: LoginRelay | undefined;
    try {
      if (attempt > 0) await ctx.wait(REGISTER_RETRY_WAIT_MS);
      conn = fresh ? await dial() : relay;
      return await registerNewDevice(conn, pending);
    } catch (e) {
      if (answerLost(e)) {
        lastError = e;
        continue;
      }
      // The list was not stored when the relay does not know the device after a lost publish.
      if (listStored === "unknown" && e instanceof RemoteError && e.code === "DEVICE_UNKNOWN")
        throw new ListNotStoredError(ctx.username, e);
      if (e instanceof RemoteError) throw new RegistrationRefusedError(e, ctx.username, next.deviceId);
      throw e;
    } finally {
      if (fresh) conn?.close();
    }
  }
  const reason = lastError instanceof Error ? lastError.message : String(lastError);
  throw new LoginUnconfirmedError(ctx.username, next.deviceId, ctx.dir, reason, { cause: lastError });
}
