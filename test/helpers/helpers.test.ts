/**
 * The suites' own helpers: the polling helper fails with what it waited for, and the seeded
 * random source replays exactly from its seed.
 */
import { describe, expect, test } from "vitest";
import { seedFromEnv, seededRandom } from "./test-seed.js";
import { waitFor, waitForValue } from "./wait-for.js";

describe("waitFor", () => {
  test("resolves with the first truthy value, sync or async", async () => {
    let n = 0;
    expect(await waitFor(() => (++n >= 3 ? `after ${n}` : undefined), { what: "n", intervalMs: 1 })).toBe("after 3");
    expect(await waitFor(async () => 7, { what: "seven" })).toBe(7);
  });

  test("gives up saying what it waited for and the state it saw", async () => {
    await expect(
      waitFor(() => false, { what: "the listening line", timeoutMs: 30, intervalMs: 5, state: () => "got: []" }),
    ).rejects.toThrow(/^timed out after 30 ms waiting for the listening line\ngot: \[\]$/);
    await expect(waitForValue(() => 4, 5, { what: "the cursor", timeoutMs: 30, intervalMs: 5 })).rejects.toThrow(
      "timed out after 30 ms waiting for the cursor\nexpected 5, last read 4",
    );
  });

  test("stops at once when stopIf gives a reason", async () => {
    await expect(waitFor(() => false, { what: "a line", stopIf: () => "listen exited (1)" })).rejects.toThrow(
      "stopped waiting for a line: listen exited (1)",
    );
  });
});

describe("seeded randomness", () => {
  test("the same seed gives the same sequence; another seed another one", () => {
    const take = (seed: number) => {
      const r = seededRandom(seed);
      return Array.from({ length: 8 }, () => r.next());
    };
    expect(take(42)).toEqual(take(42));
    expect(take(42)).not.toEqual(take(43));
    for (const x of take(7)) expect(x >= 0 && x < 1).toBe(true);
    const r = seededRandom(1);
    const ints = Array.from({ length: 200 }, () => r.int(3));
    expect(new Set(ints)).toEqual(new Set([0, 1, 2, 3]));
  });

  test("SMSG_TEST_SEED: unset is undefined, a 32-bit integer is taken, anything else is refused", () => {
    expect(seedFromEnv({})).toBeUndefined();
    expect(seedFromEnv({ SMSG_TEST_SEED: "" })).toBeUndefined();
    expect(seedFromEnv({ SMSG_TEST_SEED: "1234" })).toBe(1234);
    expect(seedFromEnv({ SMSG_TEST_SEED: "-1819918769" })).toBe(-1819918769); // as fast-check prints them
    for (const bad of ["1.5", "abc", "4294967296", "-2147483649"])
      expect(() => seedFromEnv({ SMSG_TEST_SEED: bad })).toThrow(/SMSG_TEST_SEED must be an integer/);
  });
});
