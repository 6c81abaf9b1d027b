/**
 * What a device may be named (SECURITY.md §17.7): a label string, one line of at most 64
 * UTF-8 bytes without C0/C1 controls or bidi overrides (the wire's `str`, §14.4), as the
 * `device_list` message carries it; and not blank, since a name that shows nothing names
 * nothing. Checked before the name is stored or sent.
 */
import { UsageError } from "../../src/errors.js";
import { str } from "../../src/wire/schema.js";
import { MAX_DEVICE_NAME_BYTES } from "./app-message.js";

const deviceNameRule = str({ min: 1, max: MAX_DEVICE_NAME_BYTES });

/** Returns `name` when it can be a device's name; else throws UsageError saying what a name is. */
export function checkDeviceName(name: string): string {
  let ok = name.trim() !== "";
  try {
    deviceNameRule.parse(name, "name");
  } catch {
    ok = false;
  }
  if (!ok)
    throw new UsageError(
      `a device name is one line of 1 to ${MAX_DEVICE_NAME_BYTES} bytes, not blank and without control characters`,
    );
  return name;
}
