/** Byte helpers shared by every encoder in crypto/. Big-endian everywhere (SECURITY.md §2). */
import { CodecError, UsageError } from "./errors.js";

/** Concatenates byte arrays into a new array. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Encodes an unsigned 32-bit integer, big-endian. Throws UsageError outside 0..2^32-1. */
export function u32be(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new UsageError(`not a u32: ${n}`);
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n, false);
  return out;
}

/** Encodes an unsigned 16-bit integer, big-endian. */
export function u16be(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff) throw new UsageError(`not a u16: ${n}`);
  return new Uint8Array([n >>> 8, n & 0xff]);
}

/** One encoder for every utf8 call: it holds no state between calls, and making one costs more than a short encode. */
const encoder = new TextEncoder();

/** UTF-8 bytes of a string (labels, identifiers). */
export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}

/** Lowercase hex of bytes. */
export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}

/** Bytes of a hex string; throws CodecError on odd length or a non-hex digit. */
export function fromHex(h: string): Uint8Array {
  if (h.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(h)) throw new CodecError("invalid hex string");
  return new Uint8Array(Buffer.from(h, "hex"));
}

/** Non-constant-time equality, for public values only (test code, public keys). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Reads fixed-layout binary structures, refusing to read past the end.
 * Every decoder in crypto/ uses it, so a truncated input is always a CodecError, never a
 * silently short key.
 */
export class Reader {
  private off = 0;
  constructor(
    private readonly buf: Uint8Array,
    private readonly what: string,
  ) {}

  bytes(n: number): Uint8Array {
    if (this.off + n > this.buf.length) throw new CodecError(`${this.what}: truncated`);
    const out = this.buf.slice(this.off, this.off + n);
    this.off += n;
    return out;
  }

  /** The offset of the next `n` bytes, moving past them; throws like `bytes` when they are not there. */
  private take(n: number): number {
    if (this.off + n > this.buf.length) throw new CodecError(`${this.what}: truncated`);
    const at = this.off;
    this.off += n;
    return at;
  }

  // Integers are read in place (no copy, no DataView): decoders call these many times per message.
  u8(): number {
    return this.buf[this.take(1)]!;
  }

  u16(): number {
    const at = this.take(2);
    return (this.buf[at]! << 8) | this.buf[at + 1]!;
  }

  u32(): number {
    const at = this.take(4);
    const b = this.buf;
    return b[at]! * 0x1000000 + ((b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!);
  }

  /** A u32 length followed by that many bytes, bounded by `max`. */
  varBytes(max: number): Uint8Array {
    const n = this.u32();
    if (n > max) throw new CodecError(`${this.what}: field longer than ${max} bytes`);
    return this.bytes(n);
  }

  remaining(): number {
    return this.buf.length - this.off;
  }

  rest(): Uint8Array {
    return this.bytes(this.remaining());
  }

  /** Throws unless every byte was consumed: trailing garbage is a malformed input. */
  end(): void {
    if (this.off !== this.buf.length) throw new CodecError(`${this.what}: trailing bytes`);
  }
}

/** A u32 length prefix then the bytes (the encoding `varBytes` reads). */
export function lengthPrefixed(b: Uint8Array): Uint8Array {
  return concat(u32be(b.length), b);
}
