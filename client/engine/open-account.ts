/**
 * Opening the account of a profile, the way every `smsg` command after `join` starts: unlock
 * the profile (with the passphrase when it has one), read the account row and rebuild the
 * identity, then, when the command needs the relay, connect to the pinned relay and log in
 * (SECURITY.md §10.4). Every failure is one clear sentence: no profile, wrong passphrase, relay
 * unreachable, login refused.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  type IdentityKeyPair,
  type IdentityPublic,
  decodeIdentityPublic,
  identityFromSecrets,
} from "../../crypto/identity.js";
import { wipe } from "../../crypto/primitives.js";
import type { Rng } from "../../crypto/rng.js";
import {
  ConnectionClosedError,
  CryptoVerificationError,
  HandshakeRefusedError,
  RemoteError,
  TimeoutError,
} from "../../src/errors.js";
import { relayKeyFingerprint } from "../../src/relay-key-fingerprint.js";
import { systemRng } from "../../src/system-rng.js";
import { ProfileNotFoundError } from "../profile/errors.js";
import { openProfile } from "../profile/open.js";
import { KEYSTORE_FILE, STORE_FILE } from "../profile/paths.js";
import { RelayClient } from "../relay-client.js";
import type { ClientStore, ClientStoreOptions } from "../store/index.js";
import {
  LoginFailedError,
  NotJoinedError,
  type PinnedKeySource,
  RelayKeyMismatchError,
  RelayUnreachableError,
} from "./errors.js";
import { forgetSessionStates, pruneSessionStates } from "./session-states.js";

/** How long connecting, the handshake and hello may take together, by default (ms). */
export const CONNECT_TIMEOUT_MS = 10_000;

/** An opened account: the profile's store and who we are. Everything else takes one of these. */
export interface Account {
  /** The profile folder. */
  readonly dir: string;
  readonly store: ClientStore;
  /** Our username on the relay (canonical). */
  readonly username: string;
  readonly displayName: string | null;
  readonly relayHost: string;
  readonly relayPort: number;
  /** The relay's Noise static key, pinned from the invite. */
  readonly relayKey: Uint8Array;
  /** This device's identity (private keys included); on device 1 the account key itself (SECURITY.md §17.1). */
  readonly identity: IdentityKeyPair;
  /** This device's id in the account (SECURITY.md §17.1); 1 for a joined profile. */
  readonly deviceId: number;
  /** The account IdentityPublic: what contacts pin and safety numbers are made of (on device 1, identity's). */
  readonly accountIdentity: IdentityPublic;
  /** The login credential (32 bytes). */
  readonly credential: Uint8Array;
  readonly rng: Rng;
  /** The clock, in ms since the epoch. */
  readonly now: () => number;
}

/** Options of openLocalAccount. */
export interface OpenAccountOptions {
  /** The profile folder (client/profile/paths.ts resolveProfileDir). */
  readonly dir: string;
  /** The profile's passphrase, when it has one. */
  readonly passphrase?: string | undefined;
  /** Randomness for crypto and seal nonces; the system CSPRNG by default. */
  readonly rng?: Rng;
  /** The clock; Date.now by default. */
  readonly now?: () => number;
  /** Passed on to the store (busy timeout, clock). */
  readonly store?: ClientStoreOptions;
}

/**
 * Opens the profile in `opts.dir` and its account, without touching the network.
 * Throws ProfileNotFoundError (no profile there), PassphraseRequiredError, WrongPassphraseError
 * (nothing changed on disk), NotJoinedError (a profile whose join never completed), or what
 * openProfile throws for a damaged profile.
 */
export function openLocalAccount(opts: OpenAccountOptions): Account {
  const { dir } = opts;
  if (!existsSync(join(dir, KEYSTORE_FILE)) || !existsSync(join(dir, STORE_FILE))) throw new ProfileNotFoundError(dir);
  const rng = opts.rng ?? systemRng;
  const now = opts.now ?? Date.now;
  const store = openProfile(dir, opts.passphrase, { rng, now, ...opts.store });
  store.sessions.onDeleted = () => pruneSessionStates(store);
  try {
    const a = store.account.get();
    if (!a) throw new NotJoinedError(dir);
    const identity = identityFromSecrets(a.signingSeed, a.dhPrivate);
    const accountIdentity = a.accountIdentity === null ? identity.publicKey : decodeIdentityPublic(a.accountIdentity);
    wipe(a.signingSeed, a.dhPrivate, a.accountSigningSeed, a.backupKey ?? undefined);
    return {
      dir,
      store,
      username: a.username,
      displayName: a.displayName,
      relayHost: a.relayHost,
      relayPort: a.relayPort,
      relayKey: a.relayKey,
      identity,
      deviceId: a.deviceId,
      accountIdentity,
      credential: a.credential,
      rng,
      now,
    };
  } catch (e) {
    store.close();
    throw e;
  }
}

