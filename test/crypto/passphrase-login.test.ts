/**
 * The account passphrase's crypto layer (SECURITY.md §18): key schedule, backup, login proof,
 * decoys and the strength rule. Argon2id runs at VECTOR_ARGON2_FLOOR-level cost here, which §18.9
 * allows for vectors and unit tests only; the tests also show the real floor is the default.
 */
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import {
  ACCOUNT_BACKUP_VERSION,
  BACKUP_OVERHEAD_BYTES,
  BackupAccountKeyError,
  BackupOpenError,
  MAX_BACKUP_STATE_BYTES,
  backupAd,
  openBackup,
  openBackupUnderAd,
  openBackupWithPassphrase,
  sealBackup,
  sealBackupUnderAd,
} from "../../crypto/account-backup.js";
import { bytesEqual, utf8 } from "../../crypto/bytes.js";
import { CodecError, UsageError } from "../../crypto/errors.js";
import { generateIdentity, identityFromSecrets, identityKey } from "../../crypto/identity.js";
import { LABELS } from "../../crypto/labels.js";
import { makeLoginProof, verifyLoginProof } from "../../crypto/login-proof.js";
import { passphraseDecoy } from "../../crypto/passphrase-decoy.js";
import {
  PASSPHRASE_ARGON2,
  PASSPHRASE_ARGON2_FLOOR,
  type PassphraseContext,
  PassphraseParamsError,
  VECTOR_ARGON2_FLOOR,
  derivePassphraseKeys,
  passphraseArgon2Salt,
} from "../../crypto/passphrase-kdf.js";
import {
  MIN_PASSPHRASE_QUARTER_BITS,
  WeakPassphraseError,
  passphraseStrength,
  requireStrongPassphrase,
} from "../../crypto/passphrase-strength.js";
import { seededRng } from "../../crypto/rng.js";

const LOW = { t: 1, memKiB: 8 };
const rng = seededRng(utf8("passphrase-login.test.ts seed 01"));
const ctx: PassphraseContext = { relayKey: rng(32), username: "alice", salt: rng(16) };
const PASS = "mustang eagle winter orbit cactus velvet ladder";
const keys = derivePassphraseKeys(PASS, ctx, LOW, VECTOR_ARGON2_FLOOR);
const contents = { accountSigningSeed: rng(32), state: utf8("contacts and chats") };
const account = identityFromSecrets(contents.accountSigningSeed, rng(32)).publicKey;
const backup = sealBackup(keys.backupKey, ctx, LOW, account, contents, rng);

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });

