/**
 * The relay's limits against real loopback clients (docs/ARCHITECTURE.md §5.6; SECURITY.md §14.7): message rate per
 * connection, connections per address, login and idle timeouts with heartbeats, slow consumers,
 * bundle fetches. Each test tightens the running relay's limits (liveLimits), shows the one
 * misbehaving client losing its connection or its request, and that everybody else (a member
 * already online, a new well-behaved login) notices nothing.
 *
 * The relay starts with heartbeatMs 3000 so its heartbeat timer ticks every second
 * (max(1000, heartbeatMs / 3)); the timeout tests then shorten the limits the tick checks.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from "vitest";
import type { RelayClient } from "../../client/relay-client.js";
import { ERROR_CODES } from "../../src/errors.js";
import { PROTOCOL_VERSION, type RelayMessageOf, encodeMessageFrame } from "../../src/wire/index.js";
import { type TestRelay, connectTo, idem, joinUser, relogin, startRelay } from "./harness.js";
import { RawClient, WAIT_MS, type World, expectServing, liveLimits, makeWorld } from "./raw-client.js";

let r: TestRelay;
let w: World;
let limits: ReturnType<typeof liveLimits>;

beforeAll(async () => {
  r = await startRelay({ limits: { heartbeatMs: 3000 } });
  w = await makeWorld(r);
  limits = liveLimits(r);
});
afterEach(() => limits.reset());
afterAll(async () => {
  await r?.stop();
});

/** Resolves once `c` has been let go by the relay (it fails a connection before the client hears). */
async function relayDropped(c: RawClient): Promise<void> {
  await vi.waitFor(() => expect(c.relaySide(r)).toBeUndefined(), { timeout: WAIT_MS, interval: 20 });
}

describe("per connection", () => {
  test("more messages than rate and burst allow: RATE_LIMITED and closed; a paced client and the others go on", async () => {
    limits.set({ messageRate: 5, messageBurst: 10 });
    const flooder = await RawClient.ready(r, { localAddress: "127.0.0.2" });
    await flooder.loginAs(w.bob); // hello and login took 2 of the 10 tokens
    const pings = Array.from({ length: 30 }, (_, i) => encodeMessageFrame({ t: "ping", n: i }));
    flooder.write(Buffer.concat(pings)); // one write: 30 frames arrive together
    const err = await flooder.expectClosedWith("RATE_LIMITED");
    expect(err.message).toContain("5 messages per second");
    expect(err.id).toBeUndefined();
    // The frames after the limit were never handled.
    expect(flooder.received.filter((m) => m.t === "pong").length).toBeLessThan(10);

    // Another connection under the same limits that stays within its burst is served.
    const paced = await RawClient.ready(r, { localAddress: "127.0.0.2" });
    await paced.loginAs(w.bob);
    for (let i = 0; i < 5; i++)
      expect(await paced.request<"lookup_user">({ t: "lookup_user", username: "alice" })).toMatchObject({ t: "user" });
    paced.close();
    // bob's long-lived connection and alice's messages to it are untouched.
    limits.reset();
    await expectServing(r, w);
  });
  test("fetch_device_list_versions costs a token per name: more than the burst holds is RATE_LIMITED for that request only", async () => {
    limits.set({ messageRate: 5, messageBurst: 10 });
    const c = await RawClient.ready(r, { localAddress: "127.0.0.3" });
    await c.loginAs(w.bob); // hello and login took 2 of the 10 tokens
    // 50 names need 50 tokens, more than the burst can ever hold: refused, nothing answered, none taken.
    const many = Array.from({ length: 50 }, (_, i) => `nobody${i}`);
    const refused = await c.requestUnchecked({ t: "fetch_device_list_versions", usernames: many });
    expect(refused).toMatchObject({ t: "error", code: "RATE_LIMITED" });
    expect((refused as { message: string }).message).toContain("50 device list versions");
    expect(c.closed).toBe(false);
    // The refused request took only its frame's token, so three names (three tokens) still fit.
    expect(
      await c.request<"fetch_device_list_versions">({
        t: "fetch_device_list_versions",
        usernames: ["alice", "bob", "nobody"],
      }),
    ).toMatchObject({ t: "device_list_versions", versions: [expect.any(Number), expect.any(Number), 0] });
    c.close();
  });
});

