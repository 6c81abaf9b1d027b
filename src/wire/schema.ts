/**
 * A small validator combinator library for decoded msgpack (SECURITY.md §14.4). Each schema
 * checks an `unknown` value and returns it typed, or throws ProtocolError BAD_MESSAGE naming
 * the field path and what was expected: "send.envelope: expected bytes of at most 65536, got
 * 70000 bytes". Messages describe types and sizes only; they never echo the peer's data.
 * `Infer<typeof schema>` is the TypeScript type a schema returns.
 */
import { ProtocolError, UsageError } from "../errors.js";

/** Checks a value and returns it typed (possibly normalised: bin becomes a plain Uint8Array). */
export interface Schema<T> {
  /** What the schema accepts, in words, for error messages: "a string of at most 64 bytes". */
  readonly expected: string;
  /** Returns `value` as a T or throws ProtocolError BAD_MESSAGE; `path` names it in the error. */
  parse(value: unknown, path: string): T;
}

/** A schema for an object field that may be absent. Only `obj` gives it meaning. */
export interface OptionalSchema<T> extends Schema<T | undefined> {
  readonly optional: true;
}

/** The type a schema returns. */
export type Infer<S> = S extends Schema<infer T> ? T : never;

/** The field schemas of an `obj`. */
export type Shape = { readonly [key: string]: Schema<unknown> };

type OptionalKeys<S extends Shape> = { [K in keyof S]: S[K] extends OptionalSchema<unknown> ? K : never }[keyof S];
type RequiredKeys<S extends Shape> = Exclude<keyof S, OptionalKeys<S>>;
type Flatten<T> = { [K in keyof T]: T[K] } & {};

/** The object type an `obj(shape)` returns: optional fields become `key?:`. */
export type InferShape<S extends Shape> = Flatten<
  { [K in RequiredKeys<S>]: Infer<S[K]> } & { [K in OptionalKeys<S>]?: Exclude<Infer<S[K]>, undefined> }
>;

/** An `obj` schema, which also exposes its field schemas. */
export interface ObjSchema<S extends Shape> extends Schema<InferShape<S>> {
  readonly shape: S;
}

/** Throws ProtocolError BAD_MESSAGE: "<path>: expected <expected>, got <what value is>". */
export function rejectField(path: string, expected: string, ...value: [unknown] | []): never {
  const got = value.length > 0 ? `, got ${describeValue(value[0])}` : "";
  throw new ProtocolError("BAD_MESSAGE", `${path}: expected ${expected}${got}`);
}

/** What a value is, in words, without its content: "a string of 70 bytes", "a map". */
export function describeValue(value: unknown): string {
  if (value === null) return "nil";
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  if (Array.isArray(value)) return `an array of ${value.length}`;
  switch (typeof value) {
    case "string":
      return `a string of ${utf8Length(value)} bytes`;
    case "number":
      return Number.isInteger(value) ? "an integer" : "a non-integer number";
    case "bigint":
      return "an integer";
    case "boolean":
      return "a boolean";
    case "object":
      return "a map";
    default:
      return typeof value;
  }
}

/** The UTF-8 length of a string, without encoding it (a lone surrogate counts 3, like U+FFFD). */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

function checkBounds(min: number, max: number): void {
  if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || min < 0 || min > max) {
    throw new UsageError(`invalid schema bounds ${min}..${max}`);
  }
}

function sizeWords(min: number, max: number, unit: string): string {
  if (min === max) return `${max}${unit}`;
  if (min === 0) return `at most ${max}${unit}`;
  return `${min}..${max}${unit}`;
}

/** Options of `str`. Lengths are in UTF-8 bytes, as on the wire. */
export interface StrOptions {
  /** Shortest accepted, in UTF-8 bytes (default 0). */
  readonly min?: number;
  /** Longest accepted, in UTF-8 bytes: every string is bounded. */
  readonly max: number;
  /** A pattern the whole string must match (no g or y flag). */
  readonly pattern?: RegExp;
  /** How to say what `pattern` accepts in an error message. */
  readonly patternName?: string;
}

/**
 * Characters refused in every string: C0 and C1 controls (terminal escapes) and the Unicode
 * bidirectional overrides and isolates, so a peer's text cannot restyle or reorder the
 * terminal that prints it; also lone surrogates, which have no UTF-8 form.
 */
const UNPRINTABLE = /[\p{Cc}\u202a-\u202e\u2066-\u2069]|\p{Cs}/u;

