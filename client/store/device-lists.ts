/**
 * The device-list state of every account we talk to, our own included (SECURITY.md §17.4):
 * the accepted list exactly as received, the account key it was verified under, `highest`,
 * and per listed device when it was first accepted and its name (§17.7). Tables device_lists
 * and device_info (schema.ts V6). Row key of the sealed `name`: [username, device_id].
 *
 * `offer` is the only way a list gets in: it runs §17.4's acceptance (crypto/
 * device-list-acceptance.ts) against the stored state and writes only when the list is
 * accepted, in one transaction; a refused list changes nothing.
 */
import type { DeviceEntry } from "../../crypto/device-certificate.js";
import {
  type DeviceListAccount,
  type DeviceListDecision,
  type DeviceListState,
  acceptDeviceList,
} from "../../crypto/device-list-acceptance.js";
import { decodeDeviceList } from "../../crypto/device-list.js";
import { bytesEqual } from "../../crypto/bytes.js";
import { UsageError } from "../../src/errors.js";
import type { StoreContext } from "./context.js";
import { blob, blobOrNull } from "./sqlite.js";

/** A device of an accepted list, with what the store knows of it besides. */
export interface KnownDevice {
  readonly entry: DeviceEntry;
  /** When a list holding it was first accepted here. */
  readonly addedAt: number;
  /** Its name, once a device of its account told us (§17.7), else null. */
  readonly name: string | null;
}

interface ListRow {
  username: string;
  account_key: Uint8Array;
  list: Uint8Array;
  highest: number;
}

/** Device lists (store.deviceLists). */
export class DeviceListsTable {
  constructor(private readonly ctx: StoreContext) {}

  /** The accepted state for `username`, or undefined (no list accepted, or dropped after an account key change). */
  get(username: string): DeviceListState | undefined {
    // Kept for the transaction (StoreContext.cached): a sync page checks each frame against its sender's list.
    return this.ctx.cached("device_lists", `list\u0000${username}`, () => this.read(username));
  }

  private read(username: string): DeviceListState | undefined {
    const r = this.ctx.stmt("SELECT * FROM device_lists WHERE username = ?").get(username) as ListRow | undefined;
    if (!r) return undefined;
    const encoded = blob(r.list).slice();
    return {
      username: r.username,
      accountKey: blob(r.account_key).slice(),
      encoded,
      // Stored only after acceptance, so it decodes; a damaged row throws CodecError.
      list: decodeDeviceList(encoded),
      highestDeviceId: r.highest,
    };
  }

  /**
   * Runs §17.4 on `encoded` for `account` (its name and PINNED 64-byte identity key) against
   * the stored state and returns the decision. Accepted: the state is replaced, devices that
   * left lose their row (and name), new ones get one with `addedAt` now. Refused: nothing
   * changes. A stored state under another account key (the user accepted a new key without
   * the store dropping it) is discarded first, as §17.4 asks.
   */
  offer(account: DeviceListAccount, encoded: Uint8Array): DeviceListDecision {
    return this.ctx.tx(() => {
      let stored = this.get(account.username) ?? null;
      if (stored && !bytesEqual(stored.accountKey, account.accountKey)) {
        this.forget(account.username);
        stored = null;
      }
      const decision = acceptDeviceList(account, stored, encoded);
      if (!decision.accepted) return decision;
      const { state } = decision;
      const now = this.ctx.now();
      this.ctx
        .stmt(
          `INSERT INTO device_lists (username, account_key, list, version, highest, accepted_at) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (username) DO UPDATE SET account_key = excluded.account_key, list = excluded.list,
             version = excluded.version, highest = excluded.highest, accepted_at = excluded.accepted_at`,
        )
        .run(state.username, state.accountKey, state.encoded, state.list.version, state.highestDeviceId, now);
      for (const d of decision.removed)
        this.ctx.stmt("DELETE FROM device_info WHERE username = ? AND device_id = ?").run(state.username, d.id);
      for (const d of decision.added)
        this.ctx
          .stmt("INSERT OR IGNORE INTO device_info (username, device_id, added_at, name) VALUES (?, ?, ?, NULL)")
          .run(state.username, d.id, now);
      return decision;
    });
  }

  /** Drops the state of `username` (its account key changed and the user accepted the new one, §17.4). */
  forget(username: string): boolean {
    return this.ctx.stmt("DELETE FROM device_lists WHERE username = ?").run(username).changes > 0;
  }

  /** The devices of `username`'s accepted list, ascending by id; empty without a list. */
  devices(username: string): KnownDevice[] {
    // A copy of the array kept for the transaction (StoreContext.cached), so a caller may sort it.
    return [...this.ctx.cached("device_lists", `devices\u0000${username}`, () => this.readDevices(username))];
  }

  private readDevices(username: string): KnownDevice[] {
    const state = this.get(username);
    if (!state) return [];
    const rows = this.ctx
      .stmt("SELECT device_id, added_at, name FROM device_info WHERE username = ?")
      .all(username) as { device_id: number; added_at: number; name: Uint8Array | null }[];
    return state.list.devices.map((entry) => {
      const r = rows.find((x) => x.device_id === entry.id);
      const sealed = r ? blobOrNull(r.name) : null;
      return {
        entry,
        addedAt: r?.added_at ?? 0,
        name: sealed === null ? null : this.ctx.sealer.openText("device_info", "name", [username, entry.id], sealed),
      };
    });
  }

  /** The listed device `id` of `username`, or undefined when the accepted list does not hold it. */
  device(username: string, id: number): KnownDevice | undefined {
    return this.devices(username).find((d) => d.entry.id === id);
  }

  /**
   * Sets the name of a listed device (§17.7: names come from a device of that account, inside
   * the encryption). Throws UsageError for a device the accepted list does not hold: a name
   * is never kept for a device we do not accept.
   */
  setName(username: string, id: number, name: string | null): void {
    const sealed = name === null ? null : this.ctx.sealer.sealText("device_info", "name", [username, id], name);
    const res = this.ctx
      .stmt("UPDATE device_info SET name = ? WHERE username = ? AND device_id = ?")
      .run(sealed, username, id);
    if (res.changes === 0) throw new UsageError(`${username} has no listed device ${id}`);
  }
}
