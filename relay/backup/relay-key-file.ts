/** Reads the relay's key file for a backup, never creating one (a backup of a folder without a key is a mistake). */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { SmsgError } from "../../src/errors.js";
import { RELAY_KEY_FILE } from "../relay-key.js";

export function readRelayKeyFile(dataDir: string): Uint8Array {
  const path = join(dataDir, RELAY_KEY_FILE);
  if (!existsSync(path))
    throw new SmsgError(
      "NO_RELAY",
      `${dataDir} has no ${RELAY_KEY_FILE}: it is not a relay's data folder (see --data)`,
    );
  const key = new Uint8Array(readFileSync(path));
  if (key.length !== 32) throw new SmsgError("CONFIG", `${path} is not a relay key (expected 32 bytes)`);
  return key;
}
