/**
 * The shape every published vector file has, and what each generator provides.
 * A vector file is JSON: `{ "suite", "description", "spec", ...inputs, ...outputs }`, bytes
 * as lowercase hex. `recompute(file)` reads only the inputs from a file and returns the whole
 * file as this implementation computes it; `smsg vectors verify` compares that, value by
 * value, with what is committed. `generate()` picks the fixed inputs (from a seeded RNG) and
 * calls `recompute`.
 */
export interface VectorSuite {
  /** File name under test/vectors/, e.g. "x3dh.json". */
  readonly file: string;
  /** Deterministic: the same bytes on every run. */
  generate(): unknown;
  /** Recomputes every output from the inputs found in `file`; throws CodecError if an input is missing or malformed. */
  recompute(file: unknown): unknown;
}
