/**
 * edwards25519 group arithmetic in plain BigInt (RFC 8032 §5.1), for the vector generator
 * only: it crafts signatures that strict verification must refuse (small-order and mixed-order
 * keys, small-order R, non-canonical S) and, in the tests, the deliberately lax verifiers that
 * show the published cases catch each rule of SECURITY.md §2. It is slow and not constant
 * time; nothing that handles real keys uses it (real signing and verification are libsodium's,
 * crypto/primitives.ts).
 */
import { concat } from "../bytes.js";
import { sha512 } from "../primitives.js";

export const P = 2n ** 255n - 19n;
/** The order of the prime-order subgroup. */
export const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const D = mod(-121665n * inverse(121666n));
const SQRT_M1 = pow(2n, (P - 1n) / 4n);

/** A point in extended coordinates (X : Y : Z : T), x = X/Z, y = Y/Z, xy = T/Z. */
export interface Point {
  readonly X: bigint;
  readonly Y: bigint;
  readonly Z: bigint;
  readonly T: bigint;
}

function mod(a: bigint, m = P): bigint {
  const r = a % m;
  return r < 0n ? r + m : r;
}

function pow(b: bigint, e: bigint): bigint {
  let r = 1n;
  let x = mod(b);
  while (e > 0n) {
    if (e & 1n) r = mod(r * x);
    x = mod(x * x);
    e >>= 1n;
  }
  return r;
}

function inverse(a: bigint): bigint {
  return pow(a, P - 2n);
}

export const IDENTITY: Point = { X: 0n, Y: 1n, Z: 1n, T: 0n };

export function add(p: Point, q: Point): Point {
  // RFC 8032 §5.1.4, addition in extended coordinates (a = -1).
  const A = mod((p.Y - p.X) * (q.Y - q.X));
  const B = mod((p.Y + p.X) * (q.Y + q.X));
  const C = mod(2n * p.T * q.T * D);
  const Dd = mod(2n * p.Z * q.Z);
  const E = B - A;
  const F = Dd - C;
  const G = Dd + C;
  const H = B + A;
  return { X: mod(E * F), Y: mod(G * H), Z: mod(F * G), T: mod(E * H) };
}

export function negate(p: Point): Point {
  return { X: mod(-p.X), Y: p.Y, Z: p.Z, T: mod(-p.T) };
}

/** [2]p: RFC 8032 §5.1.4's doubling, fewer multiplications than add(p, p). */
function double(p: Point): Point {
  const A = mod(p.X * p.X);
  const B = mod(p.Y * p.Y);
  const C = mod(2n * p.Z * p.Z);
  const H = A + B;
  const xy = p.X + p.Y;
  const E = H - mod(xy * xy);
  const G = A - B;
  const F = C + G;
  return { X: mod(E * F), Y: mod(G * H), Z: mod(F * G), T: mod(E * H) };
}

/** [2^i]BASE for i = 0..255, computed on first use: [k]BASE then needs no doublings. */
let baseDoublings: Point[] | undefined;

function baseTable(): Point[] {
  if (!baseDoublings) {
    const table = [BASE];
    for (let i = 1; i < 256; i++) table.push(double(table[i - 1]!));
    baseDoublings = table;
  }
  return baseDoublings;
}

/** [k]p for any non-negative k (not reduced: the torsion part matters here). */
export function multiply(p: Point, k: bigint): Point {
  if (p === BASE && k < 1n << 256n) {
    // The vectors multiply the base point most (nonces, keys, S·B): one add per set bit.
    const table = baseTable();
    let r = IDENTITY;
    for (let i = 0; k > 0n; i++, k >>= 1n) if (k & 1n) r = add(r, table[i]!);
    return r;
  }
  let r = IDENTITY;
  let q = p;
  while (k > 0n) {
    if (k & 1n) r = add(r, q);
    q = double(q);
    k >>= 1n;
  }
  return r;
}

export function pointEquals(p: Point, q: Point): boolean {
  return mod(p.X * q.Z - q.X * p.Z) === 0n && mod(p.Y * q.Z - q.Y * p.Z) === 0n;
}

/** Whether [8]p is the identity: p is of order 1, 2, 4 or 8. */
export function isSmallOrder(p: Point): boolean {
  return pointEquals(multiply(p, 8n), IDENTITY);
}

/** Whether p is in the prime-order subgroup ([L]p = identity). */
export function isInPrimeSubgroup(p: Point): boolean {
  return pointEquals(multiply(p, L), IDENTITY);
}

function leToBigint(b: Uint8Array): bigint {
  let n = 0n;
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]!);
  return n;
}

function bigintToLe(n: bigint, length = 32): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return out;
}

/** The canonical 32-byte encoding (RFC 8032 §5.1.2). */
export function encode(p: Point): Uint8Array {
  const zi = inverse(p.Z);
  const x = mod(p.X * zi);
  const y = mod(p.Y * zi);
  const out = bigintToLe(y);
  if (x & 1n) out[31]! |= 0x80;
  return out;
}

/** The encoded y (sign bit cleared), which is at least P for a non-canonical encoding. */
export function encodedY(b: Uint8Array): bigint {
  const c = b.slice();
  c[31]! &= 0x7f;
  return leToBigint(c);
}

/**
 * Decodes a point like ref10 does: y is taken modulo P (so a non-canonical y ≥ P decodes), and
 * a sign bit on x = 0 is ignored. Returns null when no point has that y.
 */
