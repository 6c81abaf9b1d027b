/**
 * The device-link mailbox on a real relay (SECURITY.md §17.6, §17.8): a logged-in device opens a
 * link, the first other connection that posts becomes its new side (before any login), posts go
 * to the other side as link_msg, a third connection is refused, at most 5 messages, and the link
 * ends on link_close, on either side's connection closing, or 5 minutes after it opened (the
 * relay's clock is the test's). The relay carries the messages as opaque bytes.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, expect, test } from "vitest";
import { LINK_LIFETIME_MS } from "../../crypto/device-link.js";
import type { RelayMessage, RelayMessageOf } from "../../src/wire/index.js";
import { waitFor } from "../helpers/wait-for.js";
import { type TestRelay, type TestUser, joinUser, startRelay } from "./harness.js";
import { RawClient } from "./raw-client.js";

let offset = 0;
let r: TestRelay;
let alice: TestUser;

beforeAll(async () => {
  // A 1 s heartbeat (heartbeatMs / 3): a moved clock takes effect within a second, not ten.
  r = await startRelay({ now: () => Date.now() + offset, limits: { heartbeatMs: 3_000 } });
  alice = await joinUser(r, "alice");
}, 60_000);
afterAll(async () => {
  await r?.stop();
});

let host = 10;
const freshAddress = () => `127.0.3.${host++}`;
const newLinkId = () => new Uint8Array(randomBytes(16));
const bytes = (n: number) => new Uint8Array(randomBytes(n));

async function opener(): Promise<RawClient> {
  const e = await RawClient.ready(r, { localAddress: freshAddress() });
  await e.loginAs(alice);
  return e;
}

const stranger = () => RawClient.ready(r, { localAddress: freshAddress() });
const post = (c: RawClient, link: Uint8Array, message: Uint8Array) =>
  c.request<"link_post">({ t: "link_post", link, message });
const linkMsg = async (c: RawClient) => (await c.nextWhere((m) => m.t === "link_msg")) as RelayMessageOf<"link_msg">;
const expectCode = (m: RelayMessage, code: string) => expect(m).toMatchObject({ t: "error", code });

test("E and N exchange messages through the link; a third connection is refused; link_close ends it", async () => {
  const link = newLinkId();
  const e = await opener();
  expect(await e.request<"link_open">({ t: "link_open", link })).toMatchObject({ t: "ok" });
  expectCode(await e.request<"link_open">({ t: "link_open", link }), "BAD_MESSAGE");

  const n = await stranger();
  const m1 = bytes(33);
  expect(await post(n, link, m1)).toMatchObject({ t: "ok" });
  expect(await linkMsg(e)).toEqual({ t: "link_msg", link, message: m1 });
  const m2 = bytes(57);
  expect(await post(e, link, m2)).toMatchObject({ t: "ok" });
  expect(await linkMsg(n)).toEqual({ t: "link_msg", link, message: m2 });

  const third = await stranger();
  expectCode(await post(third, link, bytes(10)), "LINK_UNKNOWN");
  expectCode(await third.request<"link_close">({ t: "link_close", link }), "LINK_UNKNOWN");

  const m3 = bytes(40);
  expect(await post(n, link, m3)).toMatchObject({ t: "ok" });
  expect(await linkMsg(e)).toEqual({ t: "link_msg", link, message: m3 });
  expect(await e.request<"link_close">({ t: "link_close", link })).toMatchObject({ t: "ok" });
  expectCode(await post(n, link, bytes(10)), "LINK_UNKNOWN");
  expectCode(await post(e, link, bytes(10)), "LINK_UNKNOWN");
  for (const c of [e, n, third]) c.close();
});

test("only a logged-in device opens a link; an unknown link is LINK_UNKNOWN", async () => {
  const c = await stranger();
  expectCode(await c.request<"link_open">({ t: "link_open", link: newLinkId() }), "NOT_AUTHENTICATED");
  expectCode(await post(c, newLinkId(), bytes(5)), "LINK_UNKNOWN");
  c.close();
});

test("E's posts before N arrives reach N with its first post; at most 5 messages in all", async () => {
  const link = newLinkId();
  const e = await opener();
  expect(await e.request<"link_open">({ t: "link_open", link })).toMatchObject({ t: "ok" });
  const early = bytes(20);
  expect(await post(e, link, early)).toMatchObject({ t: "ok" });
  // One message is held for N, no more: what a device can make the relay hold is bounded.
  expectCode(await post(e, link, bytes(20)), "BAD_MESSAGE");
  const n = await stranger();
  // The held message comes first, before the answer to N's post.
  n.send({ t: "link_post", id: 900, link, message: bytes(20) });
  expect(await n.next()).toEqual({ t: "link_msg", link, message: early });
  expect(await n.next()).toMatchObject({ t: "ok", id: 900 });
  expect(await post(e, link, bytes(20))).toMatchObject({ t: "ok" });
  expect(await post(n, link, bytes(20))).toMatchObject({ t: "ok" });
  expect(await post(e, link, bytes(20))).toMatchObject({ t: "ok" });
  expectCode(await post(n, link, bytes(20)), "BAD_MESSAGE");
  e.close();
  n.close();
});

test("a device may have 2 links open at once; closing one lets it open another", async () => {
  const e = await opener();
  const links = [newLinkId(), newLinkId(), newLinkId()];
  expect(await e.request<"link_open">({ t: "link_open", link: links[0]! })).toMatchObject({ t: "ok" });
  expect(await e.request<"link_open">({ t: "link_open", link: links[1]! })).toMatchObject({ t: "ok" });
  e.send({ t: "link_open", id: 700, link: links[2]! });
  expectCode(await e.next(), "RATE_LIMITED");
  expect(await e.request<"link_close">({ t: "link_close", link: links[0]! })).toMatchObject({ t: "ok" });
  expect(await e.request<"link_open">({ t: "link_open", link: links[2]! })).toMatchObject({ t: "ok" });
  e.close();
});

test("N's connection closing ends the link, and so does E's", async () => {
  for (const closing of ["n", "e"] as const) {
    const link = newLinkId();
    const e = await opener();
    expect(await e.request<"link_open">({ t: "link_open", link })).toMatchObject({ t: "ok" });
    const n = await stranger();
    expect(await post(n, link, bytes(8))).toMatchObject({ t: "ok" });
    const gone = closing === "n" ? n : e;
    gone.close();
    await waitFor(() => gone.relaySide(r) === undefined, { what: "the relay dropped the closed connection" });
    const other = closing === "n" ? e : n;
    expectCode(await post(other, link, bytes(8)), "LINK_UNKNOWN");
    // And a new connection cannot take the place of the closed side.
    const late = await stranger();
    expectCode(await post(late, link, bytes(8)), "LINK_UNKNOWN");
    other.close();
    late.close();
  }
});

test("a link expires 5 minutes after it opened; its new side is not cut for not logging in meanwhile", async () => {
  const link = newLinkId();
  const e = await opener();
  expect(await e.request<"link_open">({ t: "link_open", link })).toMatchObject({ t: "ok" });
  const n = await stranger();
  expect(await post(n, link, bytes(8))).toMatchObject({ t: "ok" });
  const bystander = await stranger();
  // Past the login timeout: a heartbeat closes the bystander, never the link's new side.
  offset += r.relay.ctx.config.limits.loginTimeoutMs + 1000;
  await bystander.waitClosed(15_000);
  expect(await post(n, link, bytes(8))).toMatchObject({ t: "ok" });

  const later = newLinkId();
  expect(await e.request<"link_open">({ t: "link_open", link: later })).toMatchObject({ t: "ok" });
  offset += LINK_LIFETIME_MS - 1000;
  expect(await post(e, later, bytes(8))).toMatchObject({ t: "ok" }); // 1 s left
  offset += 1000;
  expectCode(await post(e, later, bytes(8)), "LINK_UNKNOWN");
  expectCode(await post(e, link, bytes(8)), "LINK_UNKNOWN");
  e.close();
  n.close();
}, 60_000);