/** Closes the account's store and wipes its private keys. Idempotent. */
export function closeAccount(acct: Account): void {
  forgetSessionStates(acct.store);
  if (acct.store.isOpen) acct.store.close();
  wipe(acct.identity.signing.privateKey, acct.identity.dh.privateKey, acct.credential);
}

/** What the relay said when we logged in. */
export interface LoginInfo {
  readonly isAdmin: boolean;
  /** One-time prekeys the relay still holds for us. */
  readonly stock: number;
}

/** Options of connectRelay / connectAccount. */
export interface ConnectOptions {
  /** Connecting, handshake and hello together (default CONNECT_TIMEOUT_MS). */
  readonly timeoutMs?: number;
  /** Per request (RelayClient's default when absent). */
  readonly requestTimeoutMs?: number;
}

/** Where connectRelay connects to. */
type RelayTarget = { host: string; port: number; relayKey: Uint8Array; rng: Rng; keyFrom?: PinnedKeySource };

/**
 * Connects to a relay with its pinned key (TCP, Noise NK, hello). Throws RelayKeyMismatchError
 * when the address answered but the handshake was refused or did not verify (a relay without
 * the pinned key, SECURITY.md §10.3), else RelayUnreachableError whatever went wrong on the way
 * (refused, timed out, closed). `target.keyFrom` says where the key came from, for the sentence.
 */
export async function connectRelay(target: RelayTarget, opts: ConnectOptions = {}): Promise<RelayClient> {
  return (await connectRelayThen(target, opts, () => Promise.resolve())).relay;
}

/**
 * connectRelay, with `first`'s request sent right behind hello (RelayClient.connectThen: one
 * round trip less). Throws as connectRelay does; `answer` is `first`'s reply, and its failure
 * is the caller's to tell.
 */
async function connectRelayThen<T>(
  target: RelayTarget,
  opts: ConnectOptions,
  first: (relay: RelayClient) => Promise<T>,
): Promise<{ relay: RelayClient; answer: Promise<T> }> {
  try {
    const { client, answer } = await RelayClient.connectThen(
      {
        host: target.host,
        port: target.port,
        relayKey: target.relayKey,
        rng: target.rng,
        timeoutMs: opts.timeoutMs ?? CONNECT_TIMEOUT_MS,
        ...(opts.requestTimeoutMs !== undefined ? { requestTimeoutMs: opts.requestTimeoutMs } : {}),
      },
      first,
    );
    return { relay: client, answer };
  } catch (e) {
    if (e instanceof HandshakeRefusedError || e instanceof CryptoVerificationError) {
      const fp = relayKeyFingerprint(target.relayKey);
      throw new RelayKeyMismatchError(target.host, target.port, fp, target.keyFrom ?? "profile", { cause: e });
    }
    throw asUnreachable(target.host, target.port, e);
  }
}

/**
 * Connects to the account's relay and logs in. Throws RelayUnreachableError, LoginFailedError
 * (AUTH_FAILED), or the relay's RemoteError (ACCOUNT_DISABLED, RATE_LIMITED, …).
 */
export async function connectAccount(
  acct: Account,
  opts: ConnectOptions = {},
): Promise<{ relay: RelayClient; login: LoginInfo }> {
  // The login goes right behind hello: every command that goes online waits one round trip less.
  const { relay, answer } = await connectRelayThen(
    { host: acct.relayHost, port: acct.relayPort, relayKey: acct.relayKey, rng: acct.rng },
    opts,
    (c) => c.login(acct.username, acct.credential, acct.identity, acct.deviceId),
  );
  try {
    const r = await answer;
    return { relay, login: { isAdmin: r.is_admin, stock: r.stock } };
  } catch (e) {
    relay.close();
    if (e instanceof RemoteError && e.code === "AUTH_FAILED") throw new LoginFailedError(acct.username, { cause: e });
    throw asUnreachable(acct.relayHost, acct.relayPort, e);
  }
}

/**
 * `e` as RelayUnreachableError when it says the relay could not be talked to (a closed or
 * timed-out connection, the relay shutting down, or its database unavailable); otherwise `e` itself.
 */
export function asUnreachable(host: string, port: number, e: unknown): unknown {
  if (e instanceof RelayUnreachableError) return e;
  if (e instanceof ConnectionClosedError || e instanceof TimeoutError) {
    return new RelayUnreachableError(host, port, shortReason(e.message, host, port), { cause: e });
  }
  if (
    e instanceof RemoteError &&
    (e.code === "SHUTTING_DOWN" ||
      e.code === "TOO_MANY_CONNECTIONS" ||
      e.code === "TIMEOUT" ||
      e.code === "UNAVAILABLE")
  ) {
    return new RelayUnreachableError(host, port, e.message, { cause: e });
  }
  return e;
}

/** The reason without the "cannot reach the relay at host:port" that RelayClient already put in. */
function shortReason(message: string, host: string, port: number): string {
  const m = new RegExp(
    `^cannot reach the relay at ${host.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:${port} \\((.*)\\)$`,
  ).exec(message);
  return m?.[1] ?? message;
}
