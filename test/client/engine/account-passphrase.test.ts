/**
 * Setting and removing the account passphrase (client/engine/account-passphrase.ts, SECURITY.md
 * §18.6) against a scripted relay: the strength rule refuses before anything is derived or sent,
 * the backup goes in backup_put pieces and then passphrase_set names its size, salt, default
 * parameters and a verifier that the passphrase derives again, and the staged backup opens to
 * the account's seed; a relay that does not serve §18 is "not supported" (exit 19).
 */
import { describe, expect, test } from "vitest";
import { removeAccountPassphrase, setAccountPassphrase } from "../../../client/engine/account-passphrase.js";
import { PassphraseUnsupportedError } from "../../../client/engine/passphrase-relay-errors.js";
import { exitCodeOf } from "../../../client/commands/exit.js";
import { openBackup } from "../../../crypto/account-backup.js";
import { bytesEqual, concat } from "../../../crypto/bytes.js";
import { encodeIdentityPublic, generateIdentity } from "../../../crypto/identity.js";
import { PASSPHRASE_ARGON2, derivePassphraseKeys, wipePassphraseKeys } from "../../../crypto/passphrase-kdf.js";
import { WeakPassphraseError } from "../../../crypto/passphrase-strength.js";
import { EXIT } from "../../../src/exit-codes.js";
import { systemRng } from "../../../src/system-rng.js";
import { buildAccountState } from "../../../client/engine/account-state-snapshot.js";
import { backupStateDigest } from "../../../client/engine/backup-refresh.js";
import { openTestStore, tempDir } from "../store/helpers.js";
import { type Recorded, refuse, scriptedRelay } from "./scripted-relay.js";

const STRONG = "correct Horse battery staple 7 orbit Lamp quiet !";

/**
 * The profile of alice's device 2: its own device key, and the account key it was given (the
 * backup must carry the account's seed and be bound to the account key, never the device's).
 */
const account = generateIdentity(systemRng);
const device = generateIdentity(systemRng);
const relayKey = systemRng(32);
const store = openTestStore(tempDir());
store.account.set({
  relayHost: "127.0.0.1",
  relayPort: 1,
  relayKey,
  username: "alice",
  displayName: null,
  credential: systemRng(32),
  signingSeed: device.signing.privateKey.slice(0, 32),
  dhPrivate: device.dh.privateKey,
  deviceId: 2,
  accountIdentity: encodeIdentityPublic(account.publicKey),
  accountSigningSeed: account.signing.privateKey.slice(0, 32),
});
const acct = { rng: systemRng, relayKey, username: "alice", store };
const ok = () => ({ t: "ok" });

