/**
 * README.md "JSON output (version 1)" cannot drift from the code: its first table lists
 * exactly the types client/commands/output.ts can print (JSON_EVENT_TYPES, which printJson's
 * `type` parameter is typed by, so a command cannot print a type missing there), its second
 * table exactly the types the relay's operator commands print, and the engine events' fields
 * (eventJson) are the ones the table names.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { deviceJson } from "../../client/commands/device-list.js";
import { JSON_EVENT_TYPES, eventJson, statusJson } from "../../client/commands/output.js";
import type { EngineEvent } from "../../client/engine/events.js";
import { packageRoot } from "../../src/paths.js";

const root = packageRoot();
const readme = readFileSync(join(root, "README.md"), "utf8");

interface Row {
  readonly type: string;
  readonly by: string;
  readonly fields: string;
}

/** The rows of the markdown tables in README's "JSON output" section, one array per table. */
function jsonTables(): Row[][] {
  const start = readme.indexOf("## JSON output (version 1)");
  expect(start, 'README.md has no section "JSON output (version 1)"').toBeGreaterThanOrEqual(0);
  const end = readme.indexOf("\n## ", start + 1);
  const section = readme.slice(start, end === -1 ? undefined : end);
  const tables: Row[][] = [];
  let current: Row[] | undefined;
  for (const line of section.split("\n")) {
    if (!line.startsWith("|")) {
      current = undefined;
      continue;
    }
    const cells = line
      .split("|")
      .slice(1, -1)
      .map((c) => c.trim());
    if (cells[0] === "type" || /^-+$/.test(cells[0] ?? "")) {
      if (cells[0] === "type") tables.push((current = []));
      continue;
    }
    const m = /^`([a-z_]+)`$/.exec(cells[0] ?? "");
    expect(m, `not a \`type\` cell: ${line}`).not.toBeNull();
    current?.push({ type: m![1]!, by: cells[1] ?? "", fields: cells[2] ?? "" });
  }
  return tables;
}

/** The backquoted names in a fields cell. */
function fieldNames(cell: string): Set<string> {
  return new Set([...cell.matchAll(/`([a-z_A-Z]+)`/g)].map((m) => m[1]!));
}

const sorted = (xs: Iterable<string>) => [...new Set(xs)].sort();

describe("README.md JSON output (version 1)", () => {
  test("states the version rule", () => {
    expect(readme).toMatch(/`v` is the schema\s+version and is 1/);
    expect(readme).toMatch(/new fields[^.]*may be added, but an existing\s+field never changes its meaning/);
  });

  test("the client table lists exactly the types the output module can print", () => {
    const [client] = jsonTables();
    expect(sorted(client!.map((r) => r.type))).toEqual(sorted(JSON_EVENT_TYPES));
  });

  test("the relay table lists exactly the types the operator commands print", () => {
    const [, relay] = jsonTables();
    const src = readFileSync(join(root, "relay", "commands", "relay-command.ts"), "utf8");
    const printed = [
      // print(argv.json, { type: "…" }, …), the object on the call's line or the next, and JSON.stringify({ v: 1, type: "…" }).
      ...src.matchAll(/(?:print\(\s*argv\.json,\s*\{ type|JSON\.stringify\(\{ v: 1, type): "([a-z_]+)"/g),
    ].map((m) => m[1]!);
    expect(printed.length).toBeGreaterThan(0);
    expect(sorted(relay!.map((r) => r.type))).toEqual(sorted(printed));
  });

  test("engine events and listener statuses print the fields the table names", () => {
    const [client] = jsonTables();
    const samples: EngineEvent[] = [
      {
        type: "message",
        chat: 1,
        id: 1,
        relayMsg: 1,
        from: "a",
        ts: 0,
        senderTs: 0,
        seq: 1,
        seqStatus: "ok",
        body: "x",
        keyChanged: false,
      },
      { type: "key_change", user: "a", chat: null },
      { type: "gap", chat: 1, from: "a", missingFrom: 1, missingTo: 2 },
      { type: "undecryptable", chat: 1, id: 1, relayMsg: 1, from: "a", ts: 0, reason: "r" },
      { type: "profile", user: "a", displayName: null },
      { type: "chat_event", chat: 1, event: "added", user: "b", by: "a" },
      {
        type: "group_state",
        chat: 1,
        epoch: 2,
        by: "a",
        name: "g",
        members: ["a", "b"],
        admins: ["a"],
        added: ["b"],
        removed: [],
        left: [],
        promoted: [],
        renamed: false,
        bootstrap: false,
      },
      { type: "departed", chat: 1, name: "g", how: "removed", by: "a" },
      {
        type: "device_list",
        user: "a",
        own: false,
        outcome: "added",
        devices: [2],
        names: [null],
        version: 2,
        acceptedVersion: null,
      },
    ];
    const statuses = [
      statusJson({ state: "listening" }),
      statusJson({ state: "disconnected", reason: "r", retryInMs: 1 }),
    ];
    // `device list`'s lines come from one function too (client/commands/device-list.ts).
    const device = deviceJson({
      id: 2,
      name: null,
      current: false,
      addedAt: 1,
      lastSeen: null,
      fingerprint: "00000000 00000000 00000000 00000000 00000000",
    });
    statuses.push(["device", device]);
    for (const [type, fields] of [...samples.map((e) => [e.type, eventJson(e)] as const), ...statuses]) {
      const rows = client!.filter((r) => r.type === type);
      // Some types have a row per command; the engine prints the always-present fields of one of them.
      const keys = sorted(Object.keys(fields));
      expect(
        rows.map((r) => sorted(baseFields(r.fields))),
        `README's rows for ${type} do not name exactly ${keys.join(", ")}`,
      ).toContainEqual(keys);
    }
  });
});

/** The fields a row names before its first ";" (what later commands add), without the values in parentheses. */
function baseFields(cell: string): Set<string> {
  return fieldNames(cell.split(";")[0]!.replace(/\([^)]*\)/g, ""));
}
