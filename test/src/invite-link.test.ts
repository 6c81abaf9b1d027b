/** Invite links (src/invite-link.ts): what `smsg relay invite` prints and `smsg join` takes. */
import { expect, test } from "vitest";
import { formatInviteLink, parseInviteLink } from "../../src/invite-link.js";

const link = {
  host: "chat.example.org",
  port: 7447,
  relayKey: new Uint8Array(32).fill(7),
  code: new Uint8Array(32).fill(9),
};
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

test("format and parse round-trip", () => {
  expect(parseInviteLink(formatInviteLink(link))).toEqual(link);
});

test("a typo in the last character of the key or the code, in its unused bits only, is refused", () => {
  const text = formatInviteLink(link);
  const [, , , key, code] = text.split("/");
  const typo = (s: string) => s.slice(0, -1) + ALPHABET[ALPHABET.indexOf(s.at(-1)!) ^ 1];
  for (const bad of [text.replace(key!, typo(key!)), text.replace(code!, typo(code!))])
    expect(() => parseInviteLink(bad), bad).toThrow(/check its last character/);
});
