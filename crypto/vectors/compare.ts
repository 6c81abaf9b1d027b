/**
 * Compares a committed vector file with what this implementation recomputes from its inputs,
 * and names the first difference by its JSON path.
 */
import { SmsgError } from "../errors.js";
import type { VectorImplementation, VectorSuite } from "./suite.js";

/** The canonical text of a vector file: 2-space JSON and a final newline. */
export function canonicalVectorText(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** The first path at which `actual` (the file) and `expected` (recomputed) differ, or null. */
export function firstDifference(actual: unknown, expected: unknown, path = "$"): string | null {
  if (
    typeof actual !== typeof expected ||
    Array.isArray(actual) !== Array.isArray(expected) ||
    (actual === null) !== (expected === null)
  ) {
    return `${path}: file has ${describe(actual)}, recomputed ${describe(expected)}`;
  }
  if (Array.isArray(actual) && Array.isArray(expected)) {
    for (let i = 0; i < Math.max(actual.length, expected.length); i++) {
      if (i >= actual.length) return `${path}[${i}]: missing in the file`;
      if (i >= expected.length) return `${path}[${i}]: not expected`;
      const d = firstDifference(actual[i], expected[i], `${path}[${i}]`);
      if (d) return d;
    }
    return null;
  }
  if (typeof actual === "object" && actual !== null && expected !== null) {
    const a = actual as Record<string, unknown>;
    const e = expected as Record<string, unknown>;
    for (const k of Object.keys(e)) {
      if (!(k in a)) return `${path}.${k}: missing in the file`;
      const d = firstDifference(a[k], e[k], `${path}.${k}`);
      if (d) return d;
    }
    for (const k of Object.keys(a)) if (!(k in e)) return `${path}.${k}: not expected`;
    return null;
  }
  return actual === expected ? null : `${path}: file has ${describe(actual)}, recomputed ${describe(expected)}`;
}

function describe(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/**
 * Verifies the text of one vector file against its suite (under `impl`, by default this
 * implementation: the mutation tests pass a wrong one). Returns null when every value
 * matches and the text is in canonical form, else a one-line description of the first problem.
 */
export function verifyVectorText(suite: VectorSuite, text: string, impl?: VectorImplementation): string | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    return `not valid JSON (${(e as Error).message})`;
  }
  let recomputed: unknown;
  try {
    recomputed = suite.recompute(parsed, impl);
  } catch (e) {
    if (e instanceof SmsgError) return `cannot recompute: ${e.message}`;
    throw e;
  }
  const diff = firstDifference(parsed, recomputed);
  if (diff) return diff;
  const canonical = canonicalVectorText(recomputed);
  if (text !== canonical) {
    let i = 0;
    while (i < text.length && text[i] === canonical[i]) i++;
    return `values match but the text differs from the canonical form at byte ${i}`;
  }
  return null;
}
