/**
 * The fan-out header (SECURITY.md §17.5) on the pairwise copies of a group chat — hand-overs
 * of sender keys, group states and names (pairwise.ts) — and the receiving device's checks.
 *
 * A group hand-over is one message for many accounts, and the header names one. So each
 * account's copies carry their own header, as a 1:1 message to that account would: the copies
 * for member X's devices name X as `recipient`, with the devices of X this hand-over goes to
 * under the version of X's list we hold; the copies for our own other devices name OUR account
 * as `recipient`, with those devices under our list's version (and the same devices as
 * `ownDevices`). Every header carries our own list's version and the own devices of the
 * hand-over. The receiving device checks that the header's sender device is the session's and
 * that it is itself listed for its own account.
 */
import type { FanoutHeader } from "../../../crypto/device-fanout.js";
import { InternalError } from "../../../src/errors.js";
import type { PairwisePlaintext } from "../../protocol/fanout.js";
import type { Account } from "../open-account.js";

/** A device a copy goes to (pairwise.ts DeviceTarget). */
interface Target {
  readonly user: string;
  readonly device: number;
}

/** The header of the copy for `t`, one of the listed targets `batch` of one hand-over. */
export function groupCopyHeader(acct: Account, t: Target, batch: readonly Target[]): FanoutHeader {
  const { store } = acct;
  const me = acct.username;
  const ownList = store.deviceLists.get(me);
  const theirs = t.user === me ? ownList : store.deviceLists.get(t.user);
  if (ownList === undefined || theirs === undefined)
    throw new InternalError("a fan-out copy for an account without a list");
  const devicesOf = (u: string) =>
    batch
      .filter((b) => b.user === u)
      .map((b) => b.device)
      .sort((a, b) => a - b);
  const own = devicesOf(me);
  return {
    senderDevice: acct.deviceId,
    recipient: t.user,
    recipientListVersion: theirs.list.version,
    recipientDevices: devicesOf(t.user),
    senderListVersion: ownList.list.version,
    ownDevices: own,
  };
}

/** Why a group copy is refused (it is stored as undecryptable and the user told). */
export type GroupCopyRefusal = "bare_from_listed" | "wrong_sender_device" | "misdirected";

/**
 * The checks of §17.5 on a decrypted pairwise copy in a group, from `sender`'s device
 * `senderDevice` (the session's): a bare application message only from an account we hold no
 * list for (a client before §17; never from our own account); otherwise the header's sender
 * device is the session's, it names our account as recipient and lists our device (and, from
 * our own account, lists it among the own devices too).
 */
export function checkGroupCopy(
  acct: Account,
  p: PairwisePlaintext,
  sender: string,
  senderDevice: number,
): GroupCopyRefusal | undefined {
  const me = acct.username;
  const h = p.header;
  if (h === null)
    return sender !== me && acct.store.deviceLists.get(sender) === undefined ? undefined : "bare_from_listed";
  if (h.senderDevice !== senderDevice) return "wrong_sender_device";
  if (h.recipient !== me || !h.recipientDevices.includes(acct.deviceId)) return "misdirected";
  if (sender === me && !h.ownDevices.includes(acct.deviceId)) return "misdirected";
  return undefined;
}
