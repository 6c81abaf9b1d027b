/**
 * What follows a stored device list (SECURITY.md §17.7, §17.8), on this relay and on every
 * other relay sharing the database (PostgreSQL LISTEN/NOTIFY, as fanout.ts): the removed
 * devices' open connections are closed with DEVICE_REMOVED, and `device_list_changed` is
 * pushed to the account's other connected devices and to the connected devices of everyone
 * who shares a chat with it. Each relay works out that audience among its own online accounts,
 * so a notification stays small whatever the number of peers. A relay that misses one (its
 * LISTEN connection was down) loses only pushes: a removed device cannot log in again, and
 * clients fetch lists when they send (DEVICE_LIST_STALE).
 */
import { encodeMessageFrame } from "../src/wire/index.js";
import type { Logger } from "./logger.js";
import type { Presence } from "./presence.js";
import type { Db, RelayStore } from "./store/index.js";

const CHANNEL = "smsg_device_lists";

/** A list just stored for `account`: its new version, and the devices it left out. */
export interface DeviceListChange {
  readonly account: number;
  readonly username: string;
  readonly version: number;
  readonly removed: readonly number[];
}

export class DeviceEvents {
  private unlisten: (() => Promise<void>)[] = [];

  constructor(
    private readonly store: RelayStore,
    private readonly db: Db,
    private readonly presence: Presence,
    private readonly relayId: string,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    this.unlisten.push(await this.db.listen(CHANNEL, (p) => void this.onRemote(p)));
  }

  async stop(): Promise<void> {
    for (const u of this.unlisten.splice(0)) await u().catch(() => undefined);
  }

  /** A list committed by this relay: act on it here and tell the other relays. */
  async changed(change: DeviceListChange): Promise<void> {
    await Promise.all([
      this.apply(change),
      this.db.notify(CHANNEL, JSON.stringify({ r: this.relayId, ...change })).catch((e: unknown) => {
        this.log.warn({ err: String(e) }, "notify of a device list change failed");
      }),
    ]);
  }

  private async apply(change: DeviceListChange): Promise<void> {
    const removed = new Set(change.removed);
    for (const c of [...(this.presence.connectionsOf(change.account) ?? [])])
      if (c.deviceId !== undefined && removed.has(c.deviceId))
        c.fail("DEVICE_REMOVED", "this device was removed from its account");
    const online = this.presence.onlineAccountIds().filter((id) => id !== change.account);
    const audience = [change.account, ...(await this.store.chatPeersAmong(change.account, online))];
    const frame = encodeMessageFrame({ t: "device_list_changed", username: change.username, version: change.version });
    for (const accountId of audience)
      for (const c of this.presence.connectionsOf(accountId) ?? []) c.push(frame, "device_list_changed");
  }

  private async onRemote(payload: string): Promise<void> {
    try {
      const change = JSON.parse(payload) as DeviceListChange & { r: string };
      if (change.r === this.relayId) return;
      await this.apply(change);
    } catch (e) {
      this.log.warn({ err: String(e) }, "could not act on a device list change announced by another relay");
    }
  }
}
