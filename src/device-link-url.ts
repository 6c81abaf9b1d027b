/**
 * Device links (SECURITY.md §17.6): `smsg://HOST:PORT/RELAYKEY/device/USERNAME/LINKID/SECRET/ACCOUNT`,
 * what `smsg device link` prints and `smsg device add` takes. RELAYKEY (32 bytes), LINKID (16),
 * SECRET (32) and ACCOUNT (the account's 20-byte key hash) are base64url without padding, as
 * in an invite link (§14.8). A link is a secret for 5 minutes: whoever holds it can talk to the
 * linking device (which still adds nothing before its user compared a code).
 */
import { UsageError } from "../crypto/errors.js";
import { formatRelayLink, parseRelayLink } from "./relay-link.js";
import { USERNAME_PATTERN } from "./wire/username.js";

export interface DeviceLink {
  readonly host: string;
  readonly port: number;
  readonly relayKey: Uint8Array;
  /** The account's canonical username. */
  readonly username: string;
  readonly linkId: Uint8Array;
  readonly linkSecret: Uint8Array;
  /** BLAKE2b-160 of the account identity key (crypto/device-link.ts linkAccountHash). */
  readonly accountHash: Uint8Array;
}

const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64url");

/** Formats a device link. */
export function formatDeviceLink(link: DeviceLink): string {
  const base = formatRelayLink(link);
  return `${base}/device/${link.username}/${b64(link.linkId)}/${b64(link.linkSecret)}/${b64(link.accountHash)}`;
}

/** base64url of exactly `bytes` bytes (no padding): its length is fixed, ceil(4n/3). */
function fixed(text: string, bytes: number, what: string): Uint8Array {
  if (!new RegExp(`^[A-Za-z0-9_-]{${Math.ceil((4 * bytes) / 3)}}$`).test(text))
    throw new UsageError(`device link: the ${what} is not ${bytes} bytes of base64url`);
  const out = new Uint8Array(Buffer.from(text, "base64url"));
  if (out.length !== bytes || b64(out) !== text)
    throw new UsageError(`device link: the ${what} is not ${bytes} bytes of base64url`);
  return out;
}

/** Parses a device link; throws UsageError with a sentence saying what is wrong. */
export function parseDeviceLink(text: string): DeviceLink {
  const m = /^(smsg:\/\/[^/]+\/[^/]+)\/device\/([^/]+)\/([^/]+)\/([^/]+)\/([^/]+)\/?$/.exec(text.trim());
  if (!m)
    throw new UsageError(
      "not a device link (expected smsg://HOST:PORT/RELAYKEY/device/USERNAME/LINK/SECRET/ACCOUNT, " +
        "as smsg device link prints it)",
    );
  let relay;
  try {
    relay = parseRelayLink(m[1]!);
  } catch (e) {
    throw new UsageError(`device link: ${(e as Error).message.replace(/^relay link: /, "")}`);
  }
  const username = m[2]!;
  if (!USERNAME_PATTERN.test(username)) throw new UsageError("device link: the username is not valid");
  return {
    ...relay,
    username,
    linkId: fixed(m[3]!, 16, "link id"),
    linkSecret: fixed(m[4]!, 32, "link secret"),
    accountHash: fixed(m[5]!, 20, "account hash"),
  };
}