/**
 * `text` made acceptable to `str({ max: maxBytes })`: every refused character (control, bidi
 * override, lone surrogate) replaced by "?", then cut to at most `maxBytes` UTF-8 bytes.
 * For text a side produces itself, such as an error message, so that it always encodes.
 */
export function sanitizeText(text: string, maxBytes: number): string {
  const unprintable = new RegExp(UNPRINTABLE.source, "gu");
  let out = text.replace(unprintable, "?");
  // Every code unit is at least one byte: the cut never keeps more than maxBytes units.
  if (out.length > maxBytes) out = out.slice(0, maxBytes);
  while (utf8Length(out) > maxBytes)
    out = out.slice(0, Math.max(0, out.length - Math.max(1, (utf8Length(out) - maxBytes) >> 2)));
  // The cut may split a surrogate pair: replace the half left over too.
  return out.replace(unprintable, "?");
}

/**
 * A UTF-8 string of `min..max` bytes, without control or bidi-override characters,
 * optionally matching `pattern`.
 */
export function str(options: StrOptions): Schema<string> {
  const min = options.min ?? 0;
  const { max, pattern } = options;
  checkBounds(min, max);
  if (pattern !== undefined && (pattern.global || pattern.sticky)) {
    throw new UsageError("a str pattern must not have the g or y flag");
  }
  const expected = `a string of ${sizeWords(min, max, " bytes")}`;
  return {
    expected,
    parse(value, path) {
      if (typeof value !== "string") rejectField(path, expected, value);
      // A UTF-16 code unit is at least one UTF-8 byte: a cheap bound before counting.
      if (value.length > max) rejectField(path, expected, value);
      const length = utf8Length(value);
      if (length < min || length > max) rejectField(path, expected, value);
      if (UNPRINTABLE.test(value)) rejectField(path, "a string without control characters");
      if (pattern !== undefined && !pattern.test(value))
        rejectField(path, options.patternName ?? `a string matching ${pattern}`);
      return value;
    },
  };
}

/** Options of `bin`: either an exact `len`, or `min..max`. */
export type BinOptions = { readonly len: number } | { readonly min?: number; readonly max: number };

/** Bytes (msgpack bin) of an exact length or `min..max`; returned as a plain Uint8Array view. */
export function bin(options: BinOptions): Schema<Uint8Array> {
  const min = "len" in options ? options.len : (options.min ?? 0);
  const max = "len" in options ? options.len : options.max;
  checkBounds(min, max);
  const expected = min === max ? `${max} bytes` : `bytes of ${sizeWords(min, max, "")}`;
  return {
    expected,
    parse(value, path) {
      if (!(value instanceof Uint8Array) || value.length < min || value.length > max)
        rejectField(path, expected, value);
      return value.constructor === Uint8Array
        ? value
        : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    },
  };
}

/** An integer value as a number, when `value` is a safe integer number or bigint. */
function integerOf(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isSafeInteger(value) ? value + 0 : undefined; // + 0: no −0
  if (typeof value === "bigint") {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : undefined;
  }
  return undefined;
}

/** Bounds of an integer schema. */
export interface IntOptions {
  readonly min?: number;
  readonly max?: number;
}

function integer(kind: string, lowest: number, highest: number, options: IntOptions): Schema<number> {
  const min = options.min ?? lowest;
  const max = options.max ?? highest;
  if (min < lowest || max > highest) throw new UsageError(`${kind} bounds must lie in ${lowest}..${highest}`);
  checkBounds(min, max);
  const expected = min === lowest && max === highest ? `a ${kind}` : `a ${kind} in ${min}..${max}`;
  return {
    expected,
    parse(value, path) {
      const n = integerOf(value);
      if (n === undefined && !(typeof value === "bigint" || (typeof value === "number" && Number.isInteger(value)))) {
        rejectField(path, expected, value);
      }
      if (n === undefined || n < min || n > max) {
        throw new ProtocolError("BAD_MESSAGE", `${path}: expected ${expected}, got an integer out of range`);
      }
      return n;
    },
  };
}

/**
 * An unsigned 32-bit integer, optionally within `min..max`. Any msgpack integer encoding is
 * accepted, and a float that holds an integer exactly.
 */
export function u32(options: IntOptions = {}): Schema<number> {
  return integer("u32", 0, 0xffffffff, options);
}

