/**
 * `smsg join`: create an account on a relay from an invite link. In order: parse the link,
 * refuse an existing profile, connect to the relay with the link's key pinned (so nothing is
 * written when the relay cannot be reached), create the profile with a new identity, a signed
 * prekey and a batch of one-time prekeys (system RNG), send `join` signed over this
 * connection's handshake hash (SECURITY.md §10.4), then mark the prekeys published.
 *
 * The keys and the account row are committed before `join` leaves, so an account the relay
 * created always has its keys on disk. When the relay refuses the join (invite invalid, name
 * taken) the new profile is removed again, so the user can simply retry.
 */
import { existsSync } from "node:fs";
import { join as joinPath } from "node:path";
import { encodeIdentityPublic, generateIdentity } from "../../crypto/identity.js";
import { wipe } from "../../crypto/primitives.js";
import type { Rng } from "../../crypto/rng.js";
import { RemoteError, SmsgError, UsageError } from "../../src/errors.js";
import { parseInviteLink } from "../../src/invite-link.js";
import { systemRng } from "../../src/system-rng.js";
import { normalizeUsername } from "../../src/wire/username.js";
import { ProfileExistsError } from "../profile/errors.js";
import { MAX_DISPLAY_NAME_BYTES, encodeAppMessage } from "../protocol/app-message.js";
import type { KeystoreOptions } from "../profile/keystore.js";
import { createProfile, removeProfileFiles } from "../profile/open.js";
import { KEYSTORE_FILE } from "../profile/paths.js";
import { loginSignature } from "../relay-client.js";
import { type ConnectOptions, asUnreachable, connectRelay } from "./open-account.js";
import { storeInitialPrekeys } from "./initial-prekeys.js";

/** The invite link is malformed, or the relay says it is unknown, used up or expired. Code INVITE_INVALID. */
export class InviteInvalidError extends SmsgError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("INVITE_INVALID", message, options);
  }
}

/** The relay refused the username (taken, or reserved). Code USERNAME_TAKEN. */
export class UsernameTakenError extends SmsgError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("USERNAME_TAKEN", message, options);
  }
}

/** What joinRelay needs. */
export interface JoinOptions {
  /** The profile folder to create. */
  readonly dir: string;
  /** The invite link, `smsg://HOST:PORT/RELAYKEY/CODE`. */
  readonly link: string;
  /** The username to register (any ASCII case; stored lowercase). */
  readonly username: string;
  readonly displayName?: string | undefined;
  /** Protects the new profile's keystore (Argon2id) when given. */
  readonly passphrase?: string | undefined;
  /** The system CSPRNG by default; tests may pass another. */
  readonly rng?: Rng;
  readonly now?: () => number;
  /** Argon2id cost (tests pass a small one). */
  readonly keystore?: KeystoreOptions;
  readonly connect?: ConnectOptions;
}

/** What joinRelay returns. */
export interface JoinResult {
  readonly username: string;
  readonly isAdmin: boolean;
  readonly relayHost: string;
  readonly relayPort: number;
  /** One-time prekeys published. */
  readonly oneTimePrekeys: number;
}

/**
 * Joins the relay of `opts.link` and creates the profile in `opts.dir`. Throws
 * InviteInvalidError (malformed link, or refused by the relay), UsageError (bad username),
 * ProfileExistsError (a profile is already there; nothing is touched), RelayUnreachableError
 * (nothing is written), UsernameTakenError; on any refusal the new profile is removed. When the
 * connection breaks after `join` was sent, the outcome is unknown: the profile is kept and the
 * error says so.
 */
export async function joinRelay(opts: JoinOptions): Promise<JoinResult> {
  let link;
  try {
    link = parseInviteLink(opts.link);
  } catch (e) {
    throw new InviteInvalidError(e instanceof Error ? e.message : String(e), { cause: e });
  }
  const username = normalizeUsername(opts.username);
  if (opts.displayName !== undefined) checkDisplayName(opts.displayName);
  if (existsSync(joinPath(opts.dir, KEYSTORE_FILE))) throw new ProfileExistsError(opts.dir);
  const dirExisted = existsSync(opts.dir);
  const rng = opts.rng ?? systemRng;

  const relay = await connectRelay(
    { host: link.host, port: link.port, relayKey: link.relayKey, rng, keyFrom: "invite link" },
    opts.connect,
  );
  let created = false;
  let sent = false;
  try {
    const store = createProfile(opts.dir, rng, opts.passphrase, {
      ...(opts.keystore ? { keystore: opts.keystore } : {}),
      store: { rng, ...(opts.now ? { now: opts.now } : {}) },
    });
    created = true;
    try {
      const identity = generateIdentity(rng);
      const credential = rng(32);
      const seed = identity.signing.privateKey.slice(0, 32);
      const prekeys = store.transaction(() => {
        store.account.set({
          relayHost: link.host,
          relayPort: link.port,
          relayKey: link.relayKey,
          username,
          displayName: opts.displayName ?? null,
          credential,
          signingSeed: seed,
          dhPrivate: identity.dh.privateKey,
        });
        return storeInitialPrekeys(store, rng, identity);
      });
      wipe(seed);
      sent = true;
      const joined = await relay.request<"join">({
        t: "join",
        invite: link.code,
        username,
        credential,
        identity: encodeIdentityPublic(identity.publicKey),
        signed_prekey: prekeys.signedPrekey,
        one_time_prekeys: [...prekeys.oneTimePrekeys],
        signature: loginSignature(identity, relay.handshakeHash),
      });
      prekeys.markPublished();
      wipe(credential, identity.signing.privateKey, identity.dh.privateKey);
      return {
        username: joined.username,
        isAdmin: joined.is_admin,
        relayHost: link.host,
        relayPort: link.port,
        oneTimePrekeys: prekeys.oneTimePrekeys.length,
      };
    } finally {
      store.close();
    }
  } catch (e) {
    const refused = e instanceof RemoteError;
    if (created && (refused || !sent)) removeProfileFiles(opts.dir, !dirExisted);
    if (e instanceof RemoteError && e.code === "INVITE_INVALID")
      throw new InviteInvalidError("the relay refused the invite: it is unknown, used up or expired", { cause: e });
    if (e instanceof RemoteError && (e.code === "USERNAME_TAKEN" || e.code === "USERNAME_INVALID")) {
      throw new UsernameTakenError(
        e.code === "USERNAME_TAKEN"
          ? `the username ${username} is taken on this relay`
          : `the username ${username} is not allowed on this relay`,
        { cause: e },
      );
    }
    const u = asUnreachable(link.host, link.port, e);
    if (sent && !refused && u !== e) {
      throw new SmsgError(
        "JOIN_UNCONFIRMED",
        `the relay did not confirm the join (${(e as Error).message}); the profile in ${opts.dir} was kept: ` +
          "if smsg whoami fails, delete that folder and join again with a new invite",
        { cause: e },
      );
    }
    throw u;
  } finally {
    relay.close();
  }
}

/**
 * Throws UsageError unless `name` can be sent as a display name (SECURITY.md §15.2.4: a single
 * line of at most 64 bytes without control or bidi-override characters, not blank).
 */
export function checkDisplayName(name: string): void {
  if (name.trim() === "") throw new UsageError("a display name cannot be empty");
  try {
    encodeAppMessage({ v: 1, k: "profile", display_name: name });
  } catch {
    throw new UsageError(
      `a display name is one line of at most ${MAX_DISPLAY_NAME_BYTES} bytes, without control characters`,
    );
  }
}
