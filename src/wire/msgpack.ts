/**
 * The msgpack profile of the wire protocol (SECURITY.md §14.3): the standard msgpack types
 * except extensions (so no timestamps, records or other msgpackr additions), map keys that are
 * unique UTF-8 strings, strict UTF-8 in every string, one value per frame, bounded nesting and
 * size. Decoding runs `scanMsgpack`, an iterative check of exactly that, before msgpackr sees
 * a byte: deep nesting cannot exhaust the stack and no declared length makes it allocate.
 */
import { Packr } from "msgpackr";
import { ProtocolError, UsageError } from "../errors.js";
import { MAX_MSGPACK_DEPTH, MAX_MSGPACK_ELEMENTS } from "./limits.js";

/** Bounds the scan enforces. */
export interface MsgpackLimits {
  /** Deepest container nesting; the top-level container is at depth 1. */
  readonly maxDepth: number;
  /** Most values in the whole input, map keys included. */
  readonly maxElements: number;
}

/** The protocol's bounds: MAX_MSGPACK_DEPTH and MAX_MSGPACK_ELEMENTS. */
export const DEFAULT_MSGPACK_LIMITS: MsgpackLimits = Object.freeze({
  maxDepth: MAX_MSGPACK_DEPTH,
  maxElements: MAX_MSGPACK_ELEMENTS,
});

/**
 * msgpackr set up for plain data: maps become plain objects, bin becomes a copied Uint8Array
 * (never a view that pins the frame), 64-bit integers become bigint, and nothing msgpackr
 * adds to msgpack (records, bundled strings, extensions) is written.
 */
const packr = new Packr({
  useRecords: false,
  mapsAsObjects: true,
  variableMapSize: true,
  copyBuffers: true,
  moreTypes: false,
  bundleStrings: false,
  structuredClone: false,
  encodeUndefinedAsNil: false,
  useBigIntExtension: false,
  largeBigIntToFloat: false,
  int64AsType: "bigint",
});

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** ASCII map keys up to this long are built by scanMsgpack itself rather than by TextDecoder. */
const SHORT_KEY = 32;

/** Maps with at most this many keys check duplicates by a linear search (no Set allocated). */
const SMALL_MAP = 16;

/** An open container during the scan. */
interface Open {
  /** Values still to read: elements of an array, keys plus values of a map. */
  remaining: number;
  readonly map: boolean;
  /** Keys seen so far, for maps: an array for small maps, a Set for larger ones. */
  readonly keys: string[] | Set<string> | undefined;
}

function bad(reason: string): never {
  throw new ProtocolError("BAD_FRAME", `malformed msgpack: ${reason}`);
}

/** Whether bytes[from..to) are all ASCII (valid UTF-8 that decodes to the same characters). */
function isAscii(bytes: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (bytes[i]! > 0x7f) return false;
  return true;
}

/** Records map key `text` in `keys`, refusing "__proto__" and duplicates. */
function addKey(keys: string[] | Set<string>, text: string): void {
  if (text === "__proto__") bad('the map key "__proto__"');
  if (Array.isArray(keys)) {
    for (let i = 0; i < keys.length; i++) if (keys[i] === text) bad("a duplicate map key");
    keys.push(text);
  } else {
    if (keys.has(text)) bad("a duplicate map key");
    keys.add(text);
  }
}

/**
 * Checks that `bytes` is exactly one msgpack value of the protocol's profile, without building
 * it and without recursion. Throws ProtocolError BAD_FRAME when the input is truncated, has
 * trailing bytes, uses an extension type (0xc7–0xc9, 0xd4–0xd8) or the unused byte 0xc1,
 * holds invalid UTF-8, a map key that is not a string, a duplicate key or the key
 * "__proto__", declares more elements than bytes remain, nests deeper than
 * `limits.maxDepth` or holds more than `limits.maxElements` values.
 *
 * Every frame a relay or client receives goes through here (it was the relay's top JS
 * function in profiles, bench/RESULTS.md): lengths are read from the bytes directly and small
 * maps check their keys without a Set, so a frame costs few allocations.
 */
