/**
 * What every table module of the relay's store shares (docs/ARCHITECTURE.md §4.2): turning
 * driver values into the store's types, the single-row rule, and limit checks. Internal to
 * relay/store/.
 */
import { InternalError, UsageError } from "../../src/errors.js";
import type { Int8 } from "./db.js";

/** An int8 from a row as a number; throws InternalError beyond 2^53 (never reached by bigserial in practice). */
export function num(value: Int8): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new InternalError(`database id ${String(value)} exceeds 2^53`);
  return n;
}

export function numOrNull(value: Int8 | null): number | null {
  return value === null ? null : num(value);
}

/** The single row a statement must return; a missing one is a bug (InternalError). */
export function one<T>(rows: T[]): T {
  const row = rows[0];
  if (row === undefined) throw new InternalError("a statement that always returns a row returned none");
  return row;
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

export function checkLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new UsageError(`limit must be a positive integer, got ${limit}`);
}

/** Thrown inside a transaction to roll it back and turn into a typed result outside. */
export class Refusal<R> {
  constructor(readonly result: R) {}
}
