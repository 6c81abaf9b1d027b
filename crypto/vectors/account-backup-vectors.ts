/**
 * test/vectors/account-backup.json: the account passphrase's key schedule and the account
 * backup (SECURITY.md §18.2, §18.3, §18.7). Traces: per case every value from the passphrase to
 * the sealed backup. Rule cases: opening the first case's backup with a wrong passphrase, another
 * context, or changed bytes, and which Argon2id parameters a client accepts; and the strength
 * rule's verdicts. The vectors carry their own, low Argon2id parameters (§18.9): the schedule is
 * the same at any cost, and the floor is pinned by `params_cases` instead.
 *
 * The open-case table (ids, comments, changes) is part of the suite; the parameter and strength
 * tables too; the file's inputs are each trace case's passphrase, username, relay key, salt, t,
 * memKiB, account signing seed, account dh private key (with the seed: the account
 * IdentityPublic whose identity_key is in the AD), state and nonce.
 */
import { fromHex, toHex, utf8 } from "../bytes.js";
import { CodecError, SmsgError } from "../errors.js";
import { type BackupContents, openBackupUnderAd, sealBackupUnderAd } from "../account-backup.js";
import { type IdentityPublic, identityFromSecrets, identityKey } from "../identity.js";
import {
  PASSPHRASE_ARGON2_FLOOR,
  PASSPHRASE_ARGON2_MAX,
  type PassphraseContext,
  VECTOR_ARGON2_FLOOR,
  accountPassphraseBytes,
  derivePassphraseKeys,
} from "../passphrase-kdf.js";
import type { Argon2Params } from "../primitives.js";
import { replayRng, seededRng } from "../rng.js";
import { Inputs, clamp } from "./inputs.js";
import { THIS_IMPLEMENTATION, type VectorImplementation, type VectorSuite } from "./suite.js";

const FILE = "account-backup.json";

/** How an open case differs from the sealing of cases[0] (or cases[`case`]). */
interface OpenCase {
  readonly id: string;
  readonly comment: string;
  /** The trace case whose backup is opened (default 0). */
  readonly case?: number;
  /** The opener's inputs that differ from the sealer's. */
  readonly open_passphrase?: string;
  readonly open_username?: string;
  readonly relay_key_xor?: number;
  readonly salt_xor?: number;
  readonly t_delta?: number;
  readonly memKiB_delta?: number;
  /** Another account key (the other trace case's) in the associated data and the seed check. */
  readonly other_account?: true;
  /** Resealed, under the genuine key and AD, with the seed's last byte changed. */
  readonly seal_other_seed?: true;
  /** The changed context goes only into the associated data; the key is the sealer's (isolates the AD). */
  readonly ad_only?: true;
  readonly modify?:
    { readonly xor: { readonly offset: number; readonly mask: number } } | { readonly truncate: number };
  readonly append?: string;
}

