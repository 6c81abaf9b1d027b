/**
 * Reads the input fields of a vector file, strictly: a missing or malformed input is a
 * CodecError naming its path, so `smsg vectors verify` says exactly what is wrong.
 */
import { fromHex } from "../bytes.js";
import { CodecError } from "../errors.js";

/** A typed view of one JSON object of a vector file. */
export class Inputs {
  constructor(
    private readonly obj: unknown,
    private readonly path: string,
  ) {
    if (typeof obj !== "object" || obj === null || Array.isArray(obj)) throw new CodecError(`${path}: not an object`);
  }

  private raw(name: string): unknown {
    return (this.obj as Record<string, unknown>)[name];
  }

  has(name: string): boolean {
    return this.raw(name) !== undefined;
  }

  /** A lowercase hex string, optionally of an exact byte length. */
  hex(name: string, length?: number): Uint8Array {
    const v = this.raw(name);
    if (typeof v !== "string" || !/^([0-9a-f]{2})*$/.test(v))
      throw new CodecError(`${this.path}.${name}: missing or not lowercase hex`);
    const b = fromHex(v);
    if (length !== undefined && b.length !== length)
      throw new CodecError(`${this.path}.${name}: must be ${length} bytes`);
    return b;
  }

  /**
   * An X25519 private key, which vector files hold already clamped (RFC 7748 §5): otherwise
   * the bits clamping ignores could change without changing any output, and a changed byte
   * would go unnoticed.
   */
  x25519Private(name: string): Uint8Array {
    const k = this.hex(name, 32);
    if (!isClamped(k)) throw new CodecError(`${this.path}.${name}: not a clamped X25519 private key`);
    return k;
  }

  optionalX25519Private(name: string): Uint8Array | undefined {
    return this.has(name) ? this.x25519Private(name) : undefined;
  }

  optionalHex(name: string, length?: number): Uint8Array | undefined {
    return this.has(name) ? this.hex(name, length) : undefined;
  }

  string(name: string): string {
    const v = this.raw(name);
    if (typeof v !== "string") throw new CodecError(`${this.path}.${name}: missing or not a string`);
    return v;
  }

  /** A non-negative integer up to 2^32-1. */
  u32(name: string): number {
    const v = this.raw(name);
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 0xffffffff)
      throw new CodecError(`${this.path}.${name}: missing or not a u32`);
    return v;
  }

  /** A non-negative integer up to 2^53-1 (times in ms). */
  uint53(name: string): number {
    const v = this.raw(name);
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0)
      throw new CodecError(`${this.path}.${name}: missing or not a uint53`);
    return v;
  }

  /** An array of u32s. */
  u32List(name: string): number[] {
    const v = this.raw(name);
    if (!Array.isArray(v) || !v.every((x) => typeof x === "number" && Number.isInteger(x) && x >= 0 && x <= 0xffffffff))
      throw new CodecError(`${this.path}.${name}: missing or not a list of u32`);
    return v as number[];
  }

  optionalU32(name: string): number | undefined {
    return this.has(name) ? this.u32(name) : undefined;
  }

  /** An array of objects, each wrapped as Inputs. */
  list(name: string): Inputs[] {
    const v = this.raw(name);
    if (!Array.isArray(v)) throw new CodecError(`${this.path}.${name}: missing or not an array`);
    return v.map((item, i) => new Inputs(item, `${this.path}.${name}[${i}]`));
  }
}

/** Whether a 32-byte X25519 scalar is in clamped form: low 3 bits clear, top bit clear, bit 254 set. */
export function isClamped(k: Uint8Array): boolean {
  return k.length === 32 && (k[0]! & 7) === 0 && (k[31]! & 0xc0) === 0x40;
}

/** The clamped form of a 32-byte X25519 scalar (the same key: X25519 clamps anyway). */
export function clamp(k: Uint8Array): Uint8Array {
  const out = k.slice();
  out[0]! &= 248;
  out[31]! &= 127;
  out[31]! |= 64;
  return out;
}
