/**
 * Device names (client/protocol/device-name.ts, SECURITY.md §17.7): a label string of 1..64
 * UTF-8 bytes, not blank, without controls or bidi overrides; and device ids on the command
 * line (client/commands/device-args.ts).
 */
import { describe, expect, test } from "vitest";
import { parseDeviceId } from "../../../client/commands/device-args.js";
import { encodeAppMessage } from "../../../client/protocol/app-message.js";
import { checkDeviceName } from "../../../client/protocol/device-name.js";
import { UsageError } from "../../../src/errors.js";

describe("checkDeviceName", () => {
  test("takes a label of 1..64 bytes, and what it takes the device_list message carries", () => {
    for (const name of ["Laptop", "x", "Ä".repeat(32), "a".repeat(64), "Büro 2 — Ünïcödé", "🙂 phone"]) {
      expect(checkDeviceName(name)).toBe(name);
      expect(() =>
        encodeAppMessage({ v: 1, k: "device_list", list: new Uint8Array(1), names: [{ id: 1, name }] }),
      ).not.toThrow();
    }
  });

  test("refuses an empty or blank name, more than 64 bytes, controls and bidi overrides", () => {
    const bad = [
      "",
      "   ",
      "a".repeat(65),
      "Ä".repeat(33),
      "two\nlines",
      "tab\there",
      "\x1b[31mred",
      "evil\u202e",
      "\u2066x",
    ];
    for (const name of bad) {
      expect(() => checkDeviceName(name), JSON.stringify(name)).toThrow(UsageError);
      expect(() => checkDeviceName(name)).toThrow(
        "a device name is one line of 1 to 64 bytes, not blank and without control characters",
      );
    }
  });
});

describe("parseDeviceId", () => {
  test("decimal ids 1..2^32 − 1", () => {
    expect(parseDeviceId("1")).toBe(1);
    expect(parseDeviceId("02")).toBe(2);
    expect(parseDeviceId("4294967295")).toBe(0xffffffff);
  });

  test("refuses anything else with one sentence", () => {
    for (const text of ["0", "-1", "1.5", "0x10", "4294967296", "", " 2", "two", "1e3"]) {
      expect(() => parseDeviceId(text), text).toThrow(UsageError);
      expect(() => parseDeviceId(text)).toThrow(
        `not a device id: ${JSON.stringify(text)} (smsg device list shows the ids)`,
      );
    }
  });
});
