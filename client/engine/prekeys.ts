/**
 * Keeping our prekeys stocked and fresh (SECURITY.md §4.2, X3DH §3.3):
 *
 * - One-time prekeys: when the relay's stock (`logged_in.stock`, `prekeys_low.stock`) is below
 *   ONE_TIME_PREKEY_LOW, generate enough to bring it back to ONE_TIME_PREKEY_BATCH, store them
 *   (unpublished), upload, then mark them published. Keys stored but not confirmed (a crash or
 *   a lost connection in between) are uploaded again next time: the relay ignores ids it has.
 * - The signed prekey: when the current one is older than SIGNED_PREKEY_ROTATE_MS, a new one
 *   becomes current and is uploaded. The old private key is kept SIGNED_PREKEY_KEEP_MS after its
 *   successor appeared, for first messages still in flight, then deleted together with its
 *   replay-guard records (SessionsTable.forgetPrekeyMessages).
 */
import { generateOneTimePrekeys, generateSignedPrekey } from "../../crypto/prekeys.js";
import { MAX_PREKEYS_PER_UPLOAD } from "../../src/wire/limits.js";
import type { RelayClient } from "../relay-client.js";
import type { Account } from "./open-account.js";

/** One-time prekeys a fresh account publishes, and the stock a refill restores. */
export const ONE_TIME_PREKEY_BATCH = 100;
/** Refill when the relay holds fewer one-time prekeys than this. */
export const ONE_TIME_PREKEY_LOW = 25;
/** Rotate the signed prekey when it is older than this (7 days). */
export const SIGNED_PREKEY_ROTATE_MS = 7 * 86_400_000;
/** Keep an old signed prekey's private key this long after its successor appeared (14 days). */
export const SIGNED_PREKEY_KEEP_MS = 14 * 86_400_000;

/** What maintainPrekeys did. */
export interface PrekeyMaintenance {
  /** One-time prekeys uploaded (new or re-sent). */
  readonly uploaded: number;
  /** The id of a new signed prekey, when one was made. */
  readonly rotatedSignedPrekey: number | undefined;
  /** Old signed prekeys deleted. */
  readonly deletedSignedPrekeys: number;
  /** The relay's stock afterwards (the one given when nothing was uploaded). */
  readonly stock: number;
}

/**
 * Refills one-time prekeys, rotates the signed prekey and deletes expired old ones, as the
 * file comment says. `relayStock` is the relay's last word on how many one-time prekeys it holds.
 * Throws what RelayClient.request throws (the stored keys are then uploaded next time).
 */
export async function maintainPrekeys(
  acct: Account,
  relay: RelayClient,
  relayStock: number,
): Promise<PrekeyMaintenance> {
  const { store } = acct;
  const now = acct.now();
  let stock = relayStock;
  let rotated: number | undefined;

  const current = store.prekeys.currentSigned();
  if (!current || now - current.createdAt > SIGNED_PREKEY_ROTATE_MS) {
    // Stored (not current) before the upload, so we hold its private key whatever happens to the
    // upload; current only once the relay has it. A failed upload leaves the old key current and
    // the next run rotates again.
    const id = store.prekeys.allocateSignedId();
    const spk = generateSignedPrekey(acct.rng, acct.identity, id);
    const record = {
      id,
      privateKey: spk.keyPair.privateKey,
      publicKey: spk.keyPair.publicKey,
      signature: spk.signature,
    };
    store.prekeys.putSigned({ ...record, current: false });
    const r = await relay.request<"upload_prekeys">({
      t: "upload_prekeys",
      signed_prekey: { key_id: id, public_key: spk.keyPair.publicKey, signature: spk.signature },
      one_time_prekeys: [],
    });
    store.prekeys.putSigned({ ...record, current: true });
    stock = r.stock;
    rotated = id;
  }

  if (stock < ONE_TIME_PREKEY_LOW) {
    const pending = store.prekeys.countOneTime(false);
    const wanted = ONE_TIME_PREKEY_BATCH - stock - pending;
    if (wanted > 0) {
      const first = store.prekeys.allocateOneTimeIds(wanted);
      const keys = generateOneTimePrekeys(acct.rng, first, wanted);
      store.prekeys.putOneTime(
        keys.map((k) => ({ id: k.id, privateKey: k.keyPair.privateKey, publicKey: k.keyPair.publicKey })),
      );
    }
  }

  let uploaded = 0;
  for (;;) {
    const batch = store.prekeys.unpublishedOneTime(MAX_PREKEYS_PER_UPLOAD);
    if (batch.length === 0) break;
    const r = await relay.request<"upload_prekeys">({
      t: "upload_prekeys",
      one_time_prekeys: batch.map((k) => ({ key_id: k.id, public_key: k.publicKey })),
    });
    store.prekeys.markPublished(batch.map((k) => k.id));
    uploaded += batch.length;
    stock = r.stock;
    if (batch.length < MAX_PREKEYS_PER_UPLOAD) break;
  }

  const deleted = deleteExpiredSignedPrekeys(acct, now);
  return { uploaded, rotatedSignedPrekey: rotated, deletedSignedPrekeys: deleted, stock };
}

/**
 * Deletes every non-current signed prekey whose successor (the next newer one) appeared more
 * than SIGNED_PREKEY_KEEP_MS before `now`, with its replay-guard records, in one transaction.
 * Returns how many were deleted.
 */
export function deleteExpiredSignedPrekeys(acct: Account, now: number): number {
  const { store } = acct;
  return store.transaction(() => {
    const all = store.prekeys.listSigned(); // oldest first
    let deleted = 0;
    for (let i = 0; i < all.length - 1; i++) {
      const k = all[i]!;
      const successor = all[i + 1]!;
      if (k.current || now - successor.createdAt <= SIGNED_PREKEY_KEEP_MS) continue;
      store.prekeys.deleteSigned(k.id);
      store.sessions.forgetPrekeyMessages(k.id);
      deleted++;
    }
    return deleted;
  });
}
