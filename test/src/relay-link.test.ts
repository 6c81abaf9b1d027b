/** Relay links (src/relay-link.ts): what `smsg whoami` prints and `smsg login` takes. */
import { describe, expect, test } from "vitest";
import { formatRelayLink, parseRelayLink } from "../../src/relay-link.js";
import { UsageError } from "../../src/errors.js";

const key = new Uint8Array(32).map((_, i) => i * 7);

describe("relay links", () => {
  test("format and parse round-trip, IPv6 bracketed", () => {
    for (const host of ["127.0.0.1", "chat.example.org", "::1"]) {
      const text = formatRelayLink({ host, port: 7447, relayKey: key });
      expect(text).toMatch(/^smsg:\/\/[^/]+:7447\/[A-Za-z0-9_-]{43}$/);
      const back = parseRelayLink(` ${text}/ `);
      expect(back.host).toBe(host);
      expect(back.port).toBe(7447);
      expect([...back.relayKey]).toEqual([...key]);
    }
  });

  test("refuses an invite link, a short key, a bad port or scheme", () => {
    const good = formatRelayLink({ host: "h", port: 1, relayKey: key });
    for (const bad of [
      `${good}/${Buffer.from(key).toString("base64url")}`,
      good.slice(0, -1),
      good.replace(":1/", ":70000/"),
      good.replace(":1/", ":0/"),
      good.replace("smsg:", "http:"),
      "",
    ])
      expect(() => parseRelayLink(bad), bad).toThrow(UsageError);
  });

  test("refuses a typo in the key's last character that decodes to the same key (its unused bits)", () => {
    const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const good = formatRelayLink({ host: "h", port: 1, relayKey: key });
    const last = ALPHABET.indexOf(good.at(-1)!);
    const typo = good.slice(0, -1) + ALPHABET[last ^ 1]; // only an unused bit differs
    expect([...new Uint8Array(Buffer.from(typo.split("/").at(-1)!, "base64url"))]).toEqual([...key]);
    expect(() => parseRelayLink(typo)).toThrow(/check its last character/);
  });
});