describe("connections", () => {
  test("past maxConnectionsPerAddress: TOO_MANY_CONNECTIONS for the extra one only, until one closes", async () => {
    const crowded = "127.0.0.3";
    limits.set({ maxConnectionsPerAddress: 2 });
    const first = await RawClient.ready(r, { localAddress: crowded });
    const second = await RawClient.ready(r, { localAddress: crowded });
    const extra = await RawClient.connect(r, { localAddress: crowded });
    const err = await extra.expectClosedWith("TOO_MANY_CONNECTIONS");
    expect(err.message).toContain("2 connections");
    expect(ERROR_CODES.TOO_MANY_CONNECTIONS.closes).toBe(true);

    // The two admitted ones keep working; another address is not affected.
    await first.loginAs(w.bob);
    expect(await first.request<"lookup_user">({ t: "lookup_user", username: "alice" })).toMatchObject({ t: "user" });
    const neighbour = await RawClient.ready(r, { localAddress: "127.0.0.4" });
    await neighbour.loginAs(w.alice);
    neighbour.close();

    // Once one closes, its slot is free again.
    second.close();
    await second.waitClosed();
    await relayDropped(second);
    const again = await RawClient.ready(r, { localAddress: crowded });
    await again.loginAs(w.bob);
    first.close();
    again.close();
    limits.reset();
    await expectServing(r, w);
  });

  test("connected and said hello but no login within loginTimeoutMs: TIMEOUT, closed; a prompt login stays", async () => {
    const dawdler = await RawClient.ready(r, { localAddress: "127.0.0.5" });
    const prompt = await RawClient.ready(r, { localAddress: "127.0.0.5" });
    await prompt.loginAs(w.bob);
    limits.set({ loginTimeoutMs: 800 }); // both opened together; only one logged in
    const err = await dawdler.expectClosedWith("TIMEOUT");
    expect(err.message).toContain("login");
    expect(prompt.closed).toBe(false);
    expect(await prompt.request<"lookup_user">({ t: "lookup_user", username: "alice" })).toMatchObject({ t: "user" });
    prompt.close();
    limits.reset();
    await expectServing(r, w);
  });

  test("a client that neither reads nor closes after being cut off does not keep its socket", async () => {
    // One connection per address: while the relay holds the dead one, no new one is admitted.
    const stubborn = "127.0.0.6";
    limits.set({ loginTimeoutMs: 300, maxConnectionsPerAddress: 1 });
    const stuck = await RawClient.ready(r, { localAddress: stubborn });
    stuck.pause(); // it never reads the relay's TIMEOUT, nor its end of the stream, so never closes
    // How long the relay lets a closed connection flush before it cuts it: its handshake timeout.
    limits.set({ handshakeTimeoutMs: 500 });
    await relayDropped(stuck); // failed with TIMEOUT by the heartbeat
    limits.set({ loginTimeoutMs: 30_000 }); // the next one may take its time to log in
    let admitted: RawClient | undefined;
    await vi.waitFor(
      async () => {
        const c = await RawClient.connect(r, { localAddress: stubborn });
        c.send({ t: "hello", v: PROTOCOL_VERSION, client: "retry" });
        const first = await c.next(1000).catch((e: unknown) => ({ t: "error", code: String(e) }));
        if (first.t !== "welcome") {
          c.destroy();
          throw new Error(`still refused: ${JSON.stringify(first)}`);
        }
        admitted = c;
      },
      { timeout: WAIT_MS, interval: 100 },
    );
    await admitted!.loginAs(w.bob);
    admitted!.close();
    // Reading again, it finds why it was cut off, then the end of the stream.
    stuck.resume();
    await stuck.expectClosedWith("TIMEOUT");
    limits.reset();
    await expectServing(r, w);
  });
});

describe("heartbeats", () => {
  test("clients that answer pings outlive idleTimeoutMs; a silent one is closed with TIMEOUT", async () => {
    // The timer ticks every second, longer than the idle timeout: the relay must ping before it cuts.
    limits.set({ heartbeatMs: 200, idleTimeoutMs: 900 });
    // RelayClient answers every ping; neither answering client makes a request from here on.
    const answering: RelayClient = await connectTo(r);
    await answering.login(w.alice.username, w.alice.credential, w.alice.identity);
    const answeringRaw = await RawClient.ready(r, { localAddress: "127.0.0.7" });
    await answeringRaw.loginAs(w.alice);
    const silent = await RawClient.ready(r, { localAddress: "127.0.0.7", answerPings: false });
    await silent.loginAs(w.bob);

    const err = await silent.expectClosedWith("TIMEOUT");
    expect(err.message).toContain("ping");
    expect(silent.received.some((m) => m.t === "ping")).toBe(true); // it was asked before it was cut
    // Several idle timeouts' worth of pings later, the answering clients are still there.
    await vi.waitFor(() => expect(answeringRaw.pingsAnswered).toBeGreaterThanOrEqual(3), {
      timeout: 10_000,
      interval: 50,
    });
    expect(answeringRaw.closed).toBe(false);
    expect(answering.isClosed).toBe(false);
    expect(await answering.request<"lookup_user">({ t: "lookup_user", username: "bob" })).toMatchObject({ t: "user" });
    expect(await answeringRaw.request<"lookup_user">({ t: "lookup_user", username: "bob" })).toMatchObject({
      t: "user",
    });
    answering.close();
    answeringRaw.close();
    limits.reset();
    await expectServing(r, w); // bob's long-lived client answered its pings too
  });
});

