/**
 * The sequence tracker (SECURITY.md §15.3): hand-picked cases, then random
 * delivery orders with loss and duplication checked verdict by verdict against a reference
 * model that keeps plain sets of every number, and the storage format.
 */
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { CodecError, LimitError, UsageError } from "../../../src/errors.js";
import {
  MAX_MISSING,
  MAX_SEQ,
  type SequenceState,
  type SequenceVerdict,
  deserializeSequence,
  missingCount,
  newSequence,
  nextSeq,
  observe,
  serializeSequence,
  unanchoredSequence,
} from "../../../client/protocol/sequence.js";

/** Observes each number in turn; returns the verdicts and the final state. */
function run(seqs: number[], start: SequenceState = newSequence(), maxMissing?: number) {
  let state = start;
  const verdicts: SequenceVerdict[] = [];
  for (const s of seqs) {
    const o = observe(state, s, maxMissing === undefined ? {} : { maxMissing });
    verdicts.push(o.verdict);
    state = o.state;
  }
  return { state, verdicts };
}
const kinds = (v: SequenceVerdict[]) => v.map((x) => x.kind);

describe("verdicts", () => {
  test("in order: all ok", () => {
    expect(kinds(run([1, 2, 3, 4]).verdicts)).toEqual(["ok", "ok", "ok", "ok"]);
  });

  test("a gap names the missing range; late messages fill it", () => {
    const { state, verdicts } = run([1, 2, 5, 3, 6, 4]);
    expect(verdicts).toEqual([
      { kind: "ok" },
      { kind: "ok" },
      { kind: "gap", from: 3, to: 4 },
      { kind: "late" },
      { kind: "ok" },
      { kind: "late" },
    ]);
    expect(state.missing).toEqual([]);
    expect(missingCount(state)).toBe(0);
  });

  test("a first message numbered 3 reports 1..2 missing", () => {
    expect(run([3]).verdicts).toEqual([{ kind: "gap", from: 1, to: 2 }]);
  });

  test("duplicates: of the newest, of an old one, of a late one", () => {
    expect(kinds(run([1, 1, 2, 1, 4, 3, 3]).verdicts)).toEqual([
      "ok",
      "duplicate",
      "ok",
      "duplicate",
      "gap",
      "late",
      "duplicate",
    ]);
  });

  test("filling the middle of a gap splits it", () => {
    const { state } = run([1, 10, 5]);
    expect(state.missing).toEqual([
      { from: 2, to: 4 },
      { from: 6, to: 9 },
    ]);
  });

  test("observe does not change the state it is given", () => {
    const s = run([1, 5]).state;
    const copy = JSON.stringify(s);
    observe(s, 3);
    observe(s, 9);
    expect(JSON.stringify(s)).toBe(copy);
  });

  test("an unanchored tracker starts at its first message; anything older is stale", () => {
    const { verdicts, state } = run([500, 502, 499, 501, 500], unanchoredSequence());
    expect(verdicts).toEqual([
      { kind: "ok" },
      { kind: "gap", from: 501, to: 501 },
      { kind: "stale" },
      { kind: "late" },
      { kind: "duplicate" },
    ]);
    expect(state.forgotten).toBe(499);
  });

  test("numbers outside 1..2^32 − 1 are a usage error", () => {
    for (const bad of [0, -1, 1.5, MAX_SEQ + 1, Number.NaN])
      expect(() => observe(newSequence(), bad)).toThrow(UsageError);
    expect(() => observe(newSequence(), 1, { maxMissing: -1 })).toThrow(UsageError);
  });
});