describe("key schedule (§18.2)", () => {
  test("the real floor is the default: low parameters are refused before any Argon2id", () => {
    expect(PASSPHRASE_ARGON2_FLOOR).toEqual({ t: 3, memKiB: 262144 });
    expect(PASSPHRASE_ARGON2).toEqual(PASSPHRASE_ARGON2_FLOOR);
    expect(() => derivePassphraseKeys(PASS, ctx, LOW)).toThrow(PassphraseParamsError);
    expect(() => openBackupWithPassphrase(PASS, ctx, LOW, account, backup)).toThrow(PassphraseParamsError);
    expect(() => derivePassphraseKeys(PASS, ctx, { t: 3, memKiB: 2 * 1024 * 1024 })).toThrow(/exceed the maximum/);
    expect(() => derivePassphraseKeys(PASS, ctx, { t: 2.5, memKiB: 262144 })).toThrow(PassphraseParamsError);
  });

  test("backup key, login seed and master are distinct; the same inputs give the same keys", () => {
    const again = derivePassphraseKeys(PASS, ctx, LOW, VECTOR_ARGON2_FLOOR);
    expect(again.backupKey).toEqual(keys.backupKey);
    expect(again.login.publicKey).toEqual(keys.login.publicKey);
    expect(bytesEqual(keys.backupKey, keys.loginSeed)).toBe(false);
    expect(bytesEqual(keys.backupKey, keys.master)).toBe(false);
  });

  test("the Argon2id salt depends on relay key, username and stored salt", () => {
    const base = passphraseArgon2Salt(ctx);
    expect(base).toHaveLength(16);
    const flip = (b: Uint8Array) => Uint8Array.from(b, (x, i) => (i === 0 ? x ^ 1 : x));
    expect(passphraseArgon2Salt({ ...ctx, relayKey: flip(ctx.relayKey) })).not.toEqual(base);
    expect(passphraseArgon2Salt({ ...ctx, salt: flip(ctx.salt) })).not.toEqual(base);
    expect(passphraseArgon2Salt({ ...ctx, username: "alicf" })).not.toEqual(base);
  });

  test("NFC: composed and decomposed forms of a passphrase give the same keys", () => {
    const a = derivePassphraseKeys("Zo\u00eb B", ctx, LOW, VECTOR_ARGON2_FLOOR);
    const b = derivePassphraseKeys("Zoe\u0308 B", ctx, LOW, VECTOR_ARGON2_FLOOR);
    expect(a.backupKey).toEqual(b.backupKey);
  });

  test("an empty or too long passphrase and a malformed context are usage errors", () => {
    expect(() => derivePassphraseKeys("", ctx, LOW, VECTOR_ARGON2_FLOOR)).toThrow(UsageError);
    expect(() => derivePassphraseKeys("x".repeat(1025), ctx, LOW, VECTOR_ARGON2_FLOOR)).toThrow(UsageError);
    expect(() => derivePassphraseKeys(PASS, { ...ctx, salt: new Uint8Array(15) }, LOW, VECTOR_ARGON2_FLOOR)).toThrow(
      UsageError,
    );
  });
});

