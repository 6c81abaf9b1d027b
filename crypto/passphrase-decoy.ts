/**
 * What the relay answers for a username that has no passphrase, or no account (SECURITY.md
 * §18.5): a salt and a login key derived from a secret only the relay holds, so the answer is
 * the same every time it is asked and looks like a real account's. An unauthenticated client
 * cannot tell from it whether the name exists; the relay verifies a login against the decoy key,
 * whose private half nobody has, so the attempt fails like a wrong passphrase, in the same time.
 */
import { concat, lengthPrefixed, utf8 } from "./bytes.js";
import { usernameBytes } from "./device-certificate.js";
import { UsageError } from "./errors.js";
import { label } from "./labels.js";
import { PASSPHRASE_SALT_BYTES } from "./passphrase-kdf.js";
import { ED25519_SEED_BYTES, ed25519FromSeed, hkdfSha256, wipe } from "./primitives.js";

/** Bytes of the relay's decoy secret (random, drawn once, kept with the relay's data). */
export const DECOY_SECRET_BYTES = 32;

/** A decoy record: what the relay answers and verifies against for a name without a passphrase. */
export interface PassphraseDecoy {
  readonly salt: Uint8Array;
  readonly loginPublicKey: Uint8Array;
}

/**
 * out = HKDF(ikm = decoy_secret, salt = empty, info = L("SMSG-v1 passphrase decoy") ||
 * lp(utf8(username)), 48); salt = out[0..16], login key = Ed25519 of out[16..48] (§18.5).
 */
export function passphraseDecoy(decoySecret: Uint8Array, username: string): PassphraseDecoy {
  if (decoySecret.length !== DECOY_SECRET_BYTES)
    throw new UsageError(`the decoy secret must be ${DECOY_SECRET_BYTES} bytes`);
  usernameBytes(username); // canonical (§14.5): a relay canonicalises before it asks
  const out = hkdfSha256(
    decoySecret,
    new Uint8Array(0),
    concat(label("passphraseDecoy"), lengthPrefixed(utf8(username))),
    PASSPHRASE_SALT_BYTES + ED25519_SEED_BYTES,
  );
  const seed = out.slice(PASSPHRASE_SALT_BYTES);
  const { publicKey, privateKey } = ed25519FromSeed(seed);
  wipe(seed, privateKey, out.subarray(PASSPHRASE_SALT_BYTES));
  return { salt: out.slice(0, PASSPHRASE_SALT_BYTES), loginPublicKey: publicKey };
}
