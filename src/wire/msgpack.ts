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

/** An open container during the scan. */
interface Open {
  /** Values still to read: elements of an array, keys plus values of a map. */
  remaining: number;
  readonly map: boolean;
  /** Keys seen so far, for maps. */
  readonly keys: Set<string> | undefined;
}

function bad(reason: string): never {
  throw new ProtocolError("BAD_FRAME", `malformed msgpack: ${reason}`);
}

/**
 * Checks that `bytes` is exactly one msgpack value of the protocol's profile, without building
 * it and without recursion. Throws ProtocolError BAD_FRAME when the input is truncated, has
 * trailing bytes, uses an extension type (0xc7–0xc9, 0xd4–0xd8) or the unused byte 0xc1,
 * holds invalid UTF-8, a map key that is not a string, a duplicate key or the key
 * "__proto__", declares more elements than bytes remain, nests deeper than
 * `limits.maxDepth` or holds more than `limits.maxElements` values.
 */
export function scanMsgpack(bytes: Uint8Array, limits: MsgpackLimits = DEFAULT_MSGPACK_LIMITS): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = bytes.length;
  let pos = 0;
  let elements = 0;
  const stack: Open[] = [];

  const need = (n: number): void => {
    if (n > end - pos) bad("truncated");
  };
  const u8 = (): number => {
    need(1);
    return view.getUint8(pos++);
  };
  const u16 = (): number => {
    need(2);
    const v = view.getUint16(pos, false);
    pos += 2;
    return v;
  };
  const u32 = (): number => {
    need(4);
    const v = view.getUint32(pos, false);
    pos += 4;
    return v;
  };

  do {
    const top = stack[stack.length - 1];
    const expectKey = top !== undefined && top.map && top.remaining % 2 === 0;
    need(1);
    if (++elements > limits.maxElements) bad(`more than ${limits.maxElements} values`);
    const b = view.getUint8(pos++);
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
      switch (b) {
        case 0xc0: // nil
        case 0xc2: // false
        case 0xc3: // true
          break;
        case 0xc4:
          skip = u8();
          break; // bin 8
        case 0xc5:
          skip = u16();
          break; // bin 16
        case 0xc6:
          skip = u32();
          break; // bin 32
        case 0xca:
          skip = 4;
          break; // float 32
        case 0xcb:
          skip = 8;
          break; // float 64
        case 0xcc:
          skip = 1;
          break; // uint 8
        case 0xcd:
          skip = 2;
          break; // uint 16
        case 0xce:
          skip = 4;
          break; // uint 32
        case 0xcf:
          skip = 8;
          break; // uint 64
        case 0xd0:
          skip = 1;
          break; // int 8
        case 0xd1:
          skip = 2;
          break; // int 16
        case 0xd2:
          skip = 4;
          break; // int 32
        case 0xd3:
          skip = 8;
          break; // int 64
        case 0xd9:
          strLength = u8();
          break; // str 8
        case 0xda:
          strLength = u16();
          break; // str 16
        case 0xdb:
          strLength = u32();
          break; // str 32
        case 0xdc:
          count = u16();
          break; // array 16
        case 0xdd:
          count = u32();
          break; // array 32
        case 0xde:
          count = u16();
          map = true;
          break; // map 16
        case 0xdf:
          count = u32();
          map = true;
          break; // map 32
        case 0xc1:
          return bad("the unused type byte 0xc1");
        default: // 0xc7–0xc9 ext 8/16/32, 0xd4–0xd8 fixext
          bad("extension types are not accepted");
      }
    }
    if (expectKey && strLength < 0) bad("a map key that is not a string");
    if (top !== undefined) top.remaining--;

    if (strLength >= 0) {
      need(strLength);
      // ASCII is valid UTF-8 and decodes to the same characters: check it (and build a short
      // key) without a TextDecoder call; anything else goes through the strict decoder.
      const strEnd = pos + strLength;
      let ascii = true;
      for (let i = pos; i < strEnd; i++) {
        if (bytes[i]! > 0x7f) {
          ascii = false;
          break;
        }
      }
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
      if (expectKey) {
        const keys = top?.keys as Set<string>;
        if (text === "__proto__") bad('the map key "__proto__"');
        if (keys.has(text)) bad("a duplicate map key");
        keys.add(text);
      }
      pos += strLength;
    } else if (skip > 0) {
      need(skip);
      pos += skip;
    } else if (count >= 0) {
      if (stack.length + 1 > limits.maxDepth) bad(`nesting deeper than ${limits.maxDepth}`);
      const values = map ? count * 2 : count;
      // Each value takes at least one byte: refuse a declared size the input cannot hold.
      if (values > end - pos) bad("a container longer than the input");
      if (elements + values > limits.maxElements) bad(`more than ${limits.maxElements} values`);
      if (values > 0) stack.push({ remaining: values, map, keys: map ? new Set() : undefined });
    }
    while (stack.length > 0 && (stack[stack.length - 1] as Open).remaining === 0) stack.pop();
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