describe("setAccountPassphrase", () => {
  test("a weak passphrase is refused with the rule's reason before anything is derived or sent", async () => {
    const relay = scriptedRelay({ backup_put: ok, passphrase_set: ok });
    let derived = 0;
    for (const weak of ["", "password", "abcdefghijklmnopqrstuvwxyz", "four common words here", "tab\there"]) {
      const err = await setAccountPassphrase(acct, relay, weak, { onDerive: () => derived++ }).catch((e) => e);
      expect(err, weak).toBeInstanceOf(WeakPassphraseError);
      expect(exitCodeOf(err)).toBe(EXIT.usage);
    }
    expect(((await setAccountPassphrase(acct, relay, "aaaa").catch((e: unknown) => e)) as Error).message).toMatch(
      /at least 7 random words, or 20 random characters/,
    );
    expect(derived).toBe(0);
    expect(relay.requests).toEqual([]);
  });

  test(
    "stages the backup, then sets salt, default parameters, verifier and size; the backup opens to the seed",
    { timeout: 120_000 },
    async () => {
      const relay = scriptedRelay({ backup_put: ok, passphrase_set: ok });
      let derived = 0;
      const r = await setAccountPassphrase(acct, relay, STRONG, { onDerive: () => derived++ });
      expect(derived).toBe(1);
      const puts = relay.requests.filter((q) => q.t === "backup_put");
      const set = relay.requests.at(-1)!;
      expect(relay.requests.map((q) => q.t)).toEqual([...puts.map(() => "backup_put"), "passphrase_set"]);
      let offset = 0;
      for (const p of puts) {
        expect(p["offset"]).toBe(offset);
        offset += (p["data"] as Uint8Array).length;
      }
      const backup = concat(...puts.map((p) => p["data"] as Uint8Array));
      expect(set).toMatchObject({
        t_cost: PASSPHRASE_ARGON2.t,
        mem_kib: PASSPHRASE_ARGON2.memKiB,
        size: backup.length,
      });
      expect(r.backupBytes).toBe(backup.length);
      // A store without contacts or chats: the empty snapshot of §17.6.1 in the backup's 73 bytes of framing.
      const state = buildAccountState(store).bytes;
      expect(backup.length).toBe(73 + state.length);

      const salt = set["salt"] as Uint8Array;
      const ctx = { relayKey: acct.relayKey, username: "alice", salt };
      const keys = derivePassphraseKeys(STRONG.normalize("NFD"), ctx, PASSPHRASE_ARGON2);
      try {
        expect(bytesEqual(keys.login.publicKey, set["login_public"] as Uint8Array)).toBe(true);
        const opened = openBackup(keys.backupKey, ctx, PASSPHRASE_ARGON2, account.publicKey, backup);
        expect(bytesEqual(opened.accountSigningSeed, account.signing.privateKey.slice(0, 32))).toBe(true);
        expect(bytesEqual(opened.state, state)).toBe(true);
        // Kept to update the backup later (§18.6 "Update"), sealed in the store: the key, the
        // record's salt, parameters and verifier, and the digest of what was sealed.
        expect(bytesEqual(store.account.get()!.backupKey!, keys.backupKey)).toBe(true);
        expect(store.account.backupMaterial()).toEqual({
          backupKey: keys.backupKey,
          salt,
          t: PASSPHRASE_ARGON2.t,
          memKiB: PASSPHRASE_ARGON2.memKiB,
          loginPublic: keys.login.publicKey,
          digest: backupStateDigest(account.publicKey, state),
        });
        expect(() => openBackup(keys.backupKey, ctx, PASSPHRASE_ARGON2, device.publicKey, backup)).toThrow();
      } finally {
        wipePassphraseKeys(keys);
      }
    },
  );

  test("change draws a new salt each time", { timeout: 120_000 }, async () => {
    const salts: Uint8Array[] = [];
    const relay = scriptedRelay({
      backup_put: ok,
      passphrase_set: (q: Recorded) => {
        salts.push(q["salt"] as Uint8Array);
        return { t: "ok" };
      },
    });
    await setAccountPassphrase(acct, relay, STRONG);
    await setAccountPassphrase(acct, relay, STRONG);
    expect(bytesEqual(salts[0]!, salts[1]!)).toBe(false);
  });

  test(
    "a relay that does not serve §18.6 is 'not supported' (exit 19); other refusals pass through",
    {
      timeout: 120_000,
    },
    async () => {
      const old = scriptedRelay({ backup_put: refuse("UNKNOWN_TYPE"), passphrase_set: ok });
      const err = await setAccountPassphrase(acct, old, STRONG).catch((e) => e);
      expect(err).toBeInstanceOf(PassphraseUnsupportedError);
      expect((err as Error).message).toBe("this relay does not support passphrase log-in (update the relay)");
      expect(exitCodeOf(err)).toBe(EXIT.notSupported);
      expect(old.requests.map((q) => q.t)).toEqual(["backup_put"]);

      const limited = scriptedRelay({ backup_put: ok, passphrase_set: refuse("RATE_LIMITED") });
      expect(exitCodeOf(await setAccountPassphrase(acct, limited, STRONG).catch((e) => e))).toBe(EXIT.rateLimited);
    },
  );
});

describe("removeAccountPassphrase", () => {
  test("sends passphrase_remove and forgets the backup material; an old relay is 'not supported' and it stays", async () => {
    const material = {
      backupKey: systemRng(32),
      salt: systemRng(16),
      t: 3,
      memKiB: 262144,
      loginPublic: systemRng(32),
      digest: systemRng(32),
    };
    store.account.setBackupMaterial(material);
    const err = await removeAccountPassphrase(acct, scriptedRelay({ passphrase_remove: refuse("UNKNOWN_TYPE") })).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(PassphraseUnsupportedError);
    expect(store.account.backupMaterial()).toEqual(material);
    const relay = scriptedRelay({ passphrase_remove: ok });
    await removeAccountPassphrase(acct, relay);
    expect(relay.requests.map((q) => q.t)).toEqual(["passphrase_remove"]);
    expect(store.account.get()!.backupKey).toBeNull();
    expect(store.account.backupMaterial()).toBeUndefined();
  });
});