const OPEN_CASES: readonly OpenCase[] = [
  { id: "genuine", comment: "§18.3: the sealer's passphrase and context open the backup" },
  {
    id: "genuine-nfc",
    comment:
      "§18.2: the passphrase is hashed in NFC, so its composed form opens a backup sealed under the decomposed one",
    case: 1,
    open_passphrase: "Zo\u00eb Bj\u00f6rn \u00f8re \u65e5\u672c\u8a9e\u306e\u30d1\u30b9\u30d5\u30ec\u30fc\u30ba 42",
  },
  {
    id: "wrong-passphrase",
    comment: "§18.3: one more letter derives another key; the AEAD fails",
    open_passphrase: "mustang eagle winter orbit cactus velvet ladders",
  },
  {
    id: "wrong-username",
    comment: "§18.2, §18.3: the username is in the Argon2id salt and the AD",
    open_username: "alicf",
  },
  {
    id: "wrong-relay-key",
    comment: "§18.2, §18.3: the relay key is in the Argon2id salt and the AD",
    relay_key_xor: 1,
  },
  { id: "wrong-salt", comment: "§18.2, §18.3: the stored salt is in the Argon2id salt and the AD", salt_xor: 1 },
  { id: "wrong-t", comment: "§18.2, §18.3: another pass count is another Argon2id output", t_delta: 1 },
  {
    id: "ad-username",
    comment: "§18.3: with the right key, another username in the AD alone fails",
    open_username: "alicf",
    ad_only: true,
  },
  {
    id: "ad-relay-key",
    comment: "§18.3: with the right key, another relay key in the AD alone fails",
    relay_key_xor: 0x80,
    ad_only: true,
  },
  {
    id: "ad-salt",
    comment: "§18.3: with the right key, another salt in the AD alone fails",
    salt_xor: 0x80,
    ad_only: true,
  },
  { id: "ad-t", comment: "§18.3: with the right key, another t in the AD alone fails", t_delta: 1, ad_only: true },
  {
    id: "ad-memkib",
    comment: "§18.3: with the right key, another memKiB in the AD alone fails",
    memKiB_delta: 8,
    ad_only: true,
  },
  {
    id: "ad-account-key",
    comment:
      "§18.3: with the right key, another account identity key in the AD fails (a backup from before a key change)",
    other_account: true,
    ad_only: true,
  },
  {
    id: "seed-not-account",
    comment: "§18.3: a backup that opens but whose seed is not the account key's is refused, nothing returned",
    seal_other_seed: true,
  },
  {
    id: "version-0",
    comment: "§18.3: a first byte other than 1 is another format: CODEC, not supported by this version",
    modify: { xor: { offset: 0, mask: 1 } },
  },
  {
    id: "version-2",
    comment: "§18.3: format 2 is not supported by this version",
    modify: { xor: { offset: 0, mask: 3 } },
  },
  { id: "nonce-bit", comment: "§18.3: a changed nonce bit fails the AEAD", modify: { xor: { offset: 1, mask: 1 } } },
  {
    id: "ciphertext-bit",
    comment: "§18.3: a changed ciphertext bit fails the AEAD",
    modify: { xor: { offset: 25, mask: 0x40 } },
  },
  { id: "tag-bit", comment: "§18.3: a changed tag bit fails the AEAD", modify: { xor: { offset: -1, mask: 0x80 } } },
  {
    id: "truncated-tag",
    comment: "§18.3: one byte short fails the AEAD",
    modify: { truncate: -1 },
  },
  {
    id: "shorter-than-seed",
    comment: "§18.3: 72 bytes cannot hold version, nonce, seed and tag (73): refused before the AEAD",
    modify: { truncate: 72 },
  },
  { id: "appended-byte", comment: "§18.3: a byte appended fails the AEAD", append: "00" },
];

const floor = PASSPHRASE_ARGON2_FLOOR;
const max = PASSPHRASE_ARGON2_MAX;

/** Which parameters a client accepts (§18.2): the floor and maximum, one below each, one above each. */
const PARAMS_CASES: readonly Argon2Params[] = [
  { t: floor.t, memKiB: floor.memKiB },
  { t: floor.t - 1, memKiB: floor.memKiB },
  { t: floor.t, memKiB: floor.memKiB - 1 },
  { t: 1, memKiB: 2 * floor.memKiB },
  { t: max.t, memKiB: max.memKiB },
  { t: max.t + 1, memKiB: floor.memKiB },
  { t: floor.t, memKiB: max.memKiB + 1 },
  { t: 3, memKiB: 256 },
];

/** The strength rule's candidates (§18.7). */
const STRENGTH_CASES: readonly string[] = [
  "mustang eagle winter orbit cactus velvet ladder",
  "correct horse battery staple",
  "P@ssw0rd",
  "Tr0ub4dor&3",
  "passwordpasswordpasswordpasswordpassword",
  "abcdefghijklmnopqrstuvwxyz0123456789",
  "xK9#mQ2$vL7!pR4&wZ1@",
  "xK9#mQ2$vL7!pR4&wZ1@eN5%",
  "Zoe\u0308 Bjo\u0308rn \u00f8re \u65e5\u672c\u8a9e\u306e\u30d1\u30b9\u30d5\u30ec\u30fc\u30ba 42",
  "tab\tinside a long enough passphrase of many words",
  "",
  "x".repeat(1025),
];

const DESCRIPTION =
  "The account passphrase's key schedule and backup (SECURITY.md §18). Per trace case: passphrase_bytes = UTF-8 of the " +
  'NFC passphrase; argon2_salt = SHA-256("SMSG-v1 passphrase salt" || relay_key || u32be(len username) || username || ' +
  "salt)[0..16]; master_key = Argon2id(passphrase_bytes, argon2_salt, t, memKiB, 32, one lane, v0x13); backup_key and " +
  'login_seed = HKDF-SHA256(master_key, empty salt, "SMSG-v1 passphrase backup key" / "SMSG-v1 passphrase login key", 32); ' +
  'login_public = Ed25519 public key of login_seed (the relay\'s verifier); ad = "SMSG-v1 account backup" || u8(1) || ' +
  "relay_key || u32be(len username) || username || account_identity_key (64, of account_signing_seed and " +
  "account_dh_private) || salt || u32be(t) || u32be(memKiB); plaintext = account_signing_seed || " +
  "state; opening also requires the seed's Ed25519 key to be the account's; " +
  "backup = u8(1) || nonce || XChaCha20-Poly1305(backup_key, nonce, plaintext, ad). The parameters here are low on " +
  "purpose (vectors carry their own); meets_floor says whether a real login would accept them. open_cases open cases[0] " +
  "(or cases[case]) with the changes listed and give the delivered backup, result and error or the opened seed " +
  "and state; params_cases (passes, mem_kib) say " +
  "which parameters a client accepts (floor t=3, memKiB=262144; max t=16, memKiB=1048576); strength gives the §18.7 " +
  "verdict for each candidate and estimate in quarter bits.";

