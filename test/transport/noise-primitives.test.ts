/**
 * The building blocks checked against independent implementations: HMAC-HASH and HKDF
 * (Noise §4.3) against libsodium's HMAC-SHA256 / RFC 5869 HKDF and Node's OpenSSL
 * HMAC/HKDF over BLAKE2b-512; CipherState (Noise §5.1) nonce layout and limits.
 */
import { createHmac, hkdfSync } from "node:crypto";
import { describe, expect, test } from "vitest";
import { concat, fromHex, toHex } from "../../crypto/bytes.js";
import { CryptoVerificationError, LimitError, UsageError } from "../../crypto/errors.js";
import { blake2b, chachaEncrypt, hkdfSha256, hmacSha256 } from "../../crypto/primitives.js";
import { seededRng } from "../../crypto/rng.js";
import {
  CipherState,
  NOISE_BLAKE2B,
  NOISE_MAX_NONCE,
  NOISE_SHA256,
  SymmetricState,
  chachaPolyNonce,
  noiseHkdf,
  noiseHmac,
} from "../../src/transport/index.js";

const rng = seededRng(new Uint8Array(32).fill(7));
const empty = new Uint8Array(0);

describe("HMAC-HASH (Noise §4.3, RFC 2104)", () => {
  for (const keyLen of [0, 1, 32, 63, 64, 65, 128, 129, 200]) {
    test(`SHA256, key ${keyLen} bytes, equals libsodium HMAC-SHA256`, () => {
      const key = rng(keyLen);
      const msg = rng(77);
      expect(toHex(noiseHmac(NOISE_SHA256, key, msg))).toBe(toHex(hmacSha256(key, msg)));
    });
    test(`BLAKE2b, key ${keyLen} bytes, equals OpenSSL HMAC-BLAKE2b512 (block 128)`, () => {
      const key = rng(keyLen);
      const msg = rng(77);
      const expected = createHmac("blake2b512", key).update(msg).digest("hex");
      expect(toHex(noiseHmac(NOISE_BLAKE2B, key, msg))).toBe(expected);
    });
  }

  test("BLAKE2b HMAC is not BLAKE2b's keyed mode", () => {
    const key = rng(64);
    const msg = rng(10);
    expect(toHex(noiseHmac(NOISE_BLAKE2B, key, msg))).not.toBe(toHex(blake2b(msg, 64, key)));
  });
});

describe("HKDF (Noise §4.3) equals RFC 5869 HKDF with salt = ck and empty info", () => {
  for (const ikmLen of [0, 32]) {
    test(`SHA256, ikm ${ikmLen} bytes`, () => {
      const ck = rng(32);
      const ikm = rng(ikmLen);
      const [a, b] = noiseHkdf(NOISE_SHA256, ck, ikm, 2);
      const [c, d, e] = noiseHkdf(NOISE_SHA256, ck, ikm, 3);
      expect(toHex(concat(a, b))).toBe(toHex(hkdfSha256(ikm, ck, empty, 64)));
      expect(toHex(concat(c, d, e))).toBe(toHex(hkdfSha256(ikm, ck, empty, 96)));
    });
    test(`BLAKE2b, ikm ${ikmLen} bytes`, () => {
      const ck = rng(64);
      const ikm = rng(ikmLen);
      const [a, b, c] = noiseHkdf(NOISE_BLAKE2B, ck, ikm, 3);
      expect([a.length, b.length, c.length]).toEqual([64, 64, 64]);
      const expected = Buffer.from(hkdfSync("blake2b512", ikm, ck, empty, 192)).toString("hex");
      expect(toHex(concat(a, b, c))).toBe(expected);
    });
  }

  test("refuses other output counts", () => {
    expect(() => noiseHkdf(NOISE_SHA256, rng(32), empty, 4 as 2)).toThrow(UsageError);
  });
});

