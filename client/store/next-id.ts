/**
 * The id SQLite's AUTOINCREMENT would give the next row of a table (one above both the largest
 * id it ever gave, kept in sqlite_sequence, and the largest id there now), so a row can be
 * inserted with a value sealed under its own id (sealed.ts: the id is in the AD) in ONE
 * statement, instead of inserted and then updated with it. Ask inside the transaction that
 * inserts (BEGIN IMMEDIATE holds the write lock: no other connection takes the id meanwhile);
 * the insert names the id, so were it taken all the same the insert would fail, never bind a
 * sealed value to another row. Internal to client/store/.
 */
import type { StoreContext } from "./context.js";

/** The AUTOINCREMENT tables whose rows are inserted with a sealed column bound to their id. */
export type SealedIdTable = "messages" | "event_journal";

export function nextAutoincrementId(ctx: StoreContext, table: SealedIdTable): number {
  const r = ctx
    .stmt(
      `SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = '${table}'), 0),
                  coalesce((SELECT max(id) FROM ${table}), 0)) + 1 AS id`,
    )
    .get() as { id: number };
  return r.id;
}
