/**
 * The pairwise channel inside a group chat (SECURITY.md §15.2.5, §17.5 "Groups"): group states,
 * sender-key distributions and display names go to each DEVICE of each member, and to the other
 * devices of our own account, on the pairwise session with that device. Used by the membership
 * commands (membership.ts) and the sender-key distribution (keys.ts).
 *
 * - A member with an accepted device list gets one copy per listed device, with the fan-out
 *   header of §17.5 (group/fanout.ts), and all such copies go in one `send_copies` (§17.8; in
 *   chunks of 64) in the group chat, sent at once: they are not in the outbox (it holds one
 *   envelope per row). What was not acknowledged is not recorded as received, so the next send
 *   hands it over again (keys.ts holders). A refusal with DEVICE_LIST_STALE (a device left a
 *   list meanwhile) re-reads the lists concerned and sends again to the current devices.
 * - A member without a list (a client before §17: device 1) gets the bare application message
 *   directed at it (`send` with `to`), through the outbox, as before §17. So does everyone
 *   while our own account has no list in the store (we still speak as a client before §17).
 * - The lists are kept current by asking the relay once which versions it holds, for every
 *   member and our own account (changed-device-lists.ts, §17.8 "Versions"), and fetching only
 *   those that differ from the store's (refreshDeviceList, §17.4), a member's first one included.
 */
import { RemoteError, SmsgError } from "../../../src/errors.js";
import { derivedIdem } from "../../../src/wire/index.js";
import { type AppMessage, encodeAppMessage } from "../../protocol/app-message.js";
import { wrapFanout } from "../../protocol/fanout.js";
import type { RelayClient } from "../../relay-client.js";
import { type DeviceCopy, DevicesUnsupportedError, sendCopies } from "../../relay-devices.js";
import { listsToFetch } from "../changed-device-lists.js";
import { refreshDeviceList } from "../device-list-refresh.js";
import { KeyChangedError } from "../errors.js";
import type { Account } from "../open-account.js";
import { checkIdentity, encryptForPeer, ensureSession } from "../sessions.js";
import { devicesRemoved } from "./device-removal.js";
import { groupCopyHeader } from "./fanout.js";

/** The most copies one `send_copies` carries (§17.8). */
const MAX_COPIES = 64;

/** One device a pairwise group message goes to. */
export interface DeviceTarget {
  readonly user: string;
  readonly device: number;
  /** From an accepted list (a copy with the fan-out header); false: device 1 of an account without one (bare, `to`). */
  readonly listed: boolean;
}

/** How holders records name a device: `user/device` (a username never holds `/`, §14.5). */
export function targetKey(t: { readonly user: string; readonly device: number }): string {
  return `${t.user}/${t.device}`;
}

/**
 * The devices of `users` (us left out) and, with `own`, our other devices, from the lists the
 * store holds now (see the file comment). Synchronous: usable inside a transaction.
 */
export function storedTargets(acct: Account, users: readonly string[], own: boolean): DeviceTarget[] {
  const { store } = acct;
  const ownList = store.deviceLists.get(acct.username);
  const out: DeviceTarget[] = [];
  for (const u of [...new Set(users)]) {
    if (u === acct.username) continue;
    const list = ownList === undefined ? undefined : store.deviceLists.get(u);
    if (list === undefined) out.push({ user: u, device: 1, listed: false });
    else for (const d of list.list.devices) out.push({ user: u, device: d.id, listed: true });
  }
  if (own && ownList !== undefined)
    for (const d of ownList.list.devices)
      if (d.id !== acct.deviceId) out.push({ user: acct.username, device: d.id, listed: true });
  return out;
}

/**
 * Reads `user`'s list from the relay and offers it (§17.4, device-list-refresh.ts); its events
 * go to the journal, and devices it removed lose their sender keys (device-removal.ts). A relay
 * before §17 has no lists: nothing changes.
 */
export async function refreshList(acct: Account, relay: RelayClient, user: string): Promise<void> {
  let r;
  try {
    r = await refreshDeviceList(acct, relay, user);
  } catch (e) {
    if (e instanceof DevicesUnsupportedError) return;
    throw e;
  }
  const { store } = acct;
  const decision = r.decision;
  store.transaction(() => {
    for (const e of r.events) store.journal.append(JSON.stringify(e));
    if (decision?.accepted && decision.removed.length > 0)
      devicesRemoved(
        acct,
        user,
        decision.removed.map((d) => d.id),
      );
  });
}

/**
 * Identity checks of a group send asked at once, below the relay's 256 waiting requests per
 * connection (SECURITY.md §14.7), after which it stops reading until it catches up.
 */
const IDENTITY_CHECKS_IN_FLIGHT = 64;

/**
 * The devices of `users` (and ours, with `own`) we can send to now: the lists that changed on the
 * relay read again, ours included (once our own list exists), a session made with each device. A
 * member or device we cannot reach (key changed, unknown to the relay, a bundle that does not
 * verify, the relay refusing the request) is skipped with a warning, so one member cannot stop the
 * group; it is not recorded as holding anything, so the next send tries again. Our own list that
 * cannot be read is a warning (the stored one is used). A lost connection is thrown.
 */