export function scanMsgpack(bytes: Uint8Array, limits: MsgpackLimits = DEFAULT_MSGPACK_LIMITS): void {
  const end = bytes.length;
  const { maxDepth, maxElements } = limits;
  let pos = 0;
  let elements = 0;
  const stack: Open[] = [];

  do {
    const top = stack.length > 0 ? stack[stack.length - 1] : undefined;
    const expectKey = top !== undefined && top.map && top.remaining % 2 === 0;
    if (pos >= end) bad("truncated");
    if (++elements > maxElements) bad(`more than ${maxElements} values`);
    const b = bytes[pos++]!;
    let strLength = -1; // a str of this many bytes follows
    let skip = 0; // a scalar payload of this many bytes follows
    let count = -1; // a container of this many entries (pairs, for maps) starts
    let map = false;
    if (b <= 0x7f || b >= 0xe0) {
      // positive or negative fixint
    } else if (b <= 0x8f) {
      count = b & 0x0f;
      map = true;
    } else if (b <= 0x9f) {
      count = b & 0x0f;
    } else if (b <= 0xbf) {
      strLength = b & 0x1f;
    } else {
      // The length of a bin, str, array or map follows in 1, 2 or 4 bytes (big-endian).
      let lengthBytes = 0;
      switch (b) {
        case 0xc0: // nil
        case 0xc2: // false
        case 0xc3: // true
          break;
        case 0xc4: // bin 8
        case 0xd9: // str 8
          lengthBytes = 1;
          break;
        case 0xc5: // bin 16
        case 0xda: // str 16
        case 0xdc: // array 16
        case 0xde: // map 16
          lengthBytes = 2;
          break;
        case 0xc6: // bin 32
        case 0xdb: // str 32
        case 0xdd: // array 32
        case 0xdf: // map 32
          lengthBytes = 4;
          break;
        case 0xcc: // uint 8
        case 0xd0: // int 8
          skip = 1;
          break;
        case 0xcd: // uint 16
        case 0xd1: // int 16
          skip = 2;
          break;
        case 0xca: // float 32
        case 0xce: // uint 32
        case 0xd2: // int 32
          skip = 4;
          break;
        case 0xcb: // float 64
        case 0xcf: // uint 64
        case 0xd3: // int 64
          skip = 8;
          break;
        case 0xc1:
          return bad("the unused type byte 0xc1");
        default: // 0xc7–0xc9 ext 8/16/32, 0xd4–0xd8 fixext
          bad("extension types are not accepted");
      }
      if (lengthBytes > 0) {
        if (lengthBytes > end - pos) bad("truncated");
        let n = 0;
        for (let i = 0; i < lengthBytes; i++) n = n * 256 + bytes[pos++]!;
        if (b <= 0xc6) skip = n;
        else if (b <= 0xdb) strLength = n;
        else {
          count = n;
          map = b >= 0xde;
        }
      }
    }
    if (expectKey && strLength < 0) bad("a map key that is not a string");
    if (top !== undefined) top.remaining--;

    if (strLength >= 0) {
      if (strLength > end - pos) bad("truncated");
      // ASCII is valid UTF-8 and decodes to the same characters: check it (and build a short
      // key) without a TextDecoder call; anything else goes through the strict decoder.
      const strEnd = pos + strLength;
      const ascii = isAscii(bytes, pos, strEnd);
      let text = "";
      if (!ascii || (expectKey && strLength > SHORT_KEY)) {
        try {
          text = strictUtf8.decode(bytes.subarray(pos, strEnd));
        } catch {
          bad("invalid UTF-8 in a string");
        }
      } else if (expectKey) {
        for (let i = pos; i < strEnd; i++) text += String.fromCharCode(bytes[i]!);
      }
      if (expectKey) addKey(top!.keys!, text);
      pos = strEnd;
    } else if (skip > 0) {
      if (skip > end - pos) bad("truncated");
      pos += skip;
    } else if (count >= 0) {
      if (stack.length + 1 > maxDepth) bad(`nesting deeper than ${maxDepth}`);
      const values = map ? count * 2 : count;
      // Each value takes at least one byte: refuse a declared size the input cannot hold.
      if (values > end - pos) bad("a container longer than the input");
      if (elements + values > maxElements) bad(`more than ${maxElements} values`);
      if (values > 0)
        stack.push({ remaining: values, map, keys: map ? (count <= SMALL_MAP ? [] : new Set()) : undefined });
    }
    while (stack.length > 0 && stack[stack.length - 1]!.remaining === 0) stack.pop();
  } while (stack.length > 0);

  if (pos !== end) bad(`${end - pos} trailing bytes after the value`);
}

