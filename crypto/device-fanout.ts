/**
 * The fan-out header (SECURITY.md §17.5): every pairwise plaintext between two devices that
 * speak §17 starts with it, inside the encryption, in front of the application message
 * (§15.2). It says which device sent the message, and which devices of the recipient account
 * and of the sender's own account the sender encrypted the same message to, under which
 * device-list versions, so that a receiving device can tell that the sender works from a stale
 * list and hand it the current one.
 */
import { Reader, concat, u32be } from "./bytes.js";
import { checkDeviceId, usernameBytes } from "./device-certificate.js";
import { MAX_DEVICES } from "./device-list.js";
import { CodecError, UsageError } from "./errors.js";

/** One decoder for every header (it keeps no state between calls; checked canonical after). */
const utf8Decoder = new TextDecoder();
/** The header's version byte; a legacy bare application message starts with a msgpack map byte instead. */
export const FANOUT_FORMAT = 0x01;
/** Longest pairwise plaintext, header included: MAX_APP_MESSAGE_BYTES of §15.1. */
export const MAX_FANOUT_PLAINTEXT_BYTES = 63_487;

export interface FanoutHeader {
  /** The sending device's id in its own account's list. */
  readonly senderDevice: number;
  /** The account the message is for (the peer of a direct chat, or a group member). */
  readonly recipient: string;
  /** The version of the recipient's list the sender used; 0 (with no devices) for an account without a list. */
  readonly recipientListVersion: number;
  /** The recipient's devices the sender encrypted to, ascending. */
  readonly recipientDevices: readonly number[];
  /** The version of the sender's own account list it used (≥ 1). */
  readonly senderListVersion: number;
  /** The sender's other devices it encrypted to, ascending, never the sender itself. */
  readonly ownDevices: readonly number[];
}

export interface FanoutPlaintext {
  readonly header: FanoutHeader;
  /** The application message (§15.2), at least 1 byte. */
  readonly app: Uint8Array;
}

function checkHeader(h: FanoutHeader, fail: (m: string) => Error): void {
  const ids = (xs: readonly number[], max: number, what: string) => {
    if (xs.length > max) throw fail(`fan-out header: more than ${max} ${what}`);
    for (let i = 0; i < xs.length; i++) {
      try {
        checkDeviceId(xs[i]!);
      } catch {
        throw fail(`fan-out header: ${what}: not a device id`);
      }
      if (i > 0 && xs[i]! <= xs[i - 1]!) throw fail(`fan-out header: ${what} not strictly ascending`);
    }
  };
  try {
    checkDeviceId(h.senderDevice);
  } catch {
    throw fail("fan-out header: sender device is not a device id");
  }
  ids(h.recipientDevices, MAX_DEVICES, "recipient devices");
  ids(h.ownDevices, MAX_DEVICES - 1, "own devices");
  if (h.ownDevices.includes(h.senderDevice)) throw fail("fan-out header: the sender lists itself");
  const version = (v: number) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
  if (!version(h.recipientListVersion) || !version(h.senderListVersion) || h.senderListVersion < 1)
    throw fail("fan-out header: list version out of range");
  if ((h.recipientListVersion === 0) !== (h.recipientDevices.length === 0))
    throw fail("fan-out header: recipient version 0 exactly when no recipient devices");
}

/**
 * `0x01 || u32be(sender device) || u8(len(recipient)) || recipient || u32be(recipient list
 * version) || u8(n) || n × u32be(id) || u32be(sender list version) || u8(m) || m × u32be(id) ||
 * app`. Throws UsageError for a header §17.5 refuses, an empty app message, or a result over
 * 63 487 bytes.
 */
export function encodeFanoutPlaintext(p: FanoutPlaintext): Uint8Array {
  checkHeader(p.header, (m) => new UsageError(m));
  if (p.app.length < 1) throw new UsageError("fan-out plaintext: empty application message");
  const h = p.header;
  const name = usernameBytes(h.recipient);
  const out = concat(
    new Uint8Array([FANOUT_FORMAT]),
    u32be(h.senderDevice),
    new Uint8Array([name.length]),
    name,
    u32be(h.recipientListVersion),
    new Uint8Array([h.recipientDevices.length]),
    ...h.recipientDevices.map(u32be),
    u32be(h.senderListVersion),
    new Uint8Array([h.ownDevices.length]),
    ...h.ownDevices.map(u32be),
    p.app,
  );
  if (out.length > MAX_FANOUT_PLAINTEXT_BYTES) throw new UsageError("fan-out plaintext too large");
  return out;
}

/**
 * Parses a fan-out plaintext. Throws CodecError for: over 63 487 bytes, another first byte, a
 * username that is not canonical, a count over 16 (recipient) or 15 (own), an id of 0, ids not
 * strictly ascending, the sender among its own devices, a sender list version of 0, a recipient
 * version of 0 with devices or devices with version 0, truncation, or no application byte.
 */
export function decodeFanoutPlaintext(bytes: Uint8Array): FanoutPlaintext {
  if (bytes.length > MAX_FANOUT_PLAINTEXT_BYTES) throw new CodecError("fan-out plaintext too large");
  // A copy: Reader slices what it returns, and a slice of a Node Buffer is a view of it, not a copy.
  const r = new Reader(new Uint8Array(bytes), "fan-out header");
  if (r.u8() !== FANOUT_FORMAT) throw new CodecError("fan-out header: unknown format");
  const senderDevice = r.u32();
  const recipient = utf8Decoder.decode(r.bytes(r.u8()));
  try {
    usernameBytes(recipient);
  } catch {
    throw new CodecError("fan-out header: not a canonical username");
  }
  const list = (max: number) => {
    const n = r.u8();
    if (n > max) throw new CodecError(`fan-out header: more than ${max} devices`);
    return Array.from({ length: n }, () => r.u32());
  };
  const recipientListVersion = r.u32();
  const recipientDevices = list(MAX_DEVICES);
  const senderListVersion = r.u32();
  const ownDevices = list(MAX_DEVICES - 1);
  const header = { senderDevice, recipient, recipientListVersion, recipientDevices, senderListVersion, ownDevices };
  checkHeader(header, (m) => new CodecError(m));
  const app = r.rest();
  if (app.length < 1) throw new CodecError("fan-out plaintext: no application message");
  return { header, app };
}
