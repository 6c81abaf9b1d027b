/**
 * Gap, replay and reorder detection for one (chat, sender) pair (SECURITY.md §15.3). Every
 * text message carries the sender's sequence number in that chat (1, 2, 3, …). The relay can
 * drop, delay or reorder messages but cannot forge one, so the numbers that arrive tell the
 * client what the relay did: a jump is a gap (shown to the user, not hidden), a number that
 * fills a gap is late, a number seen before is a duplicate (the sender reused it).
 *
 * The tracker is an immutable value: `observe` returns a new state and a verdict, and the
 * caller stores the state with the message, in one transaction. Memory is bounded: at most
 * `maxMissing` missing numbers are remembered; older ones are forgotten, lowest first, and a
 * message that arrives for a forgotten number is "stale" (too old to tell late from duplicate).
 */
import { CodecError, LimitError, UsageError } from "../../src/errors.js";

/** Most missing sequence numbers remembered per (chat, sender): the ratchet's and sender keys' skipped-key bound. */
export const MAX_MISSING = 2000;

/** The largest sequence number: sequence numbers are u32 and start at 1. */
export const MAX_SEQ = 0xffffffff;

/** A range of missing sequence numbers, `from..to` inclusive. */
export interface MissingRange {
  readonly from: number;
  readonly to: number;
}

/**
 * What the tracker knows about one sender in one chat. Every number `1..highest` is exactly
 * one of: in `missing` (never arrived), `≤ forgotten` and not in `missing` (too old to tell),
 * or otherwise seen.
 */
export interface SequenceState {
  /** False only for a tracker that waits for its first message to start from (unanchoredSequence). */
  readonly anchored: boolean;
  /** The highest number seen, 0 when none. */
  readonly highest: number;
  /** Numbers up to this one are forgotten unless listed in `missing` (0: none forgotten). */
  readonly forgotten: number;
  /** Missing numbers: ascending, disjoint and non-adjacent ranges, all in `forgotten + 1 .. highest − 1`. */
  readonly missing: readonly MissingRange[];
}

/**
 * The verdict on one arriving sequence number:
 * - `ok`: the next one expected;
 * - `gap`: newer than expected; `from..to` never arrived (yet);
 * - `late`: fills a gap reported earlier;
 * - `duplicate`: seen before: the sender used the number twice;
 * - `stale`: older than what the tracker remembers (forgotten, or before an unanchored
 *   tracker's first message): it cannot tell late from duplicate.
 * Every message is shown whatever its verdict, marked accordingly (SECURITY.md §15.3).
 */
export type SequenceVerdict =
  | { readonly kind: "ok" }
  | { readonly kind: "gap"; readonly from: number; readonly to: number }
  | { readonly kind: "late" }
  | { readonly kind: "duplicate" }
  | { readonly kind: "stale" };

/** What `observe` returns. */
export interface Observation {
  readonly state: SequenceState;
  readonly verdict: SequenceVerdict;
}

/** Options of `observe`. */
export interface SequenceOptions {
  /** Most missing numbers to remember (default MAX_MISSING). */
  readonly maxMissing?: number;
}

const EMPTY: SequenceState = Object.freeze({ anchored: true, highest: 0, forgotten: 0, missing: Object.freeze([]) });
const UNANCHORED: SequenceState = Object.freeze({
  anchored: false,
  highest: 0,
  forgotten: 0,
  missing: Object.freeze([]),
});

/**
 * A tracker that expects number 1 first: for a direct chat, and for a group the client was a
 * member of from its first epoch. A first message numbered 5 reports 1..4 as a gap.
 */
export function newSequence(): SequenceState {
  return EMPTY;
}

/**
 * A tracker that starts from whatever number arrives first, without a gap: for a member added
 * to a group later, who was never meant to see the sender's earlier messages. Anything older
 * than that first number is "stale".
 */
export function unanchoredSequence(): SequenceState {
  return UNANCHORED;
}

function checkSeq(seq: number): void {
  if (!Number.isInteger(seq) || seq < 1 || seq > MAX_SEQ)
    throw new UsageError(`a sequence number is an integer in 1..${MAX_SEQ}`);
}

function checkMaxMissing(maxMissing: number): void {
  if (!Number.isSafeInteger(maxMissing) || maxMissing < 0)
    throw new UsageError("maxMissing must be a non-negative integer");
}

/** How many numbers `ranges` hold. */
function countOf(ranges: readonly MissingRange[]): number {
  let n = 0;
  for (const r of ranges) n += r.to - r.from + 1;
  return n;
}

/** Drops the lowest missing numbers until at most `max` remain; returns the ranges and the new `forgotten`. */
function bound(ranges: MissingRange[], forgotten: number, max: number): { missing: MissingRange[]; forgotten: number } {
  let excess = countOf(ranges) - max;
  while (excess > 0) {
    const first = ranges[0] as MissingRange;
    const size = first.to - first.from + 1;
    if (size <= excess) {
      ranges.shift();
      forgotten = first.to;
      excess -= size;
    } else {
      ranges[0] = { from: first.from + excess, to: first.to };
      forgotten = first.from + excess - 1;
      excess = 0;
    }
  }
  return { missing: ranges, forgotten };
}

/**
 * Records that the message numbered `seq` arrived and says what that means (SECURITY.md §15
 * §3.2). Pure: `state` is unchanged. Throws UsageError for a `seq` outside 1..MAX_SEQ (the
 * decoder never yields one) or an invalid `maxMissing`.
 */