/** A non-negative safe integer, 0..2^53−1 (message ids, cursors, times), as a number. */
export function uint53(options: IntOptions = {}): Schema<number> {
  return integer("uint53", 0, Number.MAX_SAFE_INTEGER, options);
}

/** true or false. */
export function bool(): Schema<boolean> {
  return {
    expected: "a boolean",
    parse(value, path) {
      if (typeof value !== "boolean") rejectField(path, "a boolean", value);
      return value;
    },
  };
}

/** Exactly `expected`: a message's type tag, a protocol version. */
export function literal<const T extends string | number | boolean>(expectedValue: T): Schema<T> {
  const expected = JSON.stringify(expectedValue);
  return {
    expected,
    parse(value, path) {
      if (value !== expectedValue) rejectField(path, expected);
      return expectedValue;
    },
  };
}

/** One of a fixed set of strings. */
export function oneOf<const T extends readonly string[]>(values: T): Schema<T[number]> {
  const expected = `one of ${values.map((v) => JSON.stringify(v)).join(", ")}`;
  return {
    expected,
    parse(value, path) {
      if (typeof value !== "string" || !values.includes(value)) rejectField(path, expected);
      return value;
    },
  };
}

/** Makes an `obj` field optional: absent (or undefined) is accepted; nil is not. */
export function optional<T>(schema: Schema<T>): OptionalSchema<T> {
  return {
    optional: true,
    expected: schema.expected,
    parse(value, path) {
      return value === undefined ? undefined : schema.parse(value, path);
    },
  };
}

/** Options of `arrayOf`: every array is bounded. */
export interface ArrayOptions {
  readonly min?: number;
  readonly max: number;
}

/** An array of `min..max` items, each checked by `item` (path "field[3]"). */
export function arrayOf<T>(item: Schema<T>, options: ArrayOptions): Schema<T[]> {
  const min = options.min ?? 0;
  const { max } = options;
  checkBounds(min, max);
  const expected = `an array of ${sizeWords(min, max, "")} items`;
  return {
    expected,
    parse(value, path) {
      if (!Array.isArray(value) || value.length < min || value.length > max) rejectField(path, expected, value);
      const out: T[] = new Array(value.length);
      for (let i = 0; i < value.length; i++) out[i] = item.parse(value[i], `${path}[${i}]`);
      return out;
    },
  };
}

/**
 * A fixed-length array whose items are checked one by one by `items` (path "field[1]"): a pair
 * such as a `sync.have` entry, [chat, msg].
 */
export function tupleOf<const T extends readonly Schema<unknown>[]>(
  ...items: T
): Schema<{ -readonly [K in keyof T]: Infer<T[K]> }> {
  const expected = `an array of ${items.length} items`;
  return {
    expected,
    parse(value, path) {
      if (!Array.isArray(value) || value.length !== items.length) rejectField(path, expected, value);
      return items.map((item, i) => item.parse(value[i], `${path}[${i}]`)) as { -readonly [K in keyof T]: Infer<T[K]> };
    },
  };
}

/** True for a plain object (what msgpack maps decode to), false for arrays, bytes, null. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** A field name safe to repeat in an error message, or undefined. */
function printableKey(key: string): string | undefined {
  return /^[A-Za-z0-9_]{1,32}$/.test(key) ? key : undefined;
}

/**
 * A map with exactly the fields of `shape`: each required field present, each optional one
 * present or absent, no other key. Returns a new object holding only the checked fields.
 */
export function obj<const S extends Shape>(shape: S): ObjSchema<S> {
  const keys = Object.keys(shape);
  return {
    shape,
    expected: "a map",
    parse(value, path) {
      if (!isPlainObject(value)) rejectField(path, "a map", value);
      for (const key of Object.keys(value)) {
        if (!Object.hasOwn(shape, key)) {
          const name = printableKey(key);
          throw new ProtocolError("BAD_MESSAGE", `${path}: unknown field${name === undefined ? "" : ` "${name}"`}`);
        }
      }
      const out: Record<string, unknown> = {};
      for (const key of keys) {
        const schema = shape[key] as Schema<unknown>;
        const field = Object.hasOwn(value, key) ? value[key] : undefined;
        const fieldPath = `${path}.${key}`;
        if (field === undefined && !("optional" in schema)) {
          throw new ProtocolError("BAD_MESSAGE", `${fieldPath}: missing (expected ${schema.expected})`);
        }
        const parsed = schema.parse(field, fieldPath);
        if (parsed !== undefined) out[key] = parsed;
      }
      return out as InferShape<S>;
    },
  };
}
