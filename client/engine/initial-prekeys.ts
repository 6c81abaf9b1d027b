/**
 * The prekeys a new device starts with (SECURITY.md §4.2): one signed prekey and a batch of
 * one-time prekeys, stored unpublished in the profile, ready for the `join` or
 * `register_device` (§17.8) that publishes them. Used by join.ts and new-device.ts.
 */
import type { IdentityKeyPair } from "../../crypto/identity.js";
import { generateOneTimePrekeys, generateSignedPrekey } from "../../crypto/prekeys.js";
import { wipe } from "../../crypto/primitives.js";
import type { Rng } from "../../crypto/rng.js";
import type { WireOneTimePrekey, WireSignedPrekey } from "../../src/wire/messages.js";
import type { ClientStore } from "../store/client-store.js";
import { ONE_TIME_PREKEY_BATCH } from "./prekeys.js";

/** What the relay is sent, and what to mark published once it accepted them. */
export interface InitialPrekeys {
  readonly signedPrekey: WireSignedPrekey;
  readonly oneTimePrekeys: readonly WireOneTimePrekey[];
  /** Marks the one-time prekeys published (after the relay's answer). */
  readonly markPublished: () => void;
}

/**
 * Draws the prekeys of `identity`'s device and stores them (call inside the transaction that
 * writes the account row, so keys and account are committed together); private keys are
 * wiped from memory once stored.
 */
export function storeInitialPrekeys(store: ClientStore, rng: Rng, identity: IdentityKeyPair): InitialPrekeys {
  const spk = generateSignedPrekey(rng, identity, store.prekeys.allocateSignedId());
  const opks = generateOneTimePrekeys(
    rng,
    store.prekeys.allocateOneTimeIds(ONE_TIME_PREKEY_BATCH),
    ONE_TIME_PREKEY_BATCH,
  );
  store.prekeys.putSigned({
    id: spk.id,
    privateKey: spk.keyPair.privateKey,
    publicKey: spk.keyPair.publicKey,
    signature: spk.signature,
    current: true,
  });
  store.prekeys.putOneTime(
    opks.map((k) => ({ id: k.id, privateKey: k.keyPair.privateKey, publicKey: k.keyPair.publicKey })),
  );
  wipe(spk.keyPair.privateKey, ...opks.map((k) => k.keyPair.privateKey));
  const ids = opks.map((k) => k.id);
  return {
    signedPrekey: { key_id: spk.id, public_key: spk.keyPair.publicKey, signature: spk.signature },
    oneTimePrekeys: opks.map((k) => ({ key_id: k.id, public_key: k.keyPair.publicKey })),
    markPublished: () => store.prekeys.markPublished(ids),
  };
}