describe("account backup (§18.3)", () => {
  test("opens to exactly what was sealed; the layout is version, nonce, AEAD", () => {
    expect(backup[0]).toBe(ACCOUNT_BACKUP_VERSION);
    expect(backup).toHaveLength(BACKUP_OVERHEAD_BYTES + contents.state.length);
    expect(openBackup(keys.backupKey, ctx, LOW, account, backup)).toEqual(contents);
    expect(openBackupWithPassphrase(PASS, ctx, LOW, account, backup, VECTOR_ARGON2_FLOOR)).toEqual(contents);
  });

  test("every single bit flipped anywhere in the backup is refused, with a typed error", () => {
    for (let i = 0; i < backup.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const changed = backup.slice();
        changed[i]! ^= 1 << bit;
        // The version byte gives "not supported by this version"; everything else does not authenticate.
        expect(() => openBackup(keys.backupKey, ctx, LOW, account, changed), `byte ${i} bit ${bit}`).toThrow(
          i === 0 ? CodecError : BackupOpenError,
        );
      }
    }
  });

  test("property: any truncation or extension is refused", () => {
    fc.assert(
      fc.property(fc.nat({ max: backup.length - 1 }), fc.uint8Array({ minLength: 1, maxLength: 40 }), (cut, extra) => {
        expect(() => openBackup(keys.backupKey, ctx, LOW, account, backup.slice(0, cut))).toThrow(BackupOpenError);
        expect(() => openBackup(keys.backupKey, ctx, LOW, account, new Uint8Array([...backup, ...extra]))).toThrow(
          BackupOpenError,
        );
      }),
    );
  });

  test("property: a wrong passphrase is refused", () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 60 }).filter((p) => p.normalize("NFC") !== PASS),
        (wrong) => {
          expect(() => openBackupWithPassphrase(wrong, ctx, LOW, account, backup, VECTOR_ARGON2_FLOOR)).toThrow(
            BackupOpenError,
          );
        },
      ),
      { numRuns: 40 },
    );
  });

  test("property: the right key with any other associated data (relay, name, salt, parameters) is refused", () => {
    const other = fc.record({
      relayKey: bytes(32),
      username: fc.stringMatching(/^[a-z0-9][a-z0-9_.-]{2,31}$/),
      salt: bytes(16),
      t: fc.integer({ min: 1, max: 4 }),
      memKiB: fc.integer({ min: 8, max: 4096 }),
    });
    fc.assert(
      fc.property(other, (o) => {
        const c2 = { relayKey: o.relayKey, username: o.username, salt: o.salt };
        const p2 = { t: o.t, memKiB: o.memKiB };
        fc.pre(!bytesEqual(backupAd(c2, p2, identityKey(account)), backupAd(ctx, LOW, identityKey(account))));
        expect(() => openBackup(keys.backupKey, c2, p2, account, backup)).toThrow(BackupOpenError);
      }),
    );
  });

  test("property: seal then open is the identity, with a fresh nonce each time", () => {
    fc.assert(
      fc.property(bytes(32), bytes(32), fc.uint8Array({ maxLength: 300 }), (seed, dh, state) => {
        const c = { accountSigningSeed: seed, state };
        const a = identityFromSecrets(seed, dh).publicKey;
        const b1 = sealBackup(keys.backupKey, ctx, LOW, a, c, rng);
        const b2 = sealBackup(keys.backupKey, ctx, LOW, a, c, rng);
        expect(bytesEqual(b1.subarray(1, 25), b2.subarray(1, 25))).toBe(false);
        expect(openBackup(keys.backupKey, ctx, LOW, a, b1)).toEqual(c);
      }),
    );
  });

  test("a backup of another account key does not open: the key is in the AD, and the seed must be the account's", () => {
    const other = generateIdentity(rng).publicKey;
    // The account key changed since the backup was sealed (§18.6): the AD differs.
    expect(() => openBackup(keys.backupKey, ctx, LOW, other, backup)).toThrow(BackupOpenError);
    // Sealed under the right AD but with a seed that is not the account's: opens, then refused whole.
    const wrongSeed = sealBackupUnderAd(
      keys.backupKey,
      backupAd(ctx, LOW, identityKey(account)),
      { ...contents, accountSigningSeed: rng(32) },
      rng,
    );
    expect(() => openBackup(keys.backupKey, ctx, LOW, account, wrongSeed)).toThrow(BackupAccountKeyError);
    expect(() =>
      openBackupUnderAd(keys.backupKey, backupAd(ctx, LOW, identityKey(account)), account.signingKey, wrongSeed),
    ).toThrow(BackupAccountKeyError);
    // Nor can a seed that is not the account's be sealed through the checked path.
    expect(() => sealBackup(keys.backupKey, ctx, LOW, other, contents, rng)).toThrow(UsageError);
  });

  test("the state limit is the account-state snapshot's, 60 KiB, as in a link grant (§17.6.1)", () => {
    expect(MAX_BACKUP_STATE_BYTES).toBe(60 * 1024);
  });

  test("a state over the limit, or a seed of the wrong size, cannot be sealed", () => {
    const big = { accountSigningSeed: contents.accountSigningSeed, state: new Uint8Array(MAX_BACKUP_STATE_BYTES + 1) };
    expect(() => sealBackup(keys.backupKey, ctx, LOW, account, big, rng)).toThrow(UsageError);
    expect(() =>
      sealBackup(keys.backupKey, ctx, LOW, account, { ...contents, accountSigningSeed: new Uint8Array(31) }, rng),
    ).toThrow(UsageError);
  });
});

