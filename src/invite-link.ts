/**
 * Invite links: `smsg://HOST:PORT/RELAYKEY/CODE`, with RELAYKEY the relay's 32-byte static
 * X25519 public key and CODE the 32-byte invite code, both base64url without padding. The
 * link is everything a new member needs: where the relay is, which key to pin, what proves
 * they were invited. It is a secret until used.
 */
import { UsageError } from "../crypto/errors.js";

export interface InviteLink {
  readonly host: string;
  readonly port: number;
  readonly relayKey: Uint8Array;
  readonly code: Uint8Array;
}

const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64url");

function unb64(s: string, what: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]{43}$/.test(s)) throw new UsageError(`invite link: ${what} is not 32 bytes of base64url`);
  const out = new Uint8Array(Buffer.from(s, "base64url"));
  // One spelling per value: a typo in the last character's 4 unused bits is refused, not ignored.
  if (b64(out) !== s)
    throw new UsageError(`invite link: ${what} is not 32 bytes of base64url (check its last character)`);
  return out;
}

/** Formats an invite link. IPv6 hosts are bracketed. */
export function formatInviteLink(link: InviteLink): string {
  const host = link.host.includes(":") ? `[${link.host}]` : link.host;
  return `smsg://${host}:${link.port}/${b64(link.relayKey)}/${b64(link.code)}`;
}

/** Parses an invite link; throws UsageError with a sentence saying what is wrong. */
export function parseInviteLink(text: string): InviteLink {
  const m = /^smsg:\/\/(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})\/([^/]+)\/([^/]+)\/?$/.exec(text.trim());
  if (!m) throw new UsageError("not an invite link (expected smsg://HOST:PORT/RELAYKEY/CODE)");
  const port = Number(m[2]);
  if (port < 1 || port > 65535) throw new UsageError("invite link: port out of range");
  const host = m[1]!.startsWith("[") ? m[1]!.slice(1, -1) : m[1]!;
  return { host, port, relayKey: unb64(m[3]!, "relay key"), code: unb64(m[4]!, "code") };
}
