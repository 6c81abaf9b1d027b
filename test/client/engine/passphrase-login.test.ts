/**
 * The first half of `smsg login` (client/engine/passphrase-login.ts, SECURITY.md §18.6) against
 * a scripted relay: parameters out of §18.2's range are refused before anything is derived or
 * the proof sent; the proof signs this connection's handshake hash; the backup is fetched in
 * parts and opened under the account key the relay names; a wrong passphrase, a refused proof, a
 * rate limit, an old relay, a changed backup, another account key and parts that do not fit the
 * announced size each fail with their sentence and exit code.
 */
import { beforeAll, describe, expect, test } from "vitest";
import { exitCodeOf } from "../../../client/commands/exit.js";
import {
  PassphraseLoginFailedError,
  PassphraseRateLimitedError,
  RelayParamsRefusedError,
  checkOfferedParams,
  passphraseLogIn,
} from "../../../client/engine/passphrase-login.js";
import { PassphraseUnsupportedError } from "../../../client/engine/passphrase-relay-errors.js";
import {
  BackupAccountKeyError,
  BackupOpenError,
  backupAd,
  sealBackup,
  sealBackupUnderAd,
} from "../../../crypto/account-backup.js";
import { bytesEqual } from "../../../crypto/bytes.js";
import { encodeIdentityPublic, generateIdentity, identityKey } from "../../../crypto/identity.js";
import { verifyLoginProof } from "../../../crypto/login-proof.js";
import { PASSPHRASE_ARGON2, derivePassphraseKeys } from "../../../crypto/passphrase-kdf.js";
import { EXIT } from "../../../src/exit-codes.js";
import { systemRng } from "../../../src/system-rng.js";
import { type Recorded, type Script, refuse, scriptedRelay } from "./scripted-relay.js";

const PASSPHRASE = "correct Horse battery staple 7 orbit Lamp quiet !";
const relayKey = systemRng(32);
const salt = systemRng(16);
const account = generateIdentity(systemRng);
const state = new Uint8Array([1, 2, 3, 4, 5]);
let backup: Uint8Array;
let loginPublic: Uint8Array;
let backupKey: Uint8Array;

beforeAll(() => {
  const keys = derivePassphraseKeys(PASSPHRASE, { relayKey, username: "alice", salt }, PASSPHRASE_ARGON2);
  loginPublic = keys.login.publicKey;
  backupKey = keys.backupKey;
  backup = sealBackup(
    keys.backupKey,
    { relayKey, username: "alice", salt },
    PASSPHRASE_ARGON2,
    account.publicKey,
    { accountSigningSeed: account.signing.privateKey.slice(0, 32), state },
    systemRng,
  );
}, 120_000);

const params = (t: number, memKiB: number) => () => ({ t: "passphrase_params", salt, t_cost: t, mem_kib: memKiB });

/** A relay that holds `served` for alice under `identity`, verifies the proof, and serves parts of `piece` bytes. */
function relayOf(
  opts: { served?: Uint8Array; identity?: Uint8Array; piece?: number; offsetSkew?: number; size?: number } = {},
): Script {
  const served = opts.served ?? backup;
  const piece = opts.piece ?? 40;
  return {
    passphrase_salt: params(PASSPHRASE_ARGON2.t, PASSPHRASE_ARGON2.memKiB),
    passphrase_login: (q: Recorded) => {
      if (!verifyLoginProof(loginPublic, new Uint8Array(32).fill(7), "alice", q["proof"] as Uint8Array))
        refuse("AUTH_FAILED")();
      return {
        t: "backup_info",
        username: "alice",
        identity: opts.identity ?? encodeIdentityPublic(account.publicKey),
        size: opts.size ?? served.length,
      };
    },
    backup_get: (q: Recorded) => {
      const offset = q["offset"] as number;
      return { t: "backup_part", offset: offset + (opts.offsetSkew ?? 0), data: served.slice(offset, offset + piece) };
    },
  };
}

/** The connections passphraseLogIn opened, each a scripted relay answering by the same script. */
type Connection = ReturnType<typeof scriptedRelay> & { closed: boolean; close(): void };

/** passphraseLogIn against `script`; `connections` gets each connection it opens. */
const logIn = (script: Script, passphrase = PASSPHRASE, onDerive?: () => void, connections: Connection[] = []) =>
  passphraseLogIn({
    connect: async () => {
      const c: Connection = Object.assign(scriptedRelay(script), {
        closed: false,
        close() {
          c.closed = true;
        },
      });
      connections.push(c);
      return c;
    },
    relayKey,
    username: "alice",
    passphrase,
    ...(onDerive ? { onDerive } : {}),
  }).then((r) => r.backup);

describe("checkOfferedParams (§18.2)", () => {
  test("the floor and the maximum pass; one below or above each, or a fraction, is refused", () => {
    for (const ok of [
      [3, 262144],
      [16, 1048576],
      [4, 524288],
    ])
      expect(() => checkOfferedParams({ t: ok[0]!, memKiB: ok[1]! })).not.toThrow();
    for (const [t, m, why] of [
      [2, 262144, /below the floor/],
      [3, 262143, /below the floor/],
      [0, 0, /below the floor/],
      [17, 262144, /above the maximum/],
      [3, 1048577, /above the maximum/],
      [3.5, 262144, /above the maximum|below the floor/],
    ] as const) {
      const err = (() => {
        try {
          checkOfferedParams({ t, memKiB: m });
        } catch (e) {
          return e;
        }
      })();
      expect(err, `${t}, ${m}`).toBeInstanceOf(RelayParamsRefusedError);
      expect((err as Error).message).toMatch(why);
      expect(exitCodeOf(err)).toBe(EXIT.failure);
    }
  });
});

