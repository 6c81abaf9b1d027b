/** Where each kind may arrive (SECURITY.md §15.2.5): the relay cannot move a message. */
import { describe, expect, test } from "vitest";
import type { AppMessage } from "../../../client/protocol/app-message.js";
import { type Arrival, checkArrival } from "../../../client/protocol/arrival.js";

const text: AppMessage = { v: 1, k: "text", chat: 1, seq: 1, ts: 0, body: "hi" };
const senderKey: AppMessage = { v: 1, k: "sender_key", chat: 1, epoch: 1, distribution: new Uint8Array(73) };
const state: AppMessage = {
  v: 1,
  k: "group_state",
  chat: 1,
  epoch: 1,
  name: "",
  members: ["alice"],
  admins: ["alice"],
  by: "alice",
  ts: 0,
  signature: new Uint8Array(64),
};
const profile: AppMessage = { v: 1, k: "profile", display_name: "A" };
const deviceList: AppMessage = { v: 1, k: "device_list", list: new Uint8Array(8), names: [] };

const at = (chatKind: Arrival["chatKind"], channel: Arrival["channel"], chat = 1): Arrival => ({
  chat,
  chatKind,
  channel,
});
const result = (m: AppMessage, a: Arrival) => {
  const v = checkArrival(m, a);
  return v.ok ? "ok" : v.reason;
};

describe("checkArrival", () => {
  test.each([
    [text, at("direct", "pairwise"), "ok"],
    [text, at("group", "group"), "ok"],
    [text, at("group", "pairwise"), "wrong_channel"], // a 1:1 message moved into a group
    [text, at("direct", "group"), "wrong_channel"],
    [text, at("direct", "pairwise", 2), "wrong_chat"],
    [senderKey, at("group", "pairwise"), "ok"],
    [senderKey, at("group", "group"), "wrong_channel"],
    [senderKey, at("direct", "pairwise"), "wrong_channel"],
    [senderKey, at("group", "pairwise", 2), "wrong_chat"],
    [state, at("group", "pairwise"), "ok"],
    [state, at("group", "group"), "ok"],
    [state, at("direct", "pairwise"), "wrong_channel"],
    [state, at("group", "group", 9), "wrong_chat"],
    [profile, at("direct", "pairwise", 5), "ok"],
    [profile, at("group", "group", 6), "ok"],
    [deviceList, at("direct", "pairwise", 5), "ok"],
    [deviceList, at("group", "pairwise", 6), "ok"],
    [deviceList, at("group", "group", 6), "wrong_channel"], // never over a sender key (SECURITY.md §17.7)
  ] as const)("%#", (m, a, expected) => {
    expect(result(m, a), `${m.k} in chat ${a.chat} (${a.chatKind}) via ${a.channel}`).toBe(expected);
  });
});
