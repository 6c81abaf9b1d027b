/**
 * Staging a sealed account backup on a logged-in connection (SECURITY.md §18.6): `backup_put`
 * pieces of at most MAX_BACKUP_PIECE_BYTES, each `offset` equal to the bytes staged so far on
 * this connection. What consumes the staged bytes (`passphrase_set`, `backup_update`) is the
 * caller's next request.
 */
import { MAX_BACKUP_PIECE_BYTES } from "../../src/wire/limits.js";
import type { RelayClient } from "../relay-client.js";

/** Sends `backup` in `backup_put` pieces. Throws what RelayClient.request throws (pieces sent so far stay staged). */
export async function stageBackup(relay: Pick<RelayClient, "request">, backup: Uint8Array): Promise<void> {
  for (let offset = 0; offset < backup.length; offset += MAX_BACKUP_PIECE_BYTES) {
    const data = backup.subarray(offset, Math.min(backup.length, offset + MAX_BACKUP_PIECE_BYTES));
    await relay.request<"backup_put">({ t: "backup_put", offset, data });
  }
}
