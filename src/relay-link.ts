/**
 * Relay links: `smsg://HOST:PORT/RELAYKEY`, where a relay is and which key to pin (RELAYKEY:
 * its 32-byte static X25519 public key, base64url without padding, as in an invite link,
 * SECURITY.md §14.8). Not a secret: `smsg whoami` prints it and `smsg login` takes it
 * (§18.6: log-in on a new machine needs the relay link, the username and the passphrase).
 */
import { UsageError } from "../crypto/errors.js";

export interface RelayLink {
  readonly host: string;
  readonly port: number;
  readonly relayKey: Uint8Array;
}

/** Formats a relay link. IPv6 hosts are bracketed. */
export function formatRelayLink(link: RelayLink): string {
  const host = link.host.includes(":") ? `[${link.host}]` : link.host;
  return `smsg://${host}:${link.port}/${Buffer.from(link.relayKey).toString("base64url")}`;
}

/** Parses a relay link; throws UsageError with a sentence saying what is wrong. */
export function parseRelayLink(text: string): RelayLink {
  const m = /^smsg:\/\/(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})\/([^/]+)\/?$/.exec(text.trim());
  if (!m) throw new UsageError("not a relay link (expected smsg://HOST:PORT/RELAYKEY, as smsg whoami prints it)");
  const port = Number(m[2]);
  if (port < 1 || port > 65535) throw new UsageError("relay link: port out of range");
  if (!/^[A-Za-z0-9_-]{43}$/.test(m[3]!))
    throw new UsageError("relay link: the relay key is not 32 bytes of base64url");
  const relayKey = new Uint8Array(Buffer.from(m[3]!, "base64url"));
  // The last character carries 4 unused bits: a typo there would decode to the same key. Only the
  // one spelling the key has is taken, so a mistyped link is refused, never silently accepted.
  if (Buffer.from(relayKey).toString("base64url") !== m[3])
    throw new UsageError("relay link: the relay key is not 32 bytes of base64url (check its last character)");
  const host = m[1]!.startsWith("[") ? m[1]!.slice(1, -1) : m[1]!;
  return { host, port, relayKey };
}
