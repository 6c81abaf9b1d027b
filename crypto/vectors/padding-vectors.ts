/**
 * test/vectors/padding.json: padding before encryption (SECURITY.md §8).
 *
 * Inputs: `cases[i].plaintext` (hex) or `cases[i].length` (a plaintext length: the padding
 * does not depend on the content). The `unpad[i].input` values are fixed by the suite.
 * Outputs: per pad case `padded_length`, `padding` (hex of the bytes appended after the
 * plaintext) and, for hex cases, `padded` (the whole padded string); per unpad case `result`,
 * the content as hex, or null and the `error` unpad gives where it must reject the input.
 */
import { concat, toHex, utf8 } from "../bytes.js";
import { CodecError } from "../errors.js";
import { MAX_PLAINTEXT_LENGTH, pad, paddedLength, unpad } from "../padding.js";
import { seededRng } from "../rng.js";
import { Inputs } from "./inputs.js";
import type { VectorSuite } from "./suite.js";

const FILE = "padding.json";

const DESCRIPTION =
  "Padding before encryption: plaintext || 0x80 || zero bytes up to max(32, Padme(L + 1)), L the plaintext length. " +
  "cases: plaintexts (hex, or only a length, since the padding does not depend on the content) with the padded length, " +
  "the bytes appended (padding) and, for hex plaintexts, the whole padded string (padded). " +
  "unpad: inputs to unpad with the content recovered (result), " +
  "or null where the input is not a canonical padding and must be rejected (error says why).";

/** Plaintext lengths given as random hex content. */
const HEX_LENGTHS = [0, 1, 30, 31, 32, 33, 100];
/** Plaintext lengths given as a length only: bucket edges up to 64 KiB. */
const LENGTHS = [0, 1, 30, 31, 32, 33, 35, 36, 63, 64, 100, 127, 128, 255, 256, 1000, 1023, 1024, 4096, 65535, 65536];

function padCase(c: Inputs, i: number): Record<string, unknown> {
  if (!c.has("plaintext") && !c.has("length")) throw new CodecError(`${FILE}.cases[${i}]: missing plaintext or length`);
  if (c.has("plaintext")) {
    const plaintext = c.hex("plaintext");
    if (plaintext.length > MAX_PLAINTEXT_LENGTH)
      throw new CodecError(`${FILE}: a plaintext is longer than ${MAX_PLAINTEXT_LENGTH} bytes`);
    const padded = pad(plaintext);
    return {
      plaintext: toHex(plaintext),
      padded_length: padded.length,
      padding: toHex(padded.subarray(plaintext.length)),
      padded: toHex(padded),
    };
  }
  const length = c.u32("length");
  if (length > MAX_PLAINTEXT_LENGTH) throw new CodecError(`${FILE}: a length is over ${MAX_PLAINTEXT_LENGTH}`);
  const total = paddedLength(length);
  const padding = new Uint8Array(total - length);
  padding[0] = 0x80;
  return { length, padded_length: total, padding: toHex(padding) };
}

/**
 * The unpad inputs are fixed by the suite, not read from the file: a byte changed in an input
 * that must be rejected would usually still be rejected, so only regenerating the inputs
 * themselves catches every change.
 */
function unpadInputs(): [string, Uint8Array][] {
  const rng = seededRng(utf8("SMSG-v1 vectors padding unpad"));
  const content = (n: number) => rng(n).map((b) => (b === 0 ? 1 : b));
  const padTo = (c: Uint8Array, total: number) => {
    const out = new Uint8Array(total);
    out.set(c);
    out[c.length] = 0x80;
    return out;
  };
  const c5 = content(5);
  const c31 = content(31);
  const c32 = content(32);
  const c100 = content(100);
  return [
    ["valid: 5-byte content padded to 32", pad(c5)],
    ["valid: 32-byte content padded to 36", pad(c32)],
    ["empty input", new Uint8Array(0)],
    ["shorter than 32 bytes", padTo(c5, 31)],
    ["all zeros: no marker", new Uint8Array(32)],
    ["last non-zero byte is 0x01, not the marker", concat(c5, new Uint8Array([0x01]), new Uint8Array(26))],
    ["marker followed by a non-zero byte", concat(c5, new Uint8Array([0x80, 0x07]), new Uint8Array(25))],
    ["canonical padding plus four zero bytes", concat(pad(c5), new Uint8Array(4))],
    ["32-byte content padded to 40 (canonical: 36)", padTo(c32, 40)],
    ["100-byte content padded to the next bucket, 112 (canonical: 104)", padTo(c100, 112)],
    ["31-byte content padded to 64 (canonical: 32)", padTo(c31, 64)],
  ];
}

function unpadCase([comment, input]: [string, Uint8Array]): Record<string, unknown> {
  try {
    return { comment, input: toHex(input), result: toHex(unpad(input)) };
  } catch (e) {
    if (!(e instanceof CodecError)) throw e;
    return { comment, input: toHex(input), result: null, error: e.message };
  }
}

/** The padding vector suite (SECURITY.md §8). */
export const paddingVectors: VectorSuite = {
  file: FILE,

  /** Recomputes padding.json from its inputs. Throws CodecError naming a missing or malformed input. */
  recompute(file: unknown) {
    const f = new Inputs(file, FILE);
    return {
      suite: "padding",
      description: DESCRIPTION,
      spec: "SECURITY.md §8 (padding)",
      cases: f.list("cases").map((c, i) => padCase(c, i)),
      unpad: unpadInputs().map(unpadCase),
    };
  },

  /** The fixed inputs, drawn from seededRng("SMSG-v1 vectors padding"). */
  generate() {
    const rng = seededRng(utf8("SMSG-v1 vectors padding"));
    const cases: Record<string, unknown>[] = HEX_LENGTHS.map((n) => ({ plaintext: toHex(rng(n)) }));
    // Content that ends like padding: unpad must keep it.
    const endsInMarker = rng(20);
    endsInMarker[19] = 0x80;
    const endsInMarkerZeros = concat(rng(37), new Uint8Array([0x80, 0, 0]));
    cases.push(
      { plaintext: toHex(endsInMarker) },
      { plaintext: toHex(endsInMarkerZeros) },
      { plaintext: toHex(new Uint8Array(31)) },
    );
    for (const length of LENGTHS) cases.push({ length });

    return this.recompute({ cases });
  },
};
