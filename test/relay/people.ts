/** Test users with an inbox of what they were pushed, and small request shorthands. */
import type { RelayClient } from "../../client/relay-client.js";
import { type TestRelay, type TestUser, idem, joinUser, relogin } from "./harness.js";
import { Inbox, type Msg } from "./inbox.js";

export interface Person extends TestUser {
  inbox: Inbox;
}

/** Joins `username` and records what it is pushed. */
export async function person(r: TestRelay, username: string, opts: { opks?: number } = {}): Promise<Person> {
  const u = await joinUser(r, username, opts);
  return Object.assign(u, { inbox: new Inbox(u.client) });
}

/** Logs `p` in again on a new connection (the old one stays as it is) with a fresh inbox. */
export async function reconnect(
  r: TestRelay,
  p: Person,
  opts: { protocolVersion?: number } = {},
): Promise<RelayClient> {
  const client = await relogin(r, p, opts);
  p.inbox = new Inbox(client);
  return client;
}

export async function openDirect(a: Person, b: Person): Promise<number> {
  return (await a.client.request<"open_direct">({ t: "open_direct", username: b.username })).chat.id;
}

export async function group(admin: Person, members: Person[]): Promise<number> {
  return (await admin.client.request<"create_group">({ t: "create_group", members: members.map((m) => m.username) }))
    .chat.id;
}

/** Sends `body` (bytes or text) to `chat`; resolves with the `sent` reply. */
export function send(
  p: Person | RelayClient,
  chat: number,
  body: string | Uint8Array,
  opts: { idem?: Uint8Array; to?: string } = {},
) {
  const client = "client" in p ? p.client : p;
  const envelope = typeof body === "string" ? new TextEncoder().encode(body) : body;
  return client.request<"send">({
    t: "send",
    chat,
    idem: opts.idem ?? idem(),
    envelope,
    ...(opts.to !== undefined ? { to: opts.to } : {}),
  });
}

/** Runs a sync on `client` and returns the msg frames it pushed before `synced`, and `more`. */
export async function syncPage(
  client: RelayClient,
  limit?: number,
): Promise<{ ids: number[]; msgs: Msg[]; more: boolean }> {
  const got: Msg[] = [];
  const on = (m: Msg) => got.push(m);
  client.on("msg", on);
  try {
    const r = await client.request<"sync">({ t: "sync", ...(limit !== undefined ? { limit } : {}) });
    return { ids: got.map((m) => m.msg), msgs: got, more: r.more };
  } finally {
    client.off("msg", on);
  }
}

/** Runs a history request and returns the msg frames before `history_end`, and `more`. */
export async function historyPage(client: RelayClient, chat: number, opts: { after?: number; limit?: number } = {}) {
  const got: Msg[] = [];
  const on = (m: Msg) => got.push(m);
  client.on("msg", on);
  try {
    const r = await client.request<"history">({ t: "history", chat, ...opts });
    return { ids: got.map((m) => m.msg), msgs: got, more: r.more };
  } finally {
    client.off("msg", on);
  }
}

/** The text of an envelope sent with `send(…, string)`. */
export function text(m: { envelope: Uint8Array }): string {
  return new TextDecoder().decode(m.envelope);
}
