/**
 * Held messages through a real relay (SECURITY.md §14.7 "Held messages"): a `sync` whose `have`
 * names messages gets a `held` stub, without the envelope, exactly in the place of each of them
 * that the reply holds, in both wire versions (§14.9); entries at or below the cursor, of other
 * chats, for messages not for the device (its own) or for none at all change nothing; paging
 * and acking over stubs work as over messages; the relay counts stubs apart from envelopes.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import type { RelayClient } from "../../client/relay-client.js";
import type { Db } from "../../relay/store/index.js";
import type { RelayMessageOf } from "../../src/wire/index.js";
import { type TestRelay, startRelay } from "./harness.js";
import { RawClient } from "./raw-client.js";
import { type Person, openDirect, person as join, reconnect, send, syncPage } from "./people.js";
import { explainSkip, relayStorages } from "./storages.js";

explainSkip("Held messages");

/** A reply frame as the test compares it: "msg 5" or "held 5" (msg frames with their text). */
type Seen = string;

/** Runs one sync with `have` and returns its reply's frames in order, and `more`. */
async function syncWith(
  client: RelayClient,
  have: [number, number][] | undefined,
  limit?: number,
): Promise<{ frames: Seen[]; more: boolean; held: RelayMessageOf<"held">[] }> {
  const frames: Seen[] = [];
  const held: RelayMessageOf<"held">[] = [];
  // Only the reply's frames: a push that arrives meanwhile is not part of it.
  const onMsg = (m: RelayMessageOf<"msg">) =>
    m.reply ? frames.push(`msg ${m.msg} ${new TextDecoder().decode(m.envelope)}`) : undefined;
  const onHeld = (m: RelayMessageOf<"held">) => {
    frames.push(`held ${m.msg}`);
    held.push(m);
  };
  client.on("msg", onMsg);
  client.on("held", onHeld);
  try {
    const r = await client.request<"sync">({
      t: "sync",
      ...(limit !== undefined ? { limit } : {}),
      ...(have !== undefined ? { have } : {}),
    });
    return { frames, more: r.more, held };
  } finally {
    client.off("msg", onMsg);
    client.off("held", onHeld);
  }
}