interface Trace {
  readonly ctx: PassphraseContext;
  readonly params: Argon2Params;
  readonly passphrase: string;
  readonly account: IdentityPublic;
  readonly contents: BackupContents;
  readonly nonce: Uint8Array;
  readonly backupKey: Uint8Array;
  readonly backup: Uint8Array;
  readonly out: Record<string, unknown>;
}

function trace(c: Inputs, impl: VectorImplementation): Trace {
  const passphrase = c.string("passphrase");
  const ctx: PassphraseContext = {
    username: c.string("username"),
    relayKey: c.hex("relay_key", 32),
    salt: c.hex("salt", 16),
  };
  const params: Argon2Params = { t: c.u32("t"), memKiB: c.u32("memKiB") };
  const contents: BackupContents = { accountSigningSeed: c.hex("account_signing_seed", 32), state: c.hex("state") };
  const account = identityFromSecrets(contents.accountSigningSeed, c.x25519Private("account_dh_private")).publicKey;
  const nonce = c.hex("nonce", 24);
  let keys;
  try {
    keys = derivePassphraseKeys(passphrase, ctx, params, VECTOR_ARGON2_FLOOR);
  } catch (e) {
    if (e instanceof SmsgError && e.code !== "CRYPTO_VERIFICATION") throw new CodecError(`${FILE}: ${e.message}`);
    throw e;
  }
  const ad = impl.backupAd(ctx, params, identityKey(account));
  const backup = sealBackupUnderAd(keys.backupKey, ad, contents, replayRng([nonce]));
  return {
    ctx,
    params,
    passphrase,
    account,
    contents,
    nonce,
    backupKey: keys.backupKey,
    backup,
    out: {
      passphrase,
      username: ctx.username,
      relay_key: toHex(ctx.relayKey),
      salt: toHex(ctx.salt),
      t: params.t,
      memKiB: params.memKiB,
      account_signing_seed: toHex(contents.accountSigningSeed),
      account_dh_private: toHex(c.hex("account_dh_private", 32)),
      state: toHex(contents.state),
      nonce: toHex(nonce),
      passphrase_bytes: toHex(accountPassphraseBytes(passphrase)),
      argon2_salt: toHex(keys.argon2Salt),
      master_key: toHex(keys.master),
      backup_key: toHex(keys.backupKey),
      login_seed: toHex(keys.loginSeed),
      login_public: toHex(keys.login.publicKey),
      account_identity_key: toHex(identityKey(account)),
      meets_floor: impl.acceptsPassphraseParams(params),
      ad: toHex(ad),
      plaintext: toHex(new Uint8Array([...contents.accountSigningSeed, ...contents.state])),
      backup: toHex(backup),
    },
  };
}

function flipped(b: Uint8Array, xor: number | undefined): Uint8Array {
  if (xor === undefined) return b;
  const out = b.slice();
  out[out.length - 1]! ^= xor;
  return out;
}