export function observe(state: SequenceState, seq: number, options: SequenceOptions = {}): Observation {
  checkSeq(seq);
  const maxMissing = options.maxMissing ?? MAX_MISSING;
  checkMaxMissing(maxMissing);
  if (!state.anchored) {
    return { state: { anchored: true, highest: seq, forgotten: seq - 1, missing: [] }, verdict: { kind: "ok" } };
  }
  if (seq === state.highest + 1) {
    return { state: { ...state, highest: seq }, verdict: { kind: "ok" } };
  }
  if (seq > state.highest) {
    const gap = { from: state.highest + 1, to: seq - 1 };
    const { missing, forgotten } = bound([...state.missing, gap], state.forgotten, maxMissing);
    return { state: { anchored: true, highest: seq, forgotten, missing }, verdict: { kind: "gap", ...gap } };
  }
  if (seq <= state.forgotten) return { state, verdict: { kind: "stale" } };
  const i = state.missing.findIndex((r) => r.from <= seq && seq <= r.to);
  if (i < 0) return { state, verdict: { kind: "duplicate" } };
  const r = state.missing[i] as MissingRange;
  const split: MissingRange[] = [];
  if (r.from < seq) split.push({ from: r.from, to: seq - 1 });
  if (seq < r.to) split.push({ from: seq + 1, to: r.to });
  const missing = [...state.missing.slice(0, i), ...split, ...state.missing.slice(i + 1)];
  return { state: { ...state, missing }, verdict: { kind: "late" } };
}

/** How many numbers the tracker holds as missing (what the client shows as "n messages missing"). */
export function missingCount(state: SequenceState): number {
  return countOf(state.missing);
}

/**
 * The next sequence number a sender uses after `last` (0 before its first text message in the
 * chat). Throws LimitError after MAX_SEQ: the sender cannot send more text in this chat.
 */
export function nextSeq(last: number): number {
  if (!Number.isInteger(last) || last < 0 || last > MAX_SEQ) {
    throw new UsageError(`the last sequence number is an integer in 0..${MAX_SEQ}`);
  }
  if (last === MAX_SEQ) throw new LimitError("sequence numbers exhausted in this chat");
  return last + 1;
}

// ---------------------------------------------------------------------------------------------
// Storage (SECURITY.md §15.3.3)

/**
 * The state as JSON text for the client's store:
 * `{"v":1,"anchored":true,"highest":9,"forgotten":0,"missing":[[2,3],[6,6]]}`.
 */
export function serializeSequence(state: SequenceState): string {
  checkState(state, Number.MAX_SAFE_INTEGER, (m) => new UsageError(`invalid sequence state: ${m}`));
  return JSON.stringify({
    v: 1,
    anchored: state.anchored,
    highest: state.highest,
    forgotten: state.forgotten,
    missing: state.missing.map((r) => [r.from, r.to]),
  });
}

/**
 * Reads what serializeSequence wrote. Throws CodecError for anything else: not JSON, another
 * version, an unknown or missing field, or a state breaking SequenceState's invariants
 * (including more than `maxMissing` missing numbers, default MAX_MISSING).
 */
export function deserializeSequence(text: string, options: SequenceOptions = {}): SequenceState {
  const maxMissing = options.maxMissing ?? MAX_MISSING;
  checkMaxMissing(maxMissing);
  const fail = (m: string) => new CodecError(`sequence state: ${m}`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw fail("not JSON");
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw fail("not an object");
  const o = raw as Record<string, unknown>;
  const keys = Object.keys(o).sort().join(",");
  if (keys !== "anchored,forgotten,highest,missing,v") throw fail("unexpected fields");
  if (o.v !== 1) throw fail("unsupported version");
  if (typeof o.anchored !== "boolean") throw fail("anchored must be a boolean");
  if (!Array.isArray(o.missing)) throw fail("missing must be an array");
  const missing = o.missing.map((r: unknown) => {
    if (!Array.isArray(r) || r.length !== 2 || !r.every((n) => Number.isInteger(n)))
      throw fail("a missing range is [from, to]");
    return { from: r[0] as number, to: r[1] as number };
  });
  const state: SequenceState = {
    anchored: o.anchored,
    highest: o.highest as number,
    forgotten: o.forgotten as number,
    missing,
  };
  checkState(state, maxMissing, fail);
  return state;
}

/** Throws `fail(reason)` unless `state` keeps SequenceState's invariants. */
function checkState(state: SequenceState, maxMissing: number, fail: (m: string) => Error): void {
  const { highest, forgotten, missing } = state;
  if (!Number.isInteger(highest) || highest < 0 || highest > MAX_SEQ) throw fail("highest out of range");
  if (!Number.isInteger(forgotten) || forgotten < 0 || forgotten > highest) throw fail("forgotten out of range");
  if (!state.anchored && (highest !== 0 || forgotten !== 0 || missing.length > 0))
    throw fail("an unanchored state holds nothing");
  let floor = forgotten + 1; // the lowest number the next range may start at
  for (const r of missing) {
    if (!Number.isInteger(r.from) || !Number.isInteger(r.to) || r.from < floor || r.to < r.from || r.to >= highest) {
      throw fail("missing ranges must be ascending, disjoint, non-adjacent and between forgotten and highest");
    }
    floor = r.to + 2;
  }
  if (countOf(missing) > maxMissing) throw fail(`more than ${maxMissing} missing numbers`);
}
