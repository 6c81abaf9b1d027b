/**
 * The relay's operations endpoint: /healthz, /readyz (503 once the relay stops accepting or
 * its database does not answer), /metrics in Prometheus text with the counters moving as
 * people log in, fail to, send, receive and ack, and no label value that names a person or a
 * chat (issue 12).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { CLI } from "../../bench/relay-process.js";
import { parseHttpAddress, startOpsHttp, stopOpsHttp } from "../../relay/http/ops-http.js";
import { createLogger } from "../../relay/logger.js";
import { type TestRelay, connectTo, startRelay } from "./harness.js";
import { openDirect, person, send, group, syncPage } from "./people.js";

let r: TestRelay;
let http: Server;
let base: string;

beforeAll(async () => {
  r = await startRelay();
  const ops = await startOpsHttp(r.relay, { host: "127.0.0.1", port: 0 }, createLogger("silent"));
  http = ops.server;
  base = `http://127.0.0.1:${ops.port}`;
}, 60_000);

afterAll(async () => {
  await stopOpsHttp(http);
  await r.stop();
});

const get = async (path: string) => {
  const res = await fetch(base + path);
  return { status: res.status, type: res.headers.get("content-type") ?? "", body: await res.text() };
};

/** Parses Prometheus text into samples: name, labels, value. */
function samples(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  const out: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

function value(text: string, name: string, labels: Record<string, string> = {}): number {
  const s = samples(text).find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  return s?.value ?? 0;
}

describe("ops endpoint", () => {
  test("/healthz and /readyz answer; other paths 404, other methods 405", async () => {
    expect(await get("/healthz")).toMatchObject({ status: 200, body: "ok\n" });
    expect(await get("/readyz")).toMatchObject({ status: 200, body: "ready\n" });
    expect((await get("/nope")).status).toBe(404);
    expect((await fetch(base + "/metrics", { method: "POST" })).status).toBe(405);
  });

  test("/metrics counts what happens, in Prometheus text, and no label names a person or a chat", async () => {
    const before = (await get("/metrics")).body;
    const alice = await person(r, "alicemetrics");
    const bob = await person(r, "bobmetrics");
    const carol = await person(r, "carolmetrics");
    // Chat ids that no bucket bound or other fixed label value could equal by chance.
    await r.db.query("SELECT setval('chats_id_seq', 987654)");
    const direct = await openDirect(alice, bob);
    const team = await group(alice, [bob, carol]);
    for (let i = 0; i < 3; i++) await send(alice, direct, `hello ${i}`);
    const last = await send(alice, team, "hello team");
    await bob.inbox.message(last.msg);
    const page = await syncPage(carol.client);
    carol.client.notify({ t: "ack", chat: team, upto: Math.max(...page.ids) });
    // Requests are handled in order: the answer to this one means the ack was handled.
    await carol.client.request<"list_chats">({ t: "list_chats" });
    // A failed login: right username, wrong credential.
    const intruder = await connectTo(r);
    await expect(intruder.login("bobmetrics", new Uint8Array(32), alice.identity)).rejects.toMatchObject({
      code: "AUTH_FAILED",
    });
    intruder.close();

    const res = await get("/metrics");
    expect(res.status).toBe(200);
    expect(res.type).toMatch(/^text\/plain; version=0\.0\.4/);
    const m = res.body;
    const delta = (name: string, labels?: Record<string, string>) =>
      value(m, name, labels) - value(before, name, labels);
    expect(delta("smsg_relay_accounts_created_total")).toBe(3);
    expect(delta("smsg_relay_login_failures_total", { reason: "auth_failed" })).toBe(1);
    expect(delta("smsg_relay_messages_stored_total")).toBe(4);
    expect(delta("smsg_relay_frames_received_total", { type: "send" })).toBe(4);
    expect(delta("smsg_relay_frames_sent_total", { type: "sent" })).toBe(4);
    // Each `sent` frame is at least a length prefix, a type byte and three integers (§14.9); Noise is not counted in it.
    expect(delta("smsg_relay_frame_bytes_sent_total", { type: "sent" })).toBeGreaterThanOrEqual(4 * 8);
    expect(delta("smsg_relay_frame_bytes_received_total", { type: "send" })).toBeLessThan(
      delta("smsg_relay_received_bytes_total"),
    );
    expect(delta("smsg_relay_messages_delivered_total")).toBeGreaterThanOrEqual(5);
    expect(delta("smsg_relay_acks_total")).toBe(1);
    expect(delta("smsg_relay_commit_batch_size_count")).toBeGreaterThanOrEqual(1);
    expect(delta("smsg_relay_commit_batch_size_sum")).toBe(4);
    expect(value(m, "smsg_relay_commit_duration_seconds_count")).toBeGreaterThanOrEqual(1);
    expect(value(m, "smsg_relay_connections_open")).toBeGreaterThanOrEqual(3);
    expect(value(m, "smsg_relay_messages_queued")).toBeGreaterThanOrEqual(4);
    expect(delta("smsg_relay_received_bytes_total")).toBeGreaterThan(0);
    expect(delta("smsg_relay_sent_bytes_total")).toBeGreaterThan(0);
    expect(value(m, "process_resident_memory_bytes")).toBeGreaterThan(0);
    expect(m).toContain("# TYPE smsg_relay_commit_duration_seconds histogram");
    expect(m).toContain("# TYPE smsg_relay_frames_received_total counter");

    // Every label value, against every name and chat id this test used.
    const people = ["alicemetrics", "bobmetrics", "carolmetrics"];
    const chats = [String(direct), String(team)];
    const values = samples(m).flatMap((s) => Object.values(s.labels));
    expect(values.length).toBeGreaterThan(0);
    for (const v of values) {
      for (const p of people) expect(v.toLowerCase()).not.toContain(p);
      expect(chats).not.toContain(v);
    }
    // The relay's own label values come from fixed sets only.
    for (const s of samples(m).filter((x) => x.name.startsWith("smsg_relay_")))
      for (const [k, v] of Object.entries(s.labels)) {
        if (k === "type") expect(v).toMatch(/^[a-z_]+$/);
        if (k === "reason") expect(v).toMatch(/^[a-z_]+$/);
        if (k === "class") expect(v).toMatch(/^([0-9A-Z]{2}|connection)$/);
      }
    for (const p of [alice, bob, carol]) p.client.close();
  });

  test("database errors are counted by SQLSTATE class; what a transaction's own code throws is not", async () => {
    const before = (await get("/metrics")).body;
    await expect(r.relay.db.query("SELECT 1/0")).rejects.toMatchObject({ code: "22012" });
    await expect(
      r.relay.db.transaction(async () => {
        throw new Error("a refusal of the store's own");
      }),
    ).rejects.toThrow("refusal");
    await expect(r.relay.db.transaction((tx) => tx.query("SELECT 1/0"))).rejects.toMatchObject({ code: "22012" });
    const after = (await get("/metrics")).body;
    const d = (cls: string) =>
      value(after, "smsg_relay_database_errors_total", { class: cls }) -
      value(before, "smsg_relay_database_errors_total", { class: cls });
    expect(d("22")).toBe(2);
    expect(d("connection")).toBe(0);
  });

  test("parseHttpAddress: loopback unless a host is given; bad input is one sentence", () => {
    expect(parseHttpAddress("7448")).toEqual({ host: "127.0.0.1", port: 7448 });
    expect(parseHttpAddress("0.0.0.0:9100")).toEqual({ host: "0.0.0.0", port: 9100 });
    expect(parseHttpAddress("[::1]:7448")).toEqual({ host: "::1", port: 7448 });
    for (const bad of ["", "host:", "127.0.0.1:99999", "a:b:c", "127.0.0.1:-1"])
      expect(() => parseHttpAddress(bad)).toThrow(/--http must be HOST:PORT or PORT/);
    // From the command line: one sentence, and no data folder made for a relay that never started.
    const data = join(mkdtempSync(join(tmpdir(), "smsg-http-bad-")), "relay");
    const r = spawnSync(process.execPath, [CLI, "relay", "serve", "--http", "7448x", "--data", data, "--port", "0"], {
      encoding: "utf8",
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toBe('smsg: --http must be HOST:PORT or PORT with a port from 0 to 65535, not "7448x"\n');
    expect(existsSync(data)).toBe(false);
  });

  test("/readyz is 503 once the relay stops accepting (it stays up while the relay stops)", async () => {
    const other = await startRelay({ db: r.db });
    const ops = await startOpsHttp(other.relay, { host: "127.0.0.1", port: 0 }, createLogger("silent"));
    try {
      const url = `http://127.0.0.1:${ops.port}/readyz`;
      expect((await fetch(url)).status).toBe(200);
      await other.stop();
      const res = await fetch(url);
      expect(res.status).toBe(503);
      expect(await res.text()).toBe("not accepting connections\n");
    } finally {
      await stopOpsHttp(ops.server);
    }
  });
});
