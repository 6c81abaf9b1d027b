/** The profile keystore, key.json (client/profile/keystore.ts). */
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { fromHex, utf8 } from "../../../crypto/bytes.js";
import { ARGON2_PROFILE, argon2id, xchachaDecrypt } from "../../../crypto/primitives.js";
import { seededRng } from "../../../crypto/rng.js";
import {
  KEYSTORE_LABEL,
  changePassphrase,
  createKeystore,
  decodeKeystore,
  encodeKeystore,
  keystoreProtection,
  unlockKeystore,
} from "../../../client/profile/keystore.js";
import {
  PassphraseRequiredError,
  ProfileExistsError,
  ProfileNotFoundError,
  WrongPassphraseError,
} from "../../../client/profile/errors.js";
import { CodecError } from "../../../src/errors.js";
import { caught, profileBytes, tempDir } from "../store/helpers.js";

/** Small Argon2id cost so tests stay fast. */
const FAST = { t: 1, memKiB: 8 };
const rng = () => seededRng(utf8("keystore test rng seed"));

describe("keystore", () => {
  test("without a passphrase: the key in hex, protection none, mode 0600", () => {
    const dir = tempDir();
    const key = createKeystore(dir, rng());
    const file = JSON.parse(readFileSync(join(dir, "key.json"), "utf8"));
    expect(file).toEqual({ version: 1, protection: "none", key: Buffer.from(key).toString("hex") });
    expect(statSync(join(dir, "key.json")).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(unlockKeystore(dir)).toEqual(key);
    expect(unlockKeystore(dir, "ignored for an unprotected profile")).toEqual(key);
    expect(keystoreProtection(dir)).toBe("none");
  });

  test("with a passphrase: Argon2id + XChaCha20-Poly1305 wrap, checked against the primitives", () => {
    const dir = tempDir();
    const key = createKeystore(dir, rng(), "correct horse", { params: FAST });
    const file = JSON.parse(readFileSync(join(dir, "key.json"), "utf8"));
    expect(Object.keys(file).sort()).toEqual(["memKiB", "nonce", "protection", "salt", "t", "version", "wrapped"]);
    expect(file).toMatchObject({ version: 1, protection: "argon2id", t: 1, memKiB: 8 });
    expect(readFileSync(join(dir, "key.json"), "utf8")).not.toContain(Buffer.from(key).toString("hex"));
    // Independent unwrap, following the documented format.
    const kek = argon2id(utf8("correct horse"), fromHex(file.salt), FAST, 32);
    const ad = new Uint8Array([...utf8(KEYSTORE_LABEL), 1]);
    expect(xchachaDecrypt(kek, fromHex(file.nonce), fromHex(file.wrapped), ad)).toEqual(key);
    expect(unlockKeystore(dir, "correct horse")).toEqual(key);
    expect(keystoreProtection(dir)).toBe("argon2id");
  });

  test("the passphrase is compared after NFC normalization", () => {
    const text = encodeKeystore(new Uint8Array(32).fill(3), rng(), "caf\u00e9", { params: FAST });
    expect(decodeKeystore(text, "cafe\u0301")).toEqual(new Uint8Array(32).fill(3));
  });

  test("production cost is ARGON2_PROFILE", () => {
    const text = encodeKeystore(new Uint8Array(32), rng(), "pw");
    expect(JSON.parse(text)).toMatchObject({ t: ARGON2_PROFILE.t, memKiB: ARGON2_PROFILE.memKiB });
  });

  test("wrong passphrase: WRONG_PASSPHRASE, missing: PASSPHRASE_REQUIRED, nothing changes on disk", () => {
    const dir = tempDir();
    createKeystore(dir, rng(), "right", { params: FAST });
    const before = profileBytes(dir);
    const wrong = caught(() => unlockKeystore(dir, "wrong"));
    expect(wrong).toBeInstanceOf(WrongPassphraseError);
    expect((wrong as WrongPassphraseError).code).toBe("WRONG_PASSPHRASE");
    expect((wrong as WrongPassphraseError).message).toMatch(/wrong passphrase/);
    const missing = caught(() => unlockKeystore(dir));
    expect(missing).toBeInstanceOf(PassphraseRequiredError);
    expect((missing as PassphraseRequiredError).code).toBe("PASSPHRASE_REQUIRED");
    expect(() => changePassphrase(dir, rng(), "wrong", "new", { params: FAST })).toThrow(WrongPassphraseError);
    expect(profileBytes(dir).equals(before)).toBe(true);
  });

  test("changePassphrase keeps the data key: set, change, remove", () => {
    const dir = tempDir();
    const key = createKeystore(dir, rng());
    changePassphrase(dir, seededRng(utf8("rng number two....")), undefined, "one", { params: FAST });
    expect(keystoreProtection(dir)).toBe("argon2id");
    expect(unlockKeystore(dir, "one")).toEqual(key);
    const first = JSON.parse(readFileSync(join(dir, "key.json"), "utf8"));
    changePassphrase(dir, seededRng(utf8("rng number three..")), "one", "two", { params: FAST });
    const second = JSON.parse(readFileSync(join(dir, "key.json"), "utf8"));
    expect(second.salt).not.toBe(first.salt);
    expect(second.nonce).not.toBe(first.nonce);
    expect(() => unlockKeystore(dir, "one")).toThrow(WrongPassphraseError);
    expect(unlockKeystore(dir, "two")).toEqual(key);
    changePassphrase(dir, rng(), "two", undefined);
    expect(keystoreProtection(dir)).toBe("none");
    expect(unlockKeystore(dir)).toEqual(key);
    expect(statSync(join(dir, "key.json")).mode & 0o777).toBe(0o600);
  });

  test("creating over an existing keystore is refused without touching it", () => {
    const dir = tempDir();
    createKeystore(dir, rng());
    const before = profileBytes(dir);
    expect(() => createKeystore(dir, seededRng(utf8("another seed here")), "pw", { params: FAST })).toThrow(
      ProfileExistsError,
    );
    expect(profileBytes(dir).equals(before)).toBe(true);
  });

  test("no key.json: PROFILE_NOT_FOUND; malformed: CodecError", () => {
    const dir = tempDir();
    expect(() => unlockKeystore(dir)).toThrow(ProfileNotFoundError);
    for (const bad of [
      "not json",
      "[]",
      '{"version":2,"protection":"none","key":"00"}',
      '{"version":1,"protection":"none","key":"00"}',
      '{"version":1,"protection":"rot13"}',
      JSON.stringify({
        version: 1,
        protection: "argon2id",
        salt: "00".repeat(16),
        t: 1,
        memKiB: 1 << 30,
        nonce: "00".repeat(24),
        wrapped: "00".repeat(48),
      }),
      JSON.stringify({
        version: 1,
        protection: "argon2id",
        salt: "00".repeat(15),
        t: 1,
        memKiB: 8,
        nonce: "00".repeat(24),
        wrapped: "00".repeat(48),
      }),
    ]) {
      writeFileSync(join(dir, "key.json"), bad);
      expect(() => unlockKeystore(dir, "pw"), bad).toThrow(CodecError);
    }
  });

  test("a tampered wrapped key reads as a wrong passphrase", () => {
    const text = encodeKeystore(new Uint8Array(32), rng(), "pw", { params: FAST });
    const f = JSON.parse(text);
    f.wrapped = (f.wrapped[0] === "0" ? "1" : "0") + f.wrapped.slice(1);
    expect(() => decodeKeystore(JSON.stringify(f), "pw")).toThrow(WrongPassphraseError);
  });
});
