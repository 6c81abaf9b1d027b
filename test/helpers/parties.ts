/** Test fixtures: deterministic identities, prekeys and sessions between two parties. */
import { generateIdentity, type IdentityKeyPair } from "../../crypto/identity.js";
import {
  bundleOf,
  generateOneTimePrekeys,
  generateSignedPrekey,
  type OneTimePrekey,
  type SignedPrekey,
} from "../../crypto/prekeys.js";
import { seededRng, type Rng } from "../../crypto/rng.js";
import { utf8 } from "../../crypto/bytes.js";

export interface Party {
  readonly name: string;
  readonly identity: IdentityKeyPair;
  readonly signedPrekey: SignedPrekey;
  readonly oneTimePrekeys: Map<number, OneTimePrekey>;
  readonly rng: Rng;
}

/** A party whose every key comes from a seed derived from `name` and `seed`. */
export function makeParty(name: string, seed = 1): Party {
  const rng = seededRng(utf8(`test party ${name} ${seed}`.padEnd(16, ".")));
  const identity = generateIdentity(rng);
  const signedPrekey = generateSignedPrekey(rng, identity, 7);
  const oneTimePrekeys = new Map(generateOneTimePrekeys(rng, 100, 3).map((k) => [k.id, k]));
  return { name, identity, signedPrekey, oneTimePrekeys, rng };
}

/** The bundle the relay would hand out for `p`, with its first remaining one-time prekey. */
export function bundleFor(p: Party, withOneTime = true) {
  const opk = withOneTime ? [...p.oneTimePrekeys.values()][0] : undefined;
  return bundleOf(p.identity, p.signedPrekey, opk);
}
