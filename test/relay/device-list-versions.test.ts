/**
 * `fetch_device_list_versions` (SECURITY.md §17.8) against a real relay, on both storages: per
 * name asked, in order, the version of the list the relay holds (0 for an account without one,
 * an unknown name, a disabled account), following each publication; one statement for all
 * names; 1..256 names, anything else BAD_MESSAGE naming the request with the connection kept;
 * logged-in connections only. Lists are signed with crypto/ and seeded keys (device-keys.ts).
 */
import { randomBytes } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import type { RelayClient } from "../../client/relay-client.js";
import type { RelayMessage } from "../../src/wire/index.js";
import { deviceKeys, signedList } from "./device-keys.js";
import { type TestRelay, type TestUser, joinUser, startRelay } from "./harness.js";
import { RawClient } from "./raw-client.js";
import { explainSkip, relayStorages } from "./storages.js";

explainSkip("Device list versions");

let n = 0;
/** A username no other test used. */
const fresh = (prefix: string) => `${prefix}${n++}x${randomBytes(3).toString("hex")}`;

/** The versions the relay answers for `usernames`, asked on `c`. */
async function versions(c: RelayClient, usernames: string[]): Promise<number[]> {
  const reply = await c.request<"fetch_device_list_versions">({ t: "fetch_device_list_versions", usernames });
  return reply.versions;
}

/** Publishes version `version` of `u`'s list: device 1 (the account key), plus device 2 from `version` 2 on. */
async function publish(u: TestUser, version: number): Promise<void> {
  const devices = [{ id: 1, identity: u.identity.publicKey }];
  if (version >= 2) devices.push({ id: 2, identity: deviceKeys(`${u.username} 2`).identity.publicKey });
  await u.client.request<"publish_device_list">({
    t: "publish_device_list",
    list: signedList(u.identity, u.username, version, devices),
  });
}

for (const storage of relayStorages()) {
  describe.skipIf(storage.skip)(`fetch_device_list_versions on ${storage.name}`, () => {
    let r: TestRelay | undefined;
    const raw: RawClient[] = [];

    /** Statements the relay ran while `counting` (the store's reads outside transactions). */
    let statements = 0;
    let counting = false;

    beforeAll(async () => {
      await storage.open();
      const db = await storage.fresh();
      const counted = new Proxy(db, {
        get(target, key, receiver) {
          const value: unknown = Reflect.get(target, key, receiver);
          if (key !== "query" || typeof value !== "function") return value;
          return (...args: unknown[]) => {
            if (counting) statements++;
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        },
      });
      r = await startRelay({ db: counted });
    }, 120_000);
    afterAll(async () => {
      await r?.stop();
      await storage.close();
    }, 120_000);
    afterEach(() => {
      for (const c of raw.splice(0)) c.close();
    });

    async function rawReady(): Promise<RawClient> {
      const c = await RawClient.ready(r!);
      raw.push(c);
      return c;
    }

    test("gives each name's stored version in the order asked, 0 where there is no list to give", async () => {
      const alice = await joinUser(r!, fresh("alice"));
      const bob = await joinUser(r!, fresh("bob"));
      const old = await joinUser(r!, fresh("old")); // a client before §17: never publishes
      const gone = await joinUser(r!, fresh("gone"));
      await publish(alice, 1);
      await publish(bob, 1);
      await publish(bob, 2);
      await publish(gone, 1);
      expect(await r!.relay.store.setDisabled(gone.username, true)).toBe(true);
      const nobody = fresh("nobody");

      const asked = [bob.username, old.username, alice.username, nobody, gone.username, bob.username];
      expect(await versions(alice.client, asked)).toEqual([2, 0, 1, 0, 0, 2]);
      // Names in any ASCII case are the accounts' (§14.5).
      expect(await versions(old.client, [alice.username.toUpperCase()])).toEqual([1]);
      // Each publication moves the answer; so does an operator enabling the account again.
      await publish(alice, 2);
      await r!.relay.store.setDisabled(gone.username, false);
      expect(await versions(bob.client, [alice.username, gone.username])).toEqual([2, 1]);
    });

    test("answers 256 names in one request, with one statement", async () => {
      const alice = await joinUser(r!, fresh("many"));
      await publish(alice, 1);
      const names = Array.from({ length: 256 }, (_, i) => (i === 200 ? alice.username : fresh("none")));
      statements = 0;
      counting = true;
      const got = await versions(alice.client, names).finally(() => (counting = false));
      expect(statements).toBe(1);
      expect(got).toHaveLength(256);
      expect(got.filter((v) => v !== 0)).toEqual([1]);
      expect(got[200]).toBe(1);
    });

    test("257 names, none, or a bad name: BAD_MESSAGE for that request, and the connection goes on", async () => {
      const u = await joinUser(r!, fresh("limits"));
      const c = await rawReady();
      await c.loginAs(u);
      const names = (k: number) => Array.from({ length: k }, (_, i) => `user${i}`);
      for (const [usernames, path] of [
        [names(257), "fetch_device_list_versions.usernames"],
        [[], "fetch_device_list_versions.usernames"],
        [["ok-name", "no spaces"], "fetch_device_list_versions.usernames[1]"],
      ] as const) {
        const e = await c.requestUnchecked({ t: "fetch_device_list_versions", usernames });
        expect(e).toMatchObject({ t: "error", code: "BAD_MESSAGE" });
        expect((e as RelayMessage & { message: string }).message.startsWith(`${path}:`)).toBe(true);
      }
      expect(c.closed).toBe(false);
      expect(
        await c.request<"fetch_device_list_versions">({ t: "fetch_device_list_versions", usernames: [u.username] }),
      ).toEqual({
        t: "device_list_versions",
        id: expect.any(Number),
        versions: [0],
      });
    });

    test("before login: NOT_AUTHENTICATED, and the connection may still log in", async () => {
      const u = await joinUser(r!, fresh("phase"));
      await publish(u, 1);
      const c = await rawReady();
      expect(
        await c.request<"fetch_device_list_versions">({ t: "fetch_device_list_versions", usernames: [u.username] }),
      ).toMatchObject({ t: "error", code: "NOT_AUTHENTICATED" });
      await c.loginAs(u);
      expect(
        await c.request<"fetch_device_list_versions">({ t: "fetch_device_list_versions", usernames: [u.username] }),
      ).toMatchObject({ t: "device_list_versions", versions: [1] });
    });
  });
}