/**
 * Decodes one msgpack value of the protocol's profile: `scanMsgpack`, then msgpackr. Maps come
 * back as plain objects, bin as Uint8Array (copies), integers beyond 32 bits as bigint.
 * Throws ProtocolError BAD_FRAME (see scanMsgpack).
 */
export function decodeMsgpack(bytes: Uint8Array, limits: MsgpackLimits = DEFAULT_MSGPACK_LIMITS): unknown {
  scanMsgpack(bytes, limits);
  try {
    // A throwaway view: msgpackr caches a `dataView` property on the array it is given.
    return packr.unpack(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (cause) {
    // The scan accepted it, so this would be a msgpackr quirk; it is still the peer's input.
    throw new ProtocolError("BAD_FRAME", "malformed msgpack", { cause });
  }
}

/**
 * Encodes plain data as msgpack of the protocol's profile, in a new array. Accepts strings,
 * booleans, null, numbers, bigints that fit 64 bits, Uint8Array (as bin), arrays and plain
 * objects; object properties whose value is undefined are left out (an absent optional field).
 * Integers outside the 32-bit range are written as 64-bit integers, not floats.
 * Throws UsageError on anything else, on the key "__proto__", or on nesting deeper than
 * MAX_MSGPACK_DEPTH: the receiver would refuse it.
 */
export function encodeMsgpack(value: unknown): Uint8Array {
  return new Uint8Array(packr.pack(prepare(value, 0)));
}

const INT64_MIN = -(1n << 63n);
const UINT64_MAX = (1n << 64n) - 1n;

/** Checks `value` against the profile and rewrites it into what msgpackr should write. */
function prepare(value: unknown, depth: number): unknown {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      // msgpackr writes integers beyond 32 bits as float 64; as bigint they become int 64.
      return Number.isSafeInteger(value) && (value > 0xffffffff || value < -0x80000000) ? BigInt(value) : value;
    case "bigint":
      if (value < INT64_MIN || value > UINT64_MAX) throw new UsageError("cannot encode an integer beyond 64 bits");
      return value;
    case "object": {
      if (value === null || value instanceof Uint8Array) return value;
      if (depth >= MAX_MSGPACK_DEPTH) throw new UsageError(`cannot encode nesting deeper than ${MAX_MSGPACK_DEPTH}`);
      if (Array.isArray(value)) {
        const out: unknown[] = new Array(value.length);
        for (let i = 0; i < value.length; i++) out[i] = prepare(value[i], depth + 1);
        return out;
      }
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) throw new UsageError("cannot encode a non-plain object");
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(value)) {
        if (key === "__proto__") throw new UsageError('cannot encode the key "__proto__"');
        const v = (value as Record<string, unknown>)[key];
        if (v !== undefined) out[key] = prepare(v, depth + 1);
      }
      return out;
    }
    default:
      throw new UsageError(`cannot encode a value of type ${typeof value}`);
  }
}
