/**
 * The relay's in-memory passphrase state (relay/passphrase-state.ts) and the passphrase
 * handlers' work per name (SECURITY.md §18.5): passphrase_salt buckets are per address, bounded,
 * and forgotten once full again; and passphrase_salt does the same database work for an unknown
 * name, an account without a passphrase and one with, so its timing does not tell them apart
 * (found in review: one round trip for an unknown name, two for an account).
 */
import { describe, expect, test } from "vitest";
import { handlePassphraseSalt } from "../../relay/handlers/passphrase.js";
import { PassphraseState } from "../../relay/passphrase-state.js";

describe("passphrase_salt buckets", () => {
  test("per address: an address's burst is its own; an idle address starts full again", () => {
    const state = new PassphraseState();
    const take = (addr: string, now: number) => state.takeSaltToken(addr, 1, 3, now);
    expect([take("a", 0), take("a", 0), take("a", 0), take("a", 0)]).toEqual([true, true, true, false]);
    expect(take("b", 0)).toBe(true);
    expect(take("a", 1000)).toBe(true); // one token a second
    expect(take("a", 1000)).toBe(false);
    expect(take("a", 10_000)).toBe(true);
  });

  test("bounded: past the cap the least recently used address is forgotten", () => {
    const state = new PassphraseState(2);
    const take = (addr: string) => state.takeSaltToken(addr, 1, 1, 0);
    expect(take("a")).toBe(true);
    expect(take("a")).toBe(false);
    take("b");
    take("c"); // "a" goes
    expect(take("a")).toBe(true);
  });
});

describe("passphrase_salt's database work does not depend on the name", () => {
  /** A connection whose store counts round trips; `accounts` exist, `withPassphrase` have a record. */
  function counting(accounts: Set<string>) {
    let trips = 0;
    const conn = {
      remoteAddress: "192.0.2.1",
      ctx: {
        now: () => 0,
        config: { limits: { bundleRate: 1, bundleBurst: 30 } },
        passphrase: new PassphraseState(),
        store: {
          accountByUsername: async (name: string) => {
            trips++;
            return accounts.has(name) ? { id: 42, username: name, disabled: false } : undefined;
          },
          db: {
            query: async () => {
              trips++;
              return [];
            },
          },
        },
      },
      send: () => undefined,
    };
    conn.ctx.passphrase["secret" as never] = new Uint8Array(32).fill(7) as never;
    return { conn: conn as never, trips: () => trips };
  }

  test("an unknown name costs what an account's name costs", async () => {
    const known = counting(new Set(["bob"]));
    await handlePassphraseSalt(known.conn, { t: "passphrase_salt", id: 1, username: "bob" } as never);
    const unknown = counting(new Set(["bob"]));
    await handlePassphraseSalt(unknown.conn, { t: "passphrase_salt", id: 1, username: "nobody" } as never);
    expect(unknown.trips()).toBe(known.trips());
    expect(known.trips()).toBe(1);
  });
});
