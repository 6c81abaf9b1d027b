/**
 * Device links (src/device-link-url.ts, SECURITY.md §17.6): what `device link` prints, `device
 * add` parses back exactly; anything else is refused with a sentence saying what is wrong.
 */
import { describe, expect, test } from "vitest";
import { formatDeviceLink, parseDeviceLink } from "../../src/device-link-url.js";
import { UsageError } from "../../src/errors.js";

const link = {
  host: "relay.example.org",
  port: 7447,
  relayKey: new Uint8Array(32).fill(1),
  username: "alice",
  linkId: new Uint8Array(16).fill(2),
  linkSecret: new Uint8Array(32).fill(3),
  accountHash: new Uint8Array(20).fill(4),
};

describe("device links", () => {
  test("format, then parse, gives the same link (IPv6 hosts bracketed)", () => {
    const text = formatDeviceLink(link);
    expect(text).toBe(
      "smsg://relay.example.org:7447/AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE/device/alice/" +
        "AgICAgICAgICAgICAgICAg/AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM/BAQEBAQEBAQEBAQEBAQEBAQEBAQ",
    );
    expect(parseDeviceLink(text)).toEqual(link);
    expect(parseDeviceLink(` ${text}/ `)).toEqual(link);
    const v6 = { ...link, host: "::1" };
    expect(formatDeviceLink(v6)).toMatch(/^smsg:\/\/\[::1\]:7447\//);
    expect(parseDeviceLink(formatDeviceLink(v6))).toEqual(v6);
  });

  test("refuses what is not a device link, with what is wrong", () => {
    const good = formatDeviceLink(link);
    const parts = good.split("/");
    const cases: [string, RegExp][] = [
      ["smsg://relay.example.org:7447/AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE", /^not a device link/],
      [good.replace("/device/", "/invite/"), /^not a device link/],
      [good.replace(":7447", ":70000"), /^device link: port out of range/],
      [good.replace("/alice/", "/Alice/"), /^device link: the username is not valid/],
      [parts.map((p, i) => (i === 6 ? p.slice(1) : p)).join("/"), /^device link: the link id is not 16 bytes/],
      [parts.map((p, i) => (i === 7 ? `${p}A` : p)).join("/"), /^device link: the link secret is not 32 bytes/],
      [
        parts.map((p, i) => (i === 8 ? p.replace(/.$/, "=") : p)).join("/"),
        /^device link: the account hash is not 20 bytes/,
      ],
      [`${good}/extra`, /^not a device link/],
    ];
    for (const [text, sentence] of cases) {
      expect(() => parseDeviceLink(text), text).toThrow(UsageError);
      expect(() => parseDeviceLink(text), text).toThrow(sentence);
    }
  });
});