describe("passphraseLogIn", () => {
  test("cheap parameters are refused before anything is derived or the proof sent", async () => {
    let derived = 0;
    const connections: Connection[] = [];
    const err = await logIn(
      { ...relayOf(), passphrase_salt: params(1, 8) },
      PASSPHRASE,
      () => derived++,
      connections,
    ).catch((e) => e);
    expect(err).toBeInstanceOf(RelayParamsRefusedError);
    expect((err as Error).message).toMatch(/^the relay offered Argon2id parameters below the floor/);
    expect(derived).toBe(0);
    expect(connections.map((c) => [c.closed, c.requests.map((q) => q.t)])).toEqual([[true, ["passphrase_salt"]]]);
  });

  test("an old relay is 'not supported' (exit 19); a rate limit is exit 18; nothing is derived", async () => {
    let derived = 0;
    for (const code of ["UNKNOWN_TYPE", "NOT_AUTHENTICATED"] as const) {
      const err = await logIn({ passphrase_salt: refuse(code) }, PASSPHRASE, () => derived++).catch((e) => e);
      expect(err).toBeInstanceOf(PassphraseUnsupportedError);
      expect(exitCodeOf(err)).toBe(EXIT.notSupported);
    }
    const limited = await logIn({ passphrase_salt: refuse("RATE_LIMITED") }).catch((e) => e);
    expect(limited).toBeInstanceOf(PassphraseRateLimitedError);
    // The relay's reason tells a name's empty bucket (hours) from an address's backoff (seconds).
    expect((limited as Error).message).toBe(
      "the relay allows no more passphrase log-ins as alice for now (refused with RATE_LIMITED); " +
        "nothing was stored",
    );
    expect(exitCodeOf(limited)).toBe(EXIT.rateLimited);
    expect(derived).toBe(0);
  });

  test(
    "the right passphrase: the proof verifies for this h, the backup comes in parts and opens",
    {
      timeout: 120_000,
    },
    async () => {
      let derived = 0;
      const connections: Connection[] = [];
      const opened = await logIn(
        relayOf(),
        PASSPHRASE.normalize("NFD"),
        () => {
          // §18.6: the salt's connection is closed before the Argon2id, the proof's not opened yet.
          expect(connections.map((c) => c.closed)).toEqual([true]);
          derived++;
        },
        connections,
      );
      expect(derived).toBe(1);
      expect(connections.map((c) => c.requests[0]!.t)).toEqual(["passphrase_salt", "passphrase_login"]);
      expect(connections[0]!.requests).toHaveLength(1);
      expect(connections[1]!.closed).toBe(false); // kept for the device registration
      expect(opened.username).toBe("alice");
      expect(bytesEqual(opened.account.signingKey, account.publicKey.signingKey)).toBe(true);
      expect(bytesEqual(opened.accountSigningSeed, account.signing.privateKey.slice(0, 32))).toBe(true);
      expect([...opened.state]).toEqual([...state]);
    },
  );

  test(
    "a wrong passphrase is refused by the relay: exit 9, one sentence; rate limited at login: exit 18",
    {
      timeout: 120_000,
    },
    async () => {
      const connections: Connection[] = [];
      const err = await logIn(relayOf(), `${PASSPHRASE}x`, undefined, connections).catch((e) => e);
      expect(err).toBeInstanceOf(PassphraseLoginFailedError);
      expect(connections.map((c) => c.closed)).toEqual([true, true]);
      expect((err as Error).message).toBe(
        "the relay refused the passphrase log-in as alice: wrong account passphrase, no such account, or this " +
          "account has no passphrase (then use smsg device link on a device that has it); nothing was stored",
      );
      expect(exitCodeOf(err)).toBe(EXIT.loginFailed);
      const limited = await logIn({ ...relayOf(), passphrase_login: refuse("RATE_LIMITED") }).catch((e) => e);
      expect(exitCodeOf(limited)).toBe(EXIT.rateLimited);
    },
  );

  test("a changed backup, another account key, a bad part: refused", { timeout: 240_000 }, async () => {
    const changed = backup.slice();
    changed[40]! ^= 1;
    expect(await logIn(relayOf({ served: changed })).catch((e) => e)).toBeInstanceOf(BackupOpenError);
    // Another account key named by the relay: the associated data differs, so it does not open.
    const other = encodeIdentityPublic(generateIdentity(systemRng).publicKey);
    expect(await logIn(relayOf({ identity: other })).catch((e) => e)).toBeInstanceOf(BackupOpenError);
    // A part at another offset than asked.
    const skew = await logIn(relayOf({ offsetSkew: 1 })).catch((e) => e);
    expect((skew as Error).message).toBe("the relay's account backup does not match the size it announced");
    // An account key that does not verify (§4.1): its dh-key signature changed.
    const forged = encodeIdentityPublic(account.publicKey);
    forged[127]! ^= 1;
    expect(exitCodeOf(await logIn(relayOf({ identity: forged })).catch((e) => e))).toBe(EXIT.failure);
  });

  test("a backup that opens but holds another account's seed is refused", { timeout: 120_000 }, async () => {
    const ad = backupAd({ relayKey, username: "alice", salt }, PASSPHRASE_ARGON2, identityKey(account.publicKey));
    const foreign = sealBackupUnderAd(
      backupKey,
      ad,
      { accountSigningSeed: generateIdentity(systemRng).signing.privateKey.slice(0, 32), state },
      systemRng,
    );
    const err = await logIn(relayOf({ served: foreign })).catch((e) => e);
    expect(err).toBeInstanceOf(BackupAccountKeyError);
    expect(exitCodeOf(err)).toBe(EXIT.failure);
  });
});
