/**
 * Sealed columns: how the local store encrypts secrets at rest (docs/ARCHITECTURE.md §4.1;
 * SECURITY.md §1, "A stolen or seized device", and §16.2).
 *
 * Two subkeys come from the profile's data key (client/profile/keystore.ts), so no key is used
 * by two algorithms:
 *
 * ```
 * column_key = HKDF(ikm = data_key, salt = empty, info = L("SMSG-v1 store column key"), 32)
 * index_key  = HKDF(ikm = data_key, salt = empty, info = L("SMSG-v1 store name index"), 32)
 * ```
 *
 * A sealed value is `u8(1) || nonce (24) || XChaCha20-Poly1305(column_key, nonce, plaintext, AD)`
 * with a fresh random nonce per write (192-bit nonces: random is safe) and
 *
 * ```
 * AD = u8(1) || lp(table) || lp(column) || u8(n) || part_1 || … || part_n
 * part = u8(1) || lp(utf8(string))  |  u8(2) || lp(ascii decimal of an integer)  |  u8(3) || lp(bytes)
 * lp(x) = u32be(len(x)) || x
 * ```
 *
 * where the parts are the row's key. So a ciphertext moved to another row, another column or
 * another table does not open: it fails like a tampered one, with CryptoVerificationError.
 *
 * A name tag (`nameTag`) is a keyed BLAKE2b-256 of a chat name, so the store can look a chat up
 * by name and keep names unique without storing them in clear. It reveals only which rows
 * have equal names to someone without the data key.
 */
import { LABELS } from "../../crypto/labels.js";
import { concat, u32be, utf8 } from "../../crypto/bytes.js";
import { CodecError, UsageError } from "../../src/errors.js";
import {
  XCHACHA_KEY_BYTES,
  XCHACHA_NONCE_BYTES,
  AEAD_TAG_BYTES,
  blake2b,
  hkdfSha256,
  wipe,
  xchachaDecrypt,
  xchachaEncrypt,
} from "../../crypto/primitives.js";
import type { Rng } from "../../crypto/rng.js";

/** HKDF info of the column key (crypto/labels.ts, SECURITY.md §16.2). */
export const STORE_COLUMN_KEY_LABEL = LABELS.storeColumnKey;

/** HKDF info of the name-index key (crypto/labels.ts, SECURITY.md §16.2). */
export const STORE_NAME_INDEX_LABEL = LABELS.storeNameIndex;

/** Format version of a sealed value (its first byte, and the first byte of its AD). */
export const SEALED_VERSION = 1;

/** Bytes a sealed value adds to its plaintext: version, nonce, tag. */
export const SEALED_OVERHEAD = 1 + XCHACHA_NONCE_BYTES + AEAD_TAG_BYTES;

/** One part of a row key: a text or integer column value, or a blob. */
export type RowKeyPart = string | number | Uint8Array;

/** The primary key of the row a sealed value belongs to, in column order. */
export type RowKey = readonly RowKeyPart[];

function lp(b: Uint8Array): Uint8Array {
  return concat(u32be(b.length), b);
}

/**
 * `u8(1) || lp(table) || lp(column)`, the start of every AD of one column, made once per
 * column (a sync page seals three values per message, docs/ARCHITECTURE.md §4.1). Never handed
 * out: sealedAd copies it.
 */
const adPrefixes = new Map<string, Uint8Array>();

function adPrefix(table: string, column: string): Uint8Array {
  const key = `${table}\u0000${column}`;
  let prefix = adPrefixes.get(key);
  if (prefix === undefined) {
    prefix = concat(new Uint8Array([SEALED_VERSION]), lp(utf8(table)), lp(utf8(column)));
    adPrefixes.set(key, prefix);
  }
  return prefix;
}