export function decode(b: Uint8Array): Point | null {
  if (b.length !== 32) return null;
  const y = mod(encodedY(b));
  const sign = BigInt(b[31]! >> 7);
  const u = mod(y * y - 1n);
  const v = mod(D * y * y + 1n);
  let x = mod(u * pow(v, 3n) * pow(u * pow(v, 7n), (P - 5n) / 8n));
  const vx2 = mod(v * x * x);
  if (vx2 === mod(-u)) x = mod(x * SQRT_M1);
  else if (vx2 !== u) return null;
  if ((x & 1n) !== sign) x = mod(-x);
  return { X: x, Y: y, Z: 1n, T: mod(x * y) };
}

export const BASE: Point = decode(bigintToLe(mod(4n * inverse(5n))))!;

/** A point of order 8 (the torsion subgroup is generated by it). */
export const TORSION_8: Point = (() => {
  // [L]P for the first point P (y = 2, 3, …) whose [L]P has order 8: the torsion part of P.
  for (let y = 2n; ; y++) {
    const p = decode(bigintToLe(y));
    if (!p) continue;
    const t = multiply(p, L);
    if (!pointEquals(multiply(t, 4n), IDENTITY)) return t;
  }
})();

/** SHA-512(parts) as a little-endian integer reduced mod L (RFC 8032 §5.1.6 step 4 / §5.1.7 step 2). */
export function challenge(r: Uint8Array, a: Uint8Array, message: Uint8Array): bigint {
  return leToBigint(sha512(concat(r, a, message))) % L;
}

/** The secret scalar of an Ed25519 seed (RFC 8032 §5.1.5: the clamped first half of SHA-512(seed)). */
export function secretScalar(seed: Uint8Array): bigint {
  const h = sha512(seed).slice(0, 32);
  h[0]! &= 248;
  h[31]! &= 127;
  h[31]! |= 64;
  return leToBigint(h);
}

/** A nonce scalar from arbitrary bytes (reduced mod L). */
export function scalarFrom(bytes: Uint8Array): bigint {
  return leToBigint(bytes) % L;
}

/** R || S as the 64-byte signature, S given as an integer that may be ≥ L (non-canonical). */
export function signatureBytes(r: Uint8Array, s: bigint): Uint8Array {
  return concat(r, bigintToLe(s));
}

/** The S half of a signature as an integer. */
export function signatureS(sig: Uint8Array): bigint {
  return leToBigint(sig.subarray(32, 64));
}

/** The 32-byte little-endian encoding of y as given, with a sign bit: for non-canonical encodings. */
export function rawEncoding(y: bigint, signBit: 0 | 1): Uint8Array {
  const out = bigintToLe(y);
  if (signBit) out[31]! |= 0x80;
  return out;
}

/**
 * The checks of SECURITY.md §2's strict verification, each of which can be switched off (or
 * the equation changed) to build the lax verifiers of the mutation tests. STRICT_RULES is
 * libsodium's crypto_sign_verify_detached as the project bundles it; the tests check that the
 * two agree on every Wycheproof and every published case.
 */
export interface Ed25519Rules {
  /** Refuse S ≥ L. */
  readonly canonicalS: boolean;
  /** Refuse an A whose y (top bit ignored) is ≥ p. */
  readonly canonicalA: boolean;
  /** Refuse an A that encodes a point of small order (any encoding of one). */
  readonly smallOrderA: boolean;
  /** Refuse an R that encodes a point of small order (any encoding of one). */
  readonly smallOrderR: boolean;
  /** cofactorless: encode([S]B − [k]A) = R byte for byte; cofactored: [8]([S]B − [k]A − R) = 0. */
  readonly equation: "cofactorless" | "cofactored";
  /** Also refuse an A outside the prime-order subgroup (libsodium does not). */
  readonly primeOrderA: boolean;
}

export const STRICT_RULES: Ed25519Rules = Object.freeze({
  canonicalS: true,
  canonicalA: true,
  smallOrderA: true,
  smallOrderR: true,
  equation: "cofactorless",
  primeOrderA: false,
});

/** Whether an encoding, read as y mod p with the top bit ignored, is the y of a point of small order. */
export function encodesSmallOrder(b: Uint8Array): boolean {
  const p = decode(b);
  return p !== null && isSmallOrder(p);
}

/** Ed25519 verification (RFC 8032 §5.1.7) under `rules`. */
export function verifyUnderRules(rules: Ed25519Rules, pk: Uint8Array, message: Uint8Array, sig: Uint8Array): boolean {
  if (pk.length !== 32 || sig.length !== 64) return false;
  const rBytes = sig.subarray(0, 32);
  const s = signatureS(sig);
  if (rules.canonicalS && s >= L) return false;
  if (rules.smallOrderR && encodesSmallOrder(rBytes)) return false;
  if (rules.canonicalA && encodedY(pk) >= P) return false;
  if (rules.smallOrderA && encodesSmallOrder(pk)) return false;
  const a = decode(pk);
  if (!a) return false;
  if (rules.primeOrderA && !isInPrimeSubgroup(a)) return false;
  const k = challenge(rBytes, pk, message);
  const check = add(multiply(BASE, s), negate(multiply(a, k)));
  if (rules.equation === "cofactorless") return encode(check).every((x, i) => x === rBytes[i]);
  const r = decode(rBytes);
  return r !== null && pointEquals(multiply(add(check, negate(r)), 8n), IDENTITY);
}
