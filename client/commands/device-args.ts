/** Reading a device id from the command line (`smsg device rename ID NAME`, `device remove ID`; SECURITY.md §17.1). */
import { UsageError } from "../../src/errors.js";

/** The device id `text` names: decimal digits, 1..2^32 − 1. Throws UsageError for anything else. */
export function parseDeviceId(text: string): number {
  const id = /^[0-9]{1,10}$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(id) || id < 1 || id > 0xffffffff)
    throw new UsageError(`not a device id: ${JSON.stringify(text)} (smsg device list shows the ids)`);
  return id;
}