for (const storage of relayStorages()) {
  describe.skipIf(storage.skip)(`held messages on ${storage.name}`, () => {
    let r: TestRelay | undefined;
    let db: Db;
    const people: Person[] = [];

    async function person(name: string): Promise<Person> {
      const p = await join(r!, name);
      people.push(p);
      return p;
    }

    beforeAll(() => storage.open());
    afterAll(() => storage.close());
    afterEach(async () => {
      for (const p of people.splice(0)) p.client.close();
      await r?.stop();
      r = undefined;
    });

    /** alice sends bob `n` texts "t1".."tn" in a direct chat while bob is offline: the chat and the ids. */
    async function waiting(n: number) {
      db = await storage.fresh();
      r = await startRelay({ db });
      const alice = await person("alice");
      const bob = await person("bob");
      const chat = await openDirect(alice, bob);
      bob.client.close();
      const ids: number[] = [];
      for (let i = 1; i <= n; i++) ids.push((await send(alice, chat, `t${i}`)).msg);
      return { alice, bob, chat, ids };
    }

    test.each([1, 2])(
      "version %i: a stub exactly in the place of each held message, the others in full",
      async (version) => {
        const { bob, chat, ids } = await waiting(4);
        const [m1, m2, m3, m4] = ids as [number, number, number, number];
        const client = await reconnect(r!, bob, { protocolVersion: version });
        expect(client.protocolVersion).toBe(version);
        const before = r!.relay.ctx.counters.messagesDelivered;
        // Also named: an id that does not exist, and a chat bob is not in; both are ignored.
        const got = await syncWith(client, [
          [chat, m4],
          [chat, m2],
          [chat, 9_999_999],
          [chat + 100, m1],
        ]);
        expect(got.frames).toEqual([`msg ${m1} t1`, `held ${m2}`, `msg ${m3} t3`, `held ${m4}`]);
        expect(got.held).toEqual([
          { t: "held", chat, msg: m2 },
          { t: "held", chat, msg: m4 },
        ]);
        expect(got.more).toBe(false);
        // Only envelopes count as delivered copies; the stubs are frames of their own type.
        expect(r!.relay.ctx.counters.messagesDelivered - before).toBe(2);
        expect(r!.relay.ctx.counters.framesOut.get("held")).toBe(2);
      },
    );

    test("entries at or below the cursor and the device's own messages are ignored; acking over a stub moves the cursor", async () => {
      const { alice, bob, chat, ids } = await waiting(3);
      const [m1, m2, m3] = ids as [number, number, number];
      const client = await reconnect(r!, bob);
      client.notify({ t: "ack", chat, upto: m1 });
      const own = (await send(bob, chat, "from bob")).msg;
      // m1 is at the cursor, `own` is bob's own: neither is in the reply, so neither is a stub.
      const got = await syncWith(client, [
        [chat, m1],
        [chat, own],
        [chat, m3],
      ]);
      expect(got.frames).toEqual([`msg ${m2} t2`, `held ${m3}`]);
      // The client acks the highest id of the reply, a stub's too: nothing is left.
      client.notify({ t: "ack", chat, upto: m3 });
      expect((await syncPage(client)).ids).toEqual([]);
      // alice (who sent them) never gets them, whatever she names.
      expect((await syncWith(alice.client, [[chat, m2]])).frames).toEqual([`msg ${own} from bob`]);
    });

    test("a paged reply: stubs take their place in each page, and `more` is the same as without have", async () => {
      const { bob, chat, ids } = await waiting(4);
      const [m1, m2, m3, m4] = ids as [number, number, number, number];
      const client = await reconnect(r!, bob);
      const have: [number, number][] = [
        [chat, m2],
        [chat, m3],
      ];
      const first = await syncWith(client, have, 2);
      expect(first).toMatchObject({ frames: [`msg ${m1} t1`, `held ${m2}`], more: true });
      client.notify({ t: "ack", chat, upto: m2 });
      const second = await syncWith(client, have, 2);
      expect(second).toMatchObject({ frames: [`held ${m3}`, `msg ${m4} t4`], more: false });
    });

    test("the same sync without have gets every envelope (an old client sees nothing new)", async () => {
      const { bob, ids } = await waiting(2);
      const client = await reconnect(r!, bob);
      const got = await syncWith(client, undefined);
      expect(got.frames).toEqual([`msg ${ids[0]} t1`, `msg ${ids[1]} t2`]);
      expect(r!.relay.ctx.counters.framesOut.get("held")).toBeUndefined();
    });

    test("a malformed have is BAD_MESSAGE for that request, and the connection goes on", async () => {
      const { bob, chat, ids } = await waiting(1);
      const raw = await RawClient.ready(r!);
      await raw.loginAs(bob);
      const tooMany = Array.from({ length: 1001 }, (_, i) => [chat, i]);
      for (const [have, text] of [
        [tooMany, "sync.have: expected an array of 1..1000 items, got an array of 1001"],
        [[[chat, ids[0], 1]], "sync.have[0]: expected an array of 2 items, got an array of 3"],
        [[[chat, -1]], "sync.have[0][1]: expected a uint53, got an integer out of range"],
      ] as const) {
        expect(await raw.requestUnchecked({ t: "sync", have })).toMatchObject({
          t: "error",
          code: "BAD_MESSAGE",
          message: text,
        });
      }
      // Nothing was sent for those, and the connection still syncs.
      expect(await raw.request<"sync">({ t: "sync" })).toMatchObject({ t: "synced", more: false });
      const frames = raw.received.filter((m) => m.t === "msg" || m.t === "held");
      expect(frames.map((m) => [m.t, "msg" in m ? m.msg : 0])).toEqual([["msg", ids[0]]]);
      raw.close();
    });
  });
}
