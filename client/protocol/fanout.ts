/**
 * The fan-out header around an application message (SECURITY.md §17.5), as the client uses
 * it: the one header a sender puts on every copy of a message, and the receiving device's
 * checks. The byte codec is crypto/device-fanout.ts; this file holds the rules around it,
 * as pure functions of what the caller knows (its own account and device, the lists it has
 * accepted, the session's peer device), so they are tested without a store or a relay.
 */
import {
  type FanoutHeader,
  FANOUT_FORMAT,
  decodeFanoutPlaintext,
  encodeFanoutPlaintext,
} from "../../crypto/device-fanout.js";

/** What a sending device knows of the two accounts a 1:1 message goes to (§17.5). */
export interface FanoutTargets {
  /** Our device id. */
  readonly myDevice: number;
  /** Our own accepted list: its version and every device id in it (ours included). */
  readonly own: { readonly version: number; readonly devices: readonly number[] };
  /** The account the message is for. */
  readonly recipient: string;
  /** Its accepted list, or null for an account without one (a client before §17: one bare copy to device 1). */
  readonly peer: { readonly version: number; readonly devices: readonly number[] } | null;
}

/**
 * The header every copy of one message carries: our device, the recipient's devices under
 * its list version (none and 0 for an account without a list), our other devices under our
 * list version.
 */
export function fanoutHeader(t: FanoutTargets): FanoutHeader {
  const ascending = (xs: readonly number[]) => [...xs].sort((a, b) => a - b);
  return {
    senderDevice: t.myDevice,
    recipient: t.recipient,
    recipientListVersion: t.peer?.version ?? 0,
    recipientDevices: t.peer ? ascending(t.peer.devices) : [],
    senderListVersion: t.own.version,
    ownDevices: ascending(t.own.devices.filter((d) => d !== t.myDevice)),
  };
}

/** `header || app` (crypto/device-fanout.ts encodeFanoutPlaintext). */
export function wrapFanout(header: FanoutHeader, app: Uint8Array): Uint8Array {
  return encodeFanoutPlaintext({ header, app });
}

/** A decrypted pairwise plaintext: the header when it had one, and the application message. */
export interface PairwisePlaintext {
  readonly header: FanoutHeader | null;
  readonly app: Uint8Array;
}

/**
 * Tells a fan-out plaintext (first byte 0x01) from a bare application message (a msgpack map)
 * and takes the header off. Throws CodecError for a fan-out plaintext the codec refuses (the
 * message is dropped as malformed, §17.5); a bare message is returned as it is (decoding it is
 * app-message.ts's job).
 */
export function splitPairwisePlaintext(bytes: Uint8Array): PairwisePlaintext {
  if (bytes.length > 0 && bytes[0] === FANOUT_FORMAT) {
    const p = decodeFanoutPlaintext(bytes);
    return { header: p.header, app: p.app };
  }
  return { header: null, app: bytes };
}

/** What the receiving device knows when it checks a copy (§17.5). */
export interface FanoutReceiver {
  /** Our account. */
  readonly me: string;
  /** Our device id. */
  readonly myDevice: number;
  /** The version of our own accepted list. */
  readonly myListVersion: number;
  /** The account that sent the copy (the relay's `from`, authenticated by the session). */
  readonly sender: string;
  /** The session's peer device (the relay's `from_device`, authenticated by the session). */
  readonly senderDevice: number;
  /** Whether we hold an accepted list for the sender's account (for our own account: always). */
  readonly senderHasList: boolean;
}

/** Why a copy is refused (it is dropped and the user told). */
export type FanoutRefusal =
  /** A bare application message from an account with a device list: only a client before §17 sends those. */
  | "bare_from_listed"
  /** The header's sending device is not the session's peer device. */
  | "wrong_sender_device"
  /** We are not among the devices the header lists for us: the relay moved the copy. */
  | "misdirected";

/** The outcome of checking a copy. */
export type FanoutVerdict =
  | {
      readonly ok: true;
      /** `peer`: a copy from another account to us; `own`: a copy from another device of our own account. */
      readonly from: "peer" | "own";
      /** The other account of the chat: for an own copy the header's recipient, for a peer copy the sender. */
      readonly chatPeer: string;
      /** The sender used an older version of our own list than we accepted: send it our list (§17.5, §17.7). */
      readonly staleSender: boolean;
    }
  | { readonly ok: false; readonly reason: FanoutRefusal };

/**
 * The receiving device's checks of §17.5: a bare message only from an account without a list;
 * the header's sender device is the session's; we are listed (among the recipient devices when
 * the copy is for our account, among the own devices when it comes from our own account); and
 * whether the sender worked from an older version of our list than ours.
 */
export function checkFanout(p: PairwisePlaintext, r: FanoutReceiver): FanoutVerdict {
  const h = p.header;
  if (h === null) {
    if (r.senderHasList || r.sender === r.me) return { ok: false, reason: "bare_from_listed" };
    return { ok: true, from: "peer", chatPeer: r.sender, staleSender: false };
  }
  if (h.senderDevice !== r.senderDevice) return { ok: false, reason: "wrong_sender_device" };
  if (r.sender === r.me) {
    if (h.recipient === r.me || !h.ownDevices.includes(r.myDevice)) return { ok: false, reason: "misdirected" };
    return { ok: true, from: "own", chatPeer: h.recipient, staleSender: h.senderListVersion < r.myListVersion };
  }
  if (h.recipient !== r.me || !h.recipientDevices.includes(r.myDevice)) return { ok: false, reason: "misdirected" };
  return { ok: true, from: "peer", chatPeer: r.sender, staleSender: h.recipientListVersion < r.myListVersion };
}