describe("bounded memory", () => {
  test("a jump to 2^32 − 1 remembers only the newest MAX_MISSING numbers", () => {
    const { state, verdicts } = run([1, MAX_SEQ]);
    expect(verdicts[1]).toEqual({ kind: "gap", from: 2, to: MAX_SEQ - 1 });
    expect(missingCount(state)).toBe(MAX_MISSING);
    expect(state.missing).toEqual([{ from: MAX_SEQ - MAX_MISSING, to: MAX_SEQ - 1 }]);
    expect(state.forgotten).toBe(MAX_SEQ - MAX_MISSING - 1);
    expect(observe(state, 2).verdict).toEqual({ kind: "stale" });
    expect(observe(state, MAX_SEQ - MAX_MISSING).verdict).toEqual({ kind: "late" });
    expect(serializeSequence(state).length).toBeLessThan(200);
  });

  test("the oldest gaps are forgotten first, whole ranges then part of one", () => {
    const { state } = run([1, 4, 7, 10], newSequence(), 3); // gaps 2-3, 5-6, 8-9: 6 numbers, keep 3
    expect(state.missing).toEqual([
      { from: 6, to: 6 },
      { from: 8, to: 9 },
    ]);
    expect(state.forgotten).toBe(5);
    expect(kinds([observe(state, 4).verdict, observe(state, 6).verdict, observe(state, 7).verdict])).toEqual([
      "stale",
      "late",
      "duplicate",
    ]);
  });

  test("maxMissing 0 forgets every gap at once", () => {
    const { state, verdicts } = run([1, 5, 3], newSequence(), 0);
    expect(kinds(verdicts)).toEqual(["ok", "gap", "stale"]);
    expect(state.missing).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// Reference model: every number in plain sets, nothing clever.

class Model {
  seen = new Set<number>();
  missing = new Set<number>();
  highest = 0;
  forgotten = 0;
  constructor(
    private anchored: boolean,
    private readonly maxMissing: number,
  ) {}

  observe(seq: number): SequenceVerdict {
    if (!this.anchored) {
      this.anchored = true;
      this.highest = seq;
      this.forgotten = seq - 1;
      this.seen.add(seq);
      return { kind: "ok" };
    }
    const wasSeen = this.seen.has(seq);
    this.seen.add(seq);
    if (seq === this.highest + 1) {
      this.highest = seq;
      return { kind: "ok" };
    }
    if (seq > this.highest) {
      const from = this.highest + 1;
      for (let n = from; n < seq; n++) this.missing.add(n);
      this.highest = seq;
      while (this.missing.size > this.maxMissing) {
        const lowest = Math.min(...this.missing);
        this.missing.delete(lowest);
        this.forgotten = lowest;
      }
      return { kind: "gap", from, to: seq - 1 };
    }
    if (this.missing.has(seq)) {
      expect(wasSeen).toBe(false); // the tracker never calls a seen number late
      this.missing.delete(seq);
      return { kind: "late" };
    }
    if (seq <= this.forgotten) return { kind: "stale" };
    expect(wasSeen).toBe(true); // the tracker never calls an unseen number a duplicate
    return { kind: "duplicate" };
  }
}

/** What a relay might deliver: numbers 1..n, some lost, some twice, in a shuffled order. */
const delivery = fc
  .record({
    n: fc.integer({ min: 1, max: 60 }),
    lossPercent: fc.integer({ min: 0, max: 60 }),
    dupPercent: fc.integer({ min: 0, max: 40 }),
    coins: fc.array(fc.integer({ min: 0, max: 99 }), { minLength: 120, maxLength: 120 }),
    order: fc.array(fc.nat(), { minLength: 200, maxLength: 200 }),
    reorder: fc.integer({ min: 0, max: 60 }),
  })
  .map(({ n, lossPercent, dupPercent, coins, order, reorder }) => {
    const out: number[] = [];
    for (let s = 1; s <= n; s++) {
      const c = coins[s] as number;
      if (c < lossPercent) continue;
      out.push(s);
      if (coins[s + 60]! < dupPercent) out.push(s);
    }
    // Move up to `reorder` items to random places.
    for (let i = 0; i < Math.min(reorder, out.length); i++) {
      const from = (order[2 * i] as number) % out.length;
      const to = (order[2 * i + 1] as number) % out.length;
      const [x] = out.splice(from, 1);
      out.splice(to, 0, x as number);
    }
    return out;
  });

describe("properties", () => {
  test("verdicts match the reference model exactly (random loss, duplication, reordering, bounds)", () => {
    fc.assert(
      fc.property(delivery, fc.integer({ min: 0, max: 12 }), fc.boolean(), (seqs, maxMissing, anchored) => {
        const model = new Model(anchored, maxMissing);
        let state = anchored ? newSequence() : unanchoredSequence();
        for (const s of seqs) {
          const o = observe(state, s, { maxMissing });
          expect(o.verdict).toEqual(model.observe(s));
          state = o.state;
          // The state says the same as the model, and survives storage.
          const missing = state.missing.flatMap((r) => Array.from({ length: r.to - r.from + 1 }, (_, i) => r.from + i));
          expect(missing).toEqual([...model.missing].sort((a, b) => a - b));
          expect(state.highest).toBe(model.highest);
          expect(deserializeSequence(serializeSequence(state), { maxMissing })).toEqual(state);
        }
      }),
      { numRuns: 1500 },
    );
  });

  test("with enough memory, everything lost is reported exactly once and every late arrival fills it", () => {
    fc.assert(
      fc.property(delivery, (seqs) => {
        if (seqs.length === 0) return;
        const { verdicts, state } = run(seqs);
        const reported = verdicts.flatMap((v) =>
          v.kind === "gap" ? Array.from({ length: v.to - v.from + 1 }, (_, i) => v.from + i) : [],
        );
        const highest = Math.max(...seqs);
        const neverArrived = Array.from({ length: highest }, (_, i) => i + 1).filter((s) => !seqs.includes(s));
        expect(missingCount(state)).toBe(neverArrived.length);
        // Each number below the highest is reported missing at most once, and those still missing were reported.
        expect(new Set(reported).size).toBe(reported.length);
        for (const s of neverArrived) expect(reported).toContain(s);
        expect(verdicts.filter((v) => v.kind === "late").length).toBe(reported.length - neverArrived.length);
        expect(verdicts.filter((v) => v.kind === "duplicate").length).toBe(seqs.length - new Set(seqs).size);
      }),
      { numRuns: 1000 },
    );
  });
});

describe("storage", () => {
  test("the documented format", () => {
    const { state } = run([1, 4, 6]);
    expect(serializeSequence(state)).toBe('{"v":1,"anchored":true,"highest":6,"forgotten":0,"missing":[[2,3],[5,5]]}');
    expect(deserializeSequence(serializeSequence(state))).toEqual(state);
    expect(deserializeSequence(serializeSequence(unanchoredSequence()))).toEqual(unanchoredSequence());
  });

  test.each([
    ["not JSON", "{"],
    ["an array", "[]"],
    ["another version", '{"v":2,"anchored":true,"highest":0,"forgotten":0,"missing":[]}'],
    ["an extra field", '{"v":1,"anchored":true,"highest":0,"forgotten":0,"missing":[],"x":1}'],
    ["a missing field", '{"v":1,"anchored":true,"highest":0,"missing":[]}'],
    ["highest beyond u32", '{"v":1,"anchored":true,"highest":4294967296,"forgotten":0,"missing":[]}'],
    ["highest fractional", '{"v":1,"anchored":true,"highest":1.5,"forgotten":0,"missing":[]}'],
    ["forgotten above highest", '{"v":1,"anchored":true,"highest":3,"forgotten":4,"missing":[]}'],
    ["a range at highest", '{"v":1,"anchored":true,"highest":5,"forgotten":0,"missing":[[4,5]]}'],
    ["a range below forgotten", '{"v":1,"anchored":true,"highest":9,"forgotten":3,"missing":[[3,4]]}'],
    ["ranges out of order", '{"v":1,"anchored":true,"highest":9,"forgotten":0,"missing":[[5,6],[2,3]]}'],
    ["adjacent ranges", '{"v":1,"anchored":true,"highest":9,"forgotten":0,"missing":[[2,3],[4,5]]}'],
    ["a reversed range", '{"v":1,"anchored":true,"highest":9,"forgotten":0,"missing":[[3,2]]}'],
    ["a range of three numbers", '{"v":1,"anchored":true,"highest":9,"forgotten":0,"missing":[[2,3,4]]}'],
    ["an unanchored state holding numbers", '{"v":1,"anchored":false,"highest":3,"forgotten":0,"missing":[]}'],
    ["anchored not a boolean", '{"v":1,"anchored":1,"highest":0,"forgotten":0,"missing":[]}'],
  ])("refuses %s", (_, text) => {
    expect(() => deserializeSequence(text)).toThrow(CodecError);
  });

  test("refuses more missing numbers than the bound", () => {
    const text = serializeSequence(run([1, 20]).state);
    expect(deserializeSequence(text, { maxMissing: 18 }).missing).toHaveLength(1);
    expect(() => deserializeSequence(text, { maxMissing: 17 })).toThrow(CodecError);
  });
});

describe("nextSeq", () => {
  test("counts from 1 and stops at 2^32 − 1", () => {
    expect(nextSeq(0)).toBe(1);
    expect(nextSeq(41)).toBe(42);
    expect(() => nextSeq(MAX_SEQ)).toThrow(LimitError);
    expect(() => nextSeq(-1)).toThrow(UsageError);
  });
});
