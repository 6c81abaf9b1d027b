/**
 * The operator's actions (create an invite; list, disable, enable, promote or delete accounts),
 * shared by the admin socket of a running relay and by direct database access when no relay
 * runs. Every change writes an audit line (relay/audit.ts).
 */
import { sha256 } from "../crypto/primitives.js";
import type { Rng } from "../crypto/rng.js";
import { SmsgError, UsageError } from "../src/errors.js";
import { formatInviteLink } from "../src/invite-link.js";
import { normalizeUsername } from "../src/wire/index.js";
import { type AuditEntry, audit } from "./audit.js";
import type { Logger } from "./logger.js";
import {
  type DeletedAccount,
  deleteAccount,
  isDeleted,
  listAccountActivity,
  setRelayAdmin,
} from "./store/account-admin.js";
import type { Db, RelayStore } from "./store/index.js";

export interface InviteRequest {
  readonly uses: number;
  /** Milliseconds from now, or null for no expiry. */
  readonly expiresInMs: number | null;
  readonly admin: boolean;
}

/** An operator request (what `smsg relay …` asks, over admin.sock or directly). */
export type OperatorRequest = (
  | ({ readonly cmd: "invite" } & InviteRequest)
  | { readonly cmd: "accounts" }
  | { readonly cmd: "disable"; readonly username: string; readonly disabled: boolean }
  | { readonly cmd: "promote"; readonly username: string }
  | { readonly cmd: "delete"; readonly username: string }
) & {
  /** The operating-system user running the command, for the audit log. */
  readonly operator: string;
};

/** No account has that name (exit code 13, "user unknown"). */
export class UserUnknownError extends SmsgError {
  constructor(message: string) {
    super("USER_UNKNOWN", message);
  }
}

export interface InviteEndpoint {
  readonly host: string;
  readonly port: number;
  readonly relayKey: Uint8Array;
}

/** Creates an invite; only the SHA-256 of its random 32-byte code is stored. Returns the link. */
export async function createInvite(
  store: RelayStore,
  rng: Rng,
  endpoint: InviteEndpoint,
  req: InviteRequest,
  now: number,
) {
  if (!Number.isInteger(req.uses) || req.uses < 1 || req.uses > 1_000_000)
    throw new UsageError("--uses must be a whole number from 1 to 1000000");
  const code = rng(32);
  const expiresAt = req.expiresInMs === null ? null : new Date(now + req.expiresInMs);
  const invite = await store.createInvite({
    codeHash: sha256(code),
    uses: req.uses,
    expiresAt,
    grantsAdmin: req.admin,
    createdBy: null,
  });
  return {
    id: invite.id,
    link: formatInviteLink({ ...endpoint, code }),
    uses: req.uses,
    expiresAt: expiresAt?.toISOString() ?? null,
    admin: req.admin,
  };
}

export interface AccountSummary {
  readonly username: string;
  readonly is_admin: boolean;
  readonly disabled: boolean;
  readonly deleted: boolean;
  readonly created_at: string;
  /** Last login or last connection closed (null: not since the relay recorded it); online: now. */
  readonly last_seen: string | null;
  /** Connected to this relay right now (only known when the relay answers; null otherwise). */
  readonly online: boolean | null;
  /** Whether others can still start a session with it: a signed prekey, and how many one-time prekeys are left. */
  readonly signed_prekey: boolean;
  readonly one_time_prekeys: number;
}

/** What the running relay does on top of the database change (absent when no relay runs). */
export interface LiveRelay {
  isOnline(accountId: number): boolean;
  /** Closes the account's connections with `code`. */
  disconnect(accountId: number, code: "ACCOUNT_DISABLED", message: string): void;
  /** Tells the other members of the deleted account's chats, and forgets cached memberships. */
  accountDeleted(username: string, deleted: DeletedAccount): Promise<void>;
}

export interface AdminEnv {
  readonly store: RelayStore;
  readonly db: Db;
  readonly rng: Rng;
  readonly now: number;
  readonly dataDir: string;
  readonly via: AuditEntry["via"];
  /** Where invite links point; read only for invites. */
  readonly endpoint: () => InviteEndpoint;
  readonly live?: LiveRelay;
  readonly log?: Logger;
}

async function accountNamed(store: RelayStore, username: string) {
  const name = normalizeUsername(username);
  const account = await store.accountByUsername(name);
  if (!account) throw new UserUnknownError(`no user named ${name}`);
  return account;
}

/** The operator's request, run on `env`'s database; writes the audit line of every change. */
export async function runAdminRequest(req: OperatorRequest, env: AdminEnv): Promise<unknown> {
  const { store, db } = env;
  const record = (entry: Omit<AuditEntry, "operator" | "via">) =>
    audit(env.dataDir, { ...entry, operator: req.operator, via: env.via } as AuditEntry, env.log, new Date(env.now));
  switch (req.cmd) {
    case "invite": {
      const r = await createInvite(store, env.rng, env.endpoint(), req, env.now);
      record({ action: "invite_created", invite_id: r.id, uses: r.uses, expires_at: r.expiresAt, admin: r.admin });
      return r;
    }
    case "accounts":
      return (await listAccountActivity(db)).map((a): AccountSummary => ({
        username: a.username,
        is_admin: a.isAdmin,
        disabled: a.disabled,
        deleted: a.deleted,
        created_at: a.createdAt.toISOString(),
        last_seen: a.lastSeenAt?.toISOString() ?? null,
        online: env.live ? env.live.isOnline(a.id) : null,
        signed_prekey: a.hasSignedPrekey,
        one_time_prekeys: a.oneTimePrekeys,
      }));
    case "disable": {
      const account = await accountNamed(store, req.username);
      if (!req.disabled && (await isDeleted(db, account.id)))
        throw new UsageError(`${account.username} was deleted: it cannot be enabled again (its keys are gone)`);
      await store.setDisabled(account.username, req.disabled);
      // A disabled account loses its open connections at once.
      if (req.disabled)
        env.live?.disconnect(account.id, "ACCOUNT_DISABLED", "this account was disabled by the relay's operator");
      record({ action: req.disabled ? "account_disabled" : "account_enabled", username: account.username });
      return { username: account.username, disabled: req.disabled };
    }
    case "promote": {
      const account = await accountNamed(store, req.username);
      if (account.disabled) throw new UsageError(`${account.username} is disabled: enable it first`);
      await setRelayAdmin(db, account.id, true);
      record({ action: "account_promoted", username: account.username });
      return { username: account.username, is_admin: true };
    }
    case "delete": {
      const account = await accountNamed(store, req.username);
      if (await isDeleted(db, account.id)) throw new UsageError(`${account.username} was already deleted`);
      const r = await deleteAccount(db, account.id, new Date(env.now));
      env.live?.disconnect(account.id, "ACCOUNT_DISABLED", "this account was deleted by the relay's operator");
      await env.live?.accountDeleted(account.username, r);
      record({
        action: "account_deleted",
        username: account.username,
        messages_removed: r.messagesRemoved,
        prekeys_removed: r.prekeysRemoved,
        groups_left: r.groups.length,
        direct_chats_closed: r.directChats.length,
      });
      return {
        username: account.username,
        messages_removed: r.messagesRemoved,
        prekeys_removed: r.prekeysRemoved,
        groups_left: r.groups.length,
        direct_chats_closed: r.directChats.length,
      };
    }
  }
}
