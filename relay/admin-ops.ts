/**
 * The operator's actions (create an invite, list accounts, disable or enable one), shared by
 * the admin socket of a running relay and by direct database access when no relay runs.
 */
import { sha256 } from "../crypto/primitives.js";
import type { Rng } from "../crypto/rng.js";
import { SmsgError, UsageError } from "../crypto/errors.js";
import { formatInviteLink } from "../src/invite-link.js";
import { normalizeUsername } from "../src/wire/index.js";
import type { RelayStore } from "./store/index.js";

export interface InviteRequest {
  readonly uses: number;
  /** Milliseconds from now, or null for no expiry. */
  readonly expiresInMs: number | null;
  readonly admin: boolean;
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
  await store.createInvite({
    codeHash: sha256(code),
    uses: req.uses,
    expiresAt,
    grantsAdmin: req.admin,
    createdBy: null,
  });
  return {
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
  readonly created_at: string;
}

export async function listAccounts(store: RelayStore): Promise<AccountSummary[]> {
  return (await store.listAccounts()).map((a) => ({
    username: a.username,
    is_admin: a.isAdmin,
    disabled: a.disabled,
    created_at: a.createdAt.toISOString(),
  }));
}

/** Disables (or re-enables) an account. Throws SmsgError USER_UNKNOWN for an unknown user. */
export async function setAccountDisabled(
  store: RelayStore,
  username: string,
  disabled: boolean,
): Promise<{ id: number; username: string }> {
  const name = normalizeUsername(username);
  const account = await store.accountByUsername(name);
  if (!account) throw new SmsgError("USER_UNKNOWN", `the relay has no user named ${name}`);
  await store.setDisabled(name, disabled);
  return { id: account.id, username: name };
}