describe("login proof (§18.4)", () => {
  const h = rng(32);
  const proof = makeLoginProof(keys.login.privateKey, h, "alice");

  test("verifies for this connection and username only", () => {
    expect(verifyLoginProof(keys.login.publicKey, h, "alice", proof)).toBe(true);
    expect(verifyLoginProof(keys.login.publicKey, h, "bob", proof)).toBe(false);
    expect(verifyLoginProof(keys.login.publicKey, h.subarray(1), "alice", proof)).toBe(false);
    expect(verifyLoginProof(keys.login.publicKey, h, "alice", proof.subarray(1))).toBe(false);
  });

  test("a username that is not canonical (§14.5) is refused by every §18 function", () => {
    for (const bad of ["", "Alice", "al", "alice!", "a".repeat(33)]) {
      expect(verifyLoginProof(keys.login.publicKey, h, bad, proof), bad).toBe(false);
      expect(() => makeLoginProof(keys.login.privateKey, h, bad), bad).toThrow(UsageError);
      expect(() => passphraseArgon2Salt({ ...ctx, username: bad }), bad).toThrow(UsageError);
      expect(() => passphraseDecoy(new Uint8Array(32), bad), bad).toThrow(UsageError);
    }
  });

  test("property: any other handshake hash is refused", () => {
    fc.assert(
      fc.property(bytes(32), (other) => {
        fc.pre(!bytesEqual(other, h));
        expect(verifyLoginProof(keys.login.publicKey, other, "alice", proof)).toBe(false);
      }),
    );
  });

  test("property: any bit flipped in the proof is refused", () => {
    fc.assert(
      fc.property(fc.nat({ max: 63 }), fc.nat({ max: 7 }), (i, bit) => {
        const changed = proof.slice();
        changed[i]! ^= 1 << bit;
        expect(verifyLoginProof(keys.login.publicKey, h, "alice", changed)).toBe(false);
      }),
    );
  });

  test("a wrong passphrase gives another login key, whose proof the verifier refuses", () => {
    const wrong = derivePassphraseKeys(PASS + "s", ctx, LOW, VECTOR_ARGON2_FLOOR);
    expect(verifyLoginProof(keys.login.publicKey, h, "alice", makeLoginProof(wrong.login.privateKey, h, "alice"))).toBe(
      false,
    );
  });
});

describe("decoys (§18.5)", () => {
  const secret = rng(32);
  test("the same answer every time, different per name and per relay", () => {
    const a = passphraseDecoy(secret, "nobody");
    expect(passphraseDecoy(secret, "nobody")).toEqual(a);
    expect(passphraseDecoy(secret, "nobody2").salt).not.toEqual(a.salt);
    expect(passphraseDecoy(rng(32), "nobody").loginPublicKey).not.toEqual(a.loginPublicKey);
    expect(a.salt).toHaveLength(16);
    expect(a.loginPublicKey).toHaveLength(32);
  });
});

describe("strength rule (§18.7)", () => {
  test("refuses the classic weak ones and accepts long random ones", () => {
    for (const weak of ["P@ssw0rd", "correct horse battery staple", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"]) {
      expect(passphraseStrength(weak).accepted, weak).toBe(false);
      expect(() => requireStrongPassphrase(weak)).toThrow(WeakPassphraseError);
    }
    expect(passphraseStrength(PASS).accepted).toBe(true);
    expect(() => requireStrongPassphrase(PASS)).not.toThrow();
    expect(passphraseStrength("ok\u0007 but a control character in a long one").refusal).toBe("control-character");
  });

  test("property: appending never lowers the estimate; a repeated passphrase earns credit for at most two more characters", () => {
    const ascii = fc.stringMatching(/^[ -~]{0,40}$/);
    fc.assert(
      fc.property(ascii, ascii, (a, b) => {
        fc.pre(a.length > 0);
        expect(passphraseStrength(a + b).quarterBits).toBeGreaterThanOrEqual(passphraseStrength(a).quarterBits);
        expect(passphraseStrength(a + a).quarterBits).toBeLessThanOrEqual(passphraseStrength(a).quarterBits + 32);
      }),
    );
  });

  test("the threshold is 64 bits", () => {
    expect(MIN_PASSPHRASE_QUARTER_BITS).toBe(256);
  });
});

describe("labels (§3)", () => {
  test("no label is equal to or a prefix of another", () => {
    const all = Object.values(LABELS);
    for (const a of all) for (const b of all) if (a !== b) expect(b.startsWith(a), `${a} / ${b}`).toBe(false);
    expect(new Set(all).size).toBe(all.length);
  });
});