/** The associated data binding a sealed value to its table, column and row (file comment). */
export function sealedAd(table: string, column: string, rowKey: RowKey): Uint8Array {
  if (rowKey.length > 255) throw new UsageError("a row key has at most 255 parts");
  const prefix = adPrefix(table, column);
  // Each part's value bytes first, then one array for the whole AD (parts are small and many).
  const values: Uint8Array[] = [];
  let total = prefix.length + 1;
  for (const p of rowKey) {
    let v: Uint8Array;
    if (typeof p === "string") v = utf8(p);
    else if (typeof p === "number") {
      if (!Number.isSafeInteger(p)) throw new UsageError("an integer row key part must be a safe integer");
      v = utf8(String(p));
    } else v = p;
    values.push(v);
    total += 1 + 4 + v.length;
  }
  const ad = new Uint8Array(total);
  const view = new DataView(ad.buffer);
  ad.set(prefix, 0);
  let at = prefix.length;
  ad[at++] = rowKey.length;
  rowKey.forEach((p, i) => {
    const v = values[i]!;
    ad[at] = typeof p === "string" ? 1 : typeof p === "number" ? 2 : 3;
    view.setUint32(at + 1, v.length, false);
    ad.set(v, at + 5);
    at += 5 + v.length;
  });
  return ad;
}

/**
 * Seals and opens the secret columns of one store with the subkeys of its data key. Holds
 * copies of the subkeys until `destroy()`; never keeps the data key itself.
 */
export class Sealer {
  private readonly columnKey: Uint8Array;
  private readonly indexKey: Uint8Array;
  private destroyed = false;

  /** `dataKey`: the profile's 32-byte key (not kept). `rng`: where nonces come from. */
  constructor(
    dataKey: Uint8Array,
    private readonly rng: Rng,
  ) {
    if (dataKey.length !== XCHACHA_KEY_BYTES) throw new UsageError(`the data key must be ${XCHACHA_KEY_BYTES} bytes`);
    const empty = new Uint8Array(0);
    this.columnKey = hkdfSha256(dataKey, empty, utf8(STORE_COLUMN_KEY_LABEL), XCHACHA_KEY_BYTES);
    this.indexKey = hkdfSha256(dataKey, empty, utf8(STORE_NAME_INDEX_LABEL), 32);
  }

  private check(): void {
    if (this.destroyed) throw new UsageError("the store is closed");
  }

  /** Encrypts `plaintext` for column `column` of the row `rowKey` of `table`, with a fresh nonce. */
  seal(table: string, column: string, rowKey: RowKey, plaintext: Uint8Array): Uint8Array {
    this.check();
    const nonce = this.rng(XCHACHA_NONCE_BYTES);
    const ct = xchachaEncrypt(this.columnKey, nonce, plaintext, sealedAd(table, column, rowKey));
    return concat(new Uint8Array([SEALED_VERSION]), nonce, ct);
  }

  /**
   * Decrypts a value sealed for exactly this table, column and row. Throws CodecError for an
   * unknown format version or a value too short to be sealed, and CryptoVerificationError
   * ("could not decrypt") when it does not authenticate: tampered, moved, or another key.
   */
  open(table: string, column: string, rowKey: RowKey, sealed: Uint8Array): Uint8Array {
    this.check();
    if (sealed.length < SEALED_OVERHEAD) throw new CodecError(`${table}.${column}: sealed value truncated`);
    if (sealed[0] !== SEALED_VERSION) throw new CodecError(`${table}.${column}: unknown sealed format ${sealed[0]}`);
    const nonce = sealed.subarray(1, 1 + XCHACHA_NONCE_BYTES);
    const ct = sealed.subarray(1 + XCHACHA_NONCE_BYTES);
    return xchachaDecrypt(this.columnKey, nonce, ct, sealedAd(table, column, rowKey));
  }

  /** `seal` of a string's UTF-8. */
  sealText(table: string, column: string, rowKey: RowKey, text: string): Uint8Array {
    return this.seal(table, column, rowKey, utf8(text));
  }

  /** `open` of a string sealed with sealText. Throws like `open`, or CodecError for invalid UTF-8. */
  openText(table: string, column: string, rowKey: RowKey, sealed: Uint8Array): string {
    const bytes = this.open(table, column, rowKey, sealed);
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      throw new CodecError(`${table}.${column}: not UTF-8`);
    }
  }

  /** The keyed BLAKE2b-256 tag of a lookup key (a chat name, already normalized by the caller). */
  nameTag(text: string): Uint8Array {
    this.check();
    return blake2b(utf8(text), 32, this.indexKey);
  }

  /** Wipes the subkeys; every later call throws UsageError. */
  destroy(): void {
    wipe(this.columnKey, this.indexKey);
    this.destroyed = true;
  }
}