export async function reachableDevices(
  acct: Account,
  relay: RelayClient,
  users: readonly string[],
  own: boolean,
  warnings: string[],
): Promise<DeviceTarget[]> {
  const { store } = acct;
  const others = [...new Set(users)].filter((u) => u !== acct.username);
  const trouble = (who: string, e: unknown): void => {
    if (e instanceof KeyChangedError)
      warnings.push(`${who}'s identity key changed: they get nothing from this group until you verify it`);
    else if (e instanceof SmsgError && !relay.isClosed)
      warnings.push(`${who} cannot be given this group's messages now (${e.message}); a later send tries again`);
    else throw e;
  };
  const usable = new Set<string>();
  // Each member's identity is asked without waiting for the answer before: one round trip for
  // the group instead of one per member on a slow link (bench/RESULTS.md "Requests per one-shot
  // send"). The answers are taken, and their troubles told, in member order as before.
  for (let i = 0; i < others.length; i += IDENTITY_CHECKS_IN_FLIGHT) {
    const chunk = others.slice(i, i + IDENTITY_CHECKS_IN_FLIGHT);
    const outcomes = chunk.map((u) =>
      checkIdentity(acct, relay, u).then(
        () => undefined,
        (e: unknown) => ({ e }),
      ),
    );
    for (const [j, u] of chunk.entries()) {
      const failed = await outcomes[j]!;
      if (failed === undefined) usable.add(u);
      else trouble(u, failed.e);
    }
  }
  // Every send uses each member's current list: a device a member (or we) added while we were
  // offline (its device_list_changed missed) gets our key before our message, or could never read
  // it (the relay checks no completeness for groups, §17.8). One question for all, then a fetch
  // of only the lists that changed (§17.8 "Versions").
  if (store.deviceLists.get(acct.username) !== undefined) {
    for (const u of await listsToFetch(acct, relay, [...usable, acct.username])) {
      try {
        await refreshList(acct, relay, u);
      } catch (e) {
        if (u !== acct.username) {
          trouble(u, e);
          usable.delete(u);
        } else if (e instanceof SmsgError && !relay.isClosed)
          // Our own list as stored still holds; the next send asks again.
          warnings.push(`your own device list could not be read now (${e.message}); a later send tries again`);
        else throw e;
      }
    }
  }
  const ok: DeviceTarget[] = [];
  const targets = storedTargets(acct, [...usable], own);
  for (const t of targets) {
    try {
      await ensureSession(acct, relay, t.user, t.device);
      ok.push(t);
    } catch (e) {
      trouble(t.device === 1 && !t.listed ? t.user : `${t.user}'s device ${t.device}`, e);
    }
  }
  return ok;
}

/** Queues a bare pairwise application message in the group chat, directed at `peer` (device 1, `send` with `to`). Inside a transaction. */
function queueDirected(acct: Account, chat: number, peer: string, app: AppMessage): void {
  const { store } = acct;
  const envelope = encryptForPeer(acct, peer, encodeAppMessage(app));
  const { id } = store.messages.insert({
    chatId: chat,
    relayMsgId: null,
    sender: acct.username,
    sentAt: acct.now(),
    body: null,
    direction: "out",
    status: "pending",
    senderSeq: null,
  });
  store.outbox.add({ idem: derivedIdem(envelope), chatId: chat, messageId: id, envelope, to: peer });
}

/** True for the relay's refusal of copies naming a device that is no longer current (§17.7). */
function listStale(e: unknown): boolean {
  return e instanceof RemoteError && e.code === "DEVICE_LIST_STALE";
}

/**
 * Sends `app(t)` to each target on its session (see the file comment): bare ones are queued in
 * the outbox (the caller flushes), listed ones sent now as `send_copies`. `inTransaction` runs
 * in the transaction that encrypts, once (membership.ts stores the signed state there). Returns
 * the targets it was sent or queued to. Call reachableDevices first (sessions).
 */
export async function sendToDevices(
  acct: Account,
  relay: RelayClient,
  chat: number,
  targets: readonly DeviceTarget[],
  app: (t: DeviceTarget) => AppMessage,
  inTransaction?: () => void,
): Promise<DeviceTarget[]> {
  const { store } = acct;
  let pending = [...targets];
  const done: DeviceTarget[] = [];
  for (let attempt = 0; ; attempt++) {
    const copies: DeviceCopy[] = [];
    const sent: DeviceTarget[] = [];
    store.transaction(() => {
      if (attempt === 0) inTransaction?.();
      for (const t of pending) {
        if (t.listed) continue;
        queueDirected(acct, chat, t.user, app(t));
        done.push(t);
      }
      const listed = pending.filter((t) => t.listed);
      for (const t of listed) {
        const header = groupCopyHeader(acct, t, listed);
        const envelope = encryptForPeer(acct, t.user, wrapFanout(header, encodeAppMessage(app(t))), t.device);
        copies.push({ to: t.user, device: t.device, envelope });
        sent.push(t);
      }
    });
    try {
      for (let i = 0; i < copies.length; i += MAX_COPIES) {
        await sendCopies(relay, chat, acct.rng(16), copies.slice(i, i + MAX_COPIES));
        done.push(...sent.slice(i, i + MAX_COPIES));
      }
      return done;
    } catch (e) {
      if (!listStale(e) || attempt === 2) throw e;
    }
    // A device left a list (or one was added) since we read it: read the lists again, send to
    // the devices still current that did not get it yet (sessions for new ones are the next send's).
    const users = [...new Set([...pending.map((t) => t.user), acct.username])];
    for (const u of await listsToFetch(acct, relay, users)) await refreshList(acct, relay, u);
    const got = new Set(done.map(targetKey));
    const current = new Set(storedTargets(acct, users, true).map(targetKey));
    pending = pending.filter((t) => !got.has(targetKey(t)) && current.has(targetKey(t)));
    if (pending.length === 0) return done;
  }
}
