/**
 * A device added to its account later counts each 1:1 sender from the first message it gets
 * (SECURITY.md §17.6 "What a new device sees", §15.3.1): what bob, or alice's own first device,
 * wrote before the laptop existed was never for it, so its first numbers are no gap (found in
 * review: every new device warned "1 message from bob is missing" about messages from before it).
 */
import { afterAll, afterEach, beforeAll, beforeEach, expect, test } from "vitest";
import { openDirectChat } from "../../../client/engine/chats.js";
import type { EngineEvent } from "../../../client/engine/events.js";
import { sendText } from "../../../client/engine/send.js";
import { type TestRelay, startRelay } from "../../relay/harness.js";
import { addDevice, emptyDeviceRelay, publishOwnList, withRelay } from "./devices.js";
import { type EngineUser, engineUser } from "./helpers.js";

let tr: TestRelay;
const users: EngineUser[] = [];
beforeAll(async () => {
  tr = await startRelay();
}, 60_000);
afterAll(() => tr.stop(), 60_000);
beforeEach(() => emptyDeviceRelay(tr), 60_000);
afterEach(() => {
  for (const u of users.splice(0)) u.close();
});

/** Goes online and off; returns the events of that run. */
async function sync(u: EngineUser): Promise<EngineEvent[]> {
  const from = u.events.length;
  (await u.online()).close();
  return u.events.slice(from);
}

async function say(u: EngineUser, peer: string, body: string): Promise<void> {
  await withRelay(u.acct, async (r) => {
    const chat =
      u.acct.store.chats.list({}).find((c) => c.kind === "direct" && c.peer === peer) ??
      (await openDirectChat(u.acct, r, peer)).chat;
    await sendText(u.acct, r, chat, body);
  });
}

test("a new device sees no gap for what its contacts and its own account wrote before it", async () => {
  const alice = await engineUser(tr, "alice");
  const bob = await engineUser(tr, "bob");
  users.push(alice, bob);
  await publishOwnList(alice);
  await publishOwnList(bob);
  for (const b of ["b1", "b2"]) await say(bob, "alice", b);
  for (const a of ["a1", "a2"]) await say(alice, "bob", a);
  await sync(alice);
  await sync(bob);
  const laptop = await addDevice(tr, alice, "laptop");
  users.push(laptop);
  await sync(laptop);
  await say(bob, "alice", "b3");
  await say(alice, "bob", "a3");
  await say(bob, "alice", "b4");
  const onLaptop = await sync(laptop);
  const onAlice = await sync(alice);
  expect(onLaptop.filter((e) => e.type === "gap")).toEqual([]);
  expect(onAlice.filter((e) => e.type === "gap")).toEqual([]);
  const bodies = (u: EngineUser) =>
    u.acct.store.messages
      .history(u.acct.store.chats.list({}).find((c) => c.peer === "bob")!.id, { limit: 100 })
      .messages.map((m) => m.body)
      .filter((b) => b !== null);
  expect(bodies(laptop)).toEqual(["b3", "a3", "b4"]);
  expect([...bodies(alice)].sort()).toEqual(["a1", "a2", "a3", "b1", "b2", "b3", "b4"]);
});