function runOpenCase(oc: OpenCase, traces: readonly Trace[], impl: VectorImplementation) {
  const t = traces[oc.case ?? 0];
  if (!t) throw new CodecError(`${FILE}: open case ${oc.id}: no trace case ${oc.case ?? 0}`);
  const ctx: PassphraseContext = {
    username: oc.open_username ?? t.ctx.username,
    relayKey: flipped(t.ctx.relayKey, oc.relay_key_xor),
    salt: flipped(t.ctx.salt, oc.salt_xor),
  };
  const params: Argon2Params = { t: t.params.t + (oc.t_delta ?? 0), memKiB: t.params.memKiB + (oc.memKiB_delta ?? 0) };
  const account = oc.other_account ? traces[(oc.case ?? 0) === 0 ? 1 : 0]!.account : t.account;
  let backup = oc.seal_other_seed
    ? sealBackupUnderAd(
        t.backupKey,
        impl.backupAd(t.ctx, t.params, identityKey(t.account)),
        { ...t.contents, accountSigningSeed: flipped(t.contents.accountSigningSeed, 0x01) },
        replayRng([t.nonce]),
      )
    : t.backup.slice();
  if (oc.modify && "xor" in oc.modify) {
    const at = oc.modify.xor.offset < 0 ? backup.length + oc.modify.xor.offset : oc.modify.xor.offset;
    backup[at]! ^= oc.modify.xor.mask;
  } else if (oc.modify) {
    backup = backup.slice(0, oc.modify.truncate < 0 ? backup.length + oc.modify.truncate : oc.modify.truncate);
  }
  if (oc.append) backup = new Uint8Array([...backup, ...fromHex(oc.append)]);
  const { id, comment, ...changes } = oc;
  const common = { id, comment, ...changes, backup: toHex(backup) };
  let key = t.backupKey;
  const contextChanged =
    oc.open_passphrase !== undefined ||
    oc.open_username !== undefined ||
    oc.relay_key_xor !== undefined ||
    oc.salt_xor !== undefined ||
    oc.t_delta !== undefined ||
    oc.memKiB_delta !== undefined;
  if (contextChanged && !oc.ad_only) {
    const derived = derivePassphraseKeys(oc.open_passphrase ?? t.passphrase, ctx, params, VECTOR_ARGON2_FLOOR);
    key = derived.backupKey;
  }
  try {
    const opened = openBackupUnderAd(key, impl.backupAd(ctx, params, identityKey(account)), account.signingKey, backup);
    return {
      ...common,
      result: "valid",
      opened_account_signing_seed: toHex(opened.accountSigningSeed),
      opened_state: toHex(opened.state),
    };
  } catch (err) {
    if (!(err instanceof SmsgError) || err.code === "USAGE") throw err;
    return { ...common, result: "invalid", error: err.code };
  }
}

/** The account-backup vector suite (SECURITY.md §18.2, §18.3, §18.7). */
export const accountBackupVectors: VectorSuite = {
  file: FILE,

  recompute(file: unknown, impl: VectorImplementation = THIS_IMPLEMENTATION) {
    const f = new Inputs(file, FILE);
    const traces = f.list("cases").map((c) => trace(c, impl));
    return {
      suite: "account-backup",
      description: DESCRIPTION,
      spec: "SECURITY.md §18 (passphrase log-in)",
      cases: traces.map((t) => t.out),
      open_cases: OPEN_CASES.map((oc) => runOpenCase(oc, traces, impl)),
      params_cases: PARAMS_CASES.map(({ t, memKiB }) => ({
        passes: t,
        mem_kib: memKiB,
        accepted: impl.acceptsPassphraseParams({ t, memKiB }),
      })),
      strength: STRENGTH_CASES.map((candidate) => {
        const v = impl.passphraseStrength(candidate);
        return {
          candidate,
          accepted: v.accepted,
          quarter_bits: v.quarterBits,
          ...(v.refusal ? { refusal: v.refusal } : {}),
        };
      }),
    };
  },

  /** The fixed inputs, from seededRng("SMSG-v1 vectors account backup"). */
  generate() {
    const rng = seededRng(utf8("SMSG-v1 vectors account backup"));
    const relayKey = toHex(rng(32));
    return this.recompute({
      cases: [
        {
          passphrase: "mustang eagle winter orbit cactus velvet ladder",
          username: "alice",
          relay_key: relayKey,
          salt: toHex(rng(16)),
          t: 3,
          memKiB: 256,
          account_signing_seed: toHex(rng(32)),
          account_dh_private: toHex(clamp(rng(32))),
          state: toHex(utf8('{"contacts":["bob","carol"],"chats":[1,7]}')),
          nonce: toHex(rng(24)),
        },
        {
          // "Zoë Björn øre 日本語のパスフレーズ 42" with ë and ö decomposed (NFD): hashed in NFC.
          passphrase: "Zoe\u0308 Bjo\u0308rn \u00f8re \u65e5\u672c\u8a9e\u306e\u30d1\u30b9\u30d5\u30ec\u30fc\u30ba 42",
          username: "zoe",
          relay_key: relayKey,
          salt: toHex(rng(16)),
          t: 1,
          memKiB: 8,
          account_signing_seed: toHex(rng(32)),
          account_dh_private: toHex(clamp(rng(32))),
          state: "",
          nonce: toHex(rng(24)),
        },
      ],
    });
  },
};