describe("slow consumer", () => {
  test("a member who stops reading is cut off with SLOW_CONSUMER; the sender and the other members go on", async () => {
    const carol = await joinUser(r, "carol");
    carol.client.close();
    const dave = await joinUser(r, "dave");
    const group = await w.alice.client.request<"create_group">({ t: "create_group", members: ["carol", "dave"] });
    const chat = group.chat.id;
    limits.set({ maxOutboundBytes: 1 << 20 });

    const victim = await RawClient.ready(r, { localAddress: "127.0.0.8" });
    await victim.loginAs(carol);
    victim.pause(); // stops reading its socket: the kernel buffers fill, then the relay's queue

    let daveGot = 0;
    dave.client.on("msg", (m) => {
      if (m.chat === chat) daveGot++;
    });
    const envelope = new Uint8Array(60_000).fill(0x5a);
    // Each a different envelope: in version 2 the same bytes would be one send (SECURITY.md §14.9).
    let made = 0;
    const unique = () => {
      const e = envelope.slice();
      new DataView(e.buffer).setUint32(0, made++);
      return e;
    };
    let sent = 0;
    // Four sends in flight at a time (each waits for its commit), until the relay lets go of carol.
    while (victim.relaySide(r) !== undefined) {
      expect(sent, "carol was never cut off").toBeLessThan(400);
      const replies = await Promise.all(
        [0, 1, 2, 3].map(() => w.alice.client.request<"send">({ t: "send", chat, idem: idem(), envelope: unique() })),
      );
      for (const s of replies) expect(s).toMatchObject({ t: "sent", duplicate: false });
      sent += replies.length;
    }
    // The sender keeps working, and dave, who reads, got everything and stays connected.
    const after = await w.alice.client.request<"send">({
      t: "send",
      chat,
      idem: idem(),
      envelope: new Uint8Array([1]),
    });
    expect(after).toMatchObject({ t: "sent" });
    sent++;
    await vi.waitFor(() => expect(daveGot).toBe(sent), { timeout: WAIT_MS, interval: 20 });
    expect(dave.client.isClosed).toBe(false);

    // carol, reading again, finds what was queued, then why she was cut off, then the end.
    victim.resume();
    const err = await victim.expectClosedWith("SLOW_CONSUMER");
    expect(err.message).toContain("reconnect and sync");
    const delivered = victim.received.filter((m) => m.t === "msg").length;
    expect(delivered).toBeLessThan(sent);

    // She reconnects and syncs what she missed.
    const back = await relogin(r, carol);
    const synced = await back.request<"sync">({ t: "sync", limit: 5 });
    expect(synced.more).toBe(true);
    back.close();
    dave.client.close();
    limits.reset();
    await expectServing(r, w);
  });
});

describe("bundle fetches", () => {
  test("past bundleBurst: RATE_LIMITED, and no one-time prekey is handed out beyond the burst, even after reconnecting", async () => {
    const tina = await joinUser(r, "tina", { opks: 10 });
    tina.client.close();
    const rick = await joinUser(r, "rick");
    const tinaId = (await r.relay.store.accountByUsername("tina"))!.id;
    limits.set({ bundleBurst: 3, bundleRate: 0.001 });
    const fetchAs = (c: RelayClient) =>
      c.request<"fetch_bundle">({ t: "fetch_bundle", username: "tina" }).catch((e: { code?: string }) => e.code);

    const keyIds = new Set<number>();
    for (let i = 0; i < 3; i++) {
      const b = await rick.client.request<"fetch_bundle">({ t: "fetch_bundle", username: "tina" });
      expect(b.one_time_prekey).toBeDefined();
      keyIds.add(b.one_time_prekey!.key_id);
    }
    expect(keyIds.size).toBe(3);
    expect(await r.relay.store.oneTimePrekeyCount(tinaId)).toBe(7);

    // The fourth fails on its own (its id), takes nothing, and the connection stays usable.
    expect(await fetchAs(rick.client)).toBe("RATE_LIMITED");
    expect(ERROR_CODES.RATE_LIMITED.closes).toBe(false);
    expect(await rick.client.request<"lookup_user">({ t: "lookup_user", username: "tina" })).toMatchObject({
      t: "user",
    });
    expect(await r.relay.store.oneTimePrekeyCount(tinaId)).toBe(7);

    // The budget is rick's, not his connection's: a new connection gets no fresh burst.
    const raw = await RawClient.ready(r);
    await raw.loginAs(rick);
    const limited = (await raw.request<"fetch_bundle">({
      t: "fetch_bundle",
      username: "tina",
    })) as RelayMessageOf<"error">;
    expect(limited).toMatchObject({ t: "error", code: "RATE_LIMITED" });
    expect(limited.id).toBeDefined();
    raw.close();
    expect(await fetchAs(await relogin(r, rick))).toBe("RATE_LIMITED");
    expect(await r.relay.store.oneTimePrekeyCount(tinaId)).toBe(7);

    // Another requester has a burst of its own.
    const sam = await joinUser(r, "sam");
    expect(await sam.client.request<"fetch_bundle">({ t: "fetch_bundle", username: "tina" })).toMatchObject({
      t: "bundle",
      username: "tina",
    });
    expect(await r.relay.store.oneTimePrekeyCount(tinaId)).toBe(6);
    rick.client.close();
    sam.client.close();
    limits.reset();
    await expectServing(r, w);
  });
});
