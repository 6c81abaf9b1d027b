/** The `invites` table: invite codes by hash (docs/ARCHITECTURE.md §4.2). */
import { UsageError } from "../../src/errors.js";
import type { Int8, Queryable } from "./db.js";
import { num, numOrNull, one } from "./sql-values.js";
import type { Invite, NewInvite } from "./types.js";

interface InviteRow {
  id: Int8;
  code_hash: Uint8Array;
  uses_left: number;
  expires_at: Date | null;
  grants_admin: boolean;
  created_by: Int8 | null;
  created_at: Date;
}

function toInvite(r: InviteRow): Invite {
  return {
    id: num(r.id),
    codeHash: r.code_hash,
    usesLeft: r.uses_left,
    expiresAt: r.expires_at,
    grantsAdmin: r.grants_admin,
    createdBy: numOrNull(r.created_by),
    createdAt: r.created_at,
  };
}

/**
 * Stores an invite (by the hash of its code). Throws when `uses` is not a positive integer,
 * or the database error when the code hash already exists.
 */
export async function create(q: Queryable, input: NewInvite): Promise<Invite> {
  if (!Number.isSafeInteger(input.uses) || input.uses < 1 || input.uses > 2 ** 31 - 1) {
    throw new UsageError(`an invite needs 1 or more uses, got ${input.uses}`);
  }
  const rows = await q.query<InviteRow>(
    `INSERT INTO invites (code_hash, uses_left, expires_at, grants_admin, created_by)
     VALUES ($1, $2, $3, $4, $5)
     RETURNING id, code_hash, uses_left, expires_at, grants_admin, created_by, created_at`,
    [input.codeHash, input.uses, input.expiresAt, input.grantsAdmin, input.createdBy],
  );
  return toInvite(one(rows));
}

/**
 * Consumes one use of the invite with this code hash when it is unexpired at `now` and has
 * uses left; returns whether it grants admin, or undefined (consuming nothing) when it is not
 * usable. Run it in the transaction that creates the account, so a refusal gives the use back.
 */
export async function consume(q: Queryable, codeHash: Uint8Array, now: Date): Promise<boolean | undefined> {
  const rows = await q.query<{ grants_admin: boolean }>(
    `UPDATE invites SET uses_left = uses_left - 1
      WHERE code_hash = $1 AND uses_left > 0 AND (expires_at IS NULL OR expires_at > $2)
      RETURNING grants_admin`,
    [codeHash, now],
  );
  return rows[0]?.grants_admin;
}