describe("InitializeSymmetric (Noise §5.2)", () => {
  test("a name of at most HASHLEN bytes is zero-padded, a longer one is hashed", () => {
    const short = new TextEncoder().encode("Noise_NK_25519_ChaChaPoly_SHA256"); // 32 bytes
    expect(toHex(new SymmetricState(NOISE_SHA256, short).getHandshakeHash())).toBe(toHex(short));
    const padded = new SymmetricState(NOISE_BLAKE2B, short).getHandshakeHash();
    expect(toHex(padded)).toBe(toHex(concat(short, new Uint8Array(32))));
    const long = new TextEncoder().encode("Noise_NKpsk0_25519_ChaChaPoly_SHA256");
    expect(toHex(new SymmetricState(NOISE_SHA256, long).getHandshakeHash())).toBe(toHex(NOISE_SHA256.hash(long)));
  });
});

describe("CipherState (Noise §5.1)", () => {
  const key = fromHex("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");

  test("nonce is 4 zero bytes then the 64-bit counter, little-endian", () => {
    expect(toHex(chachaPolyNonce(0n))).toBe("000000000000000000000000");
    expect(toHex(chachaPolyNonce(0x0102030405060708n))).toBe("000000000807060504030201");
    const cs = new CipherState(key);
    cs.setNonce(0x0102030405060708n);
    const expected = chachaEncrypt(key, fromHex("000000000807060504030201"), fromHex("abcd"), fromHex("ff"));
    expect(toHex(cs.encryptWithAd(fromHex("ff"), fromHex("abcd")))).toBe(toHex(expected));
    expect(cs.nonce).toBe(0x0102030405060709n);
  });

  test("without a key, EncryptWithAd and DecryptWithAd return the input", () => {
    const cs = new CipherState();
    expect(cs.hasKey()).toBe(false);
    expect(toHex(cs.encryptWithAd(empty, fromHex("0102")))).toBe("0102");
    expect(toHex(cs.decryptWithAd(empty, fromHex("0102")))).toBe("0102");
  });

  test("nonce 2^64-2 is the last one used; 2^64-1 is refused on both sides", () => {
    const a = new CipherState(key);
    const b = new CipherState(key);
    a.setNonce(NOISE_MAX_NONCE - 1n);
    b.setNonce(NOISE_MAX_NONCE - 1n);
    const ct = a.encryptWithAd(empty, fromHex("01"));
    expect(toHex(b.decryptWithAd(empty, ct))).toBe("01");
    expect(a.nonce).toBe(NOISE_MAX_NONCE);
    expect(() => a.encryptWithAd(empty, fromHex("02"))).toThrow(LimitError);
    expect(() => b.decryptWithAd(empty, ct)).toThrow(LimitError);
    expect(() => a.setNonce(NOISE_MAX_NONCE + 1n)).toThrow(UsageError);
  });

  test("a failed decryption leaves n unchanged", () => {
    const a = new CipherState(key);
    const b = new CipherState(key);
    const ct = a.encryptWithAd(empty, fromHex("0102030405"));
    const bad = ct.slice();
    bad[0]! ^= 1;
    expect(() => b.decryptWithAd(empty, bad)).toThrow(CryptoVerificationError);
    expect(() => b.decryptWithAd(fromHex("00"), ct)).toThrow(CryptoVerificationError);
    expect(() => b.decryptWithAd(empty, ct.subarray(0, 15))).toThrow(CryptoVerificationError);
    expect(b.nonce).toBe(0n);
    expect(toHex(b.decryptWithAd(empty, ct))).toBe("0102030405");
    expect(b.nonce).toBe(1n);
  });

  test("refuses messages over 65535 bytes and wrong key lengths; destroy() wipes", () => {
    const cs = new CipherState(key);
    expect(cs.encryptWithAd(empty, new Uint8Array(65535 - 16)).length).toBe(65535);
    expect(() => cs.encryptWithAd(empty, new Uint8Array(65535 - 15))).toThrow(UsageError);
    expect(() => new CipherState(new Uint8Array(31))).toThrow(UsageError);
    cs.destroy();
    expect(cs.hasKey()).toBe(false);
    expect(() => cs.encryptWithAd(empty, empty)).toThrow(UsageError);
  });
});
