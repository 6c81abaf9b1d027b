/**
 * Every row of README.md's exit-code table, provoked for real with the built `smsg` and a relay
 * process, the mistakes people make: each failure must print one sentence (no stack trace) and
 * exit with the code the README gives for it. The expected codes are read from the README table
 * itself, by the words of its rows, so the table and the code cannot drift apart; the test ends
 * by checking that every row was exercised. Along the way: a closed stdout (`| head -1`) stops
 * every printing command quietly with 0, a relay answering with another key is a key mismatch
 * (never "unreachable", never retried), and the messages that used to mislead say what happened.
 */
import { cpSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { freePort } from "../../bench/relay-process.js";
import { openDatabase } from "../../client/store/sqlite.js";
import { packageRoot } from "../../src/paths.js";
import { forgeIdentityInRelay } from "./forge-identity.js";
import { type Result, createWorld, expectOk } from "./world.js";

const world = createWorld("exit-codes");
afterAll(() => world.close());

/** The rows of README.md's "Exit codes of `smsg`" table: code and meaning. */
function readmeTable(): { code: number; meaning: string }[] {
  const readme = readFileSync(join(packageRoot(), "README.md"), "utf8");
  const start = readme.search(/^## Exit codes/m);
  expect(start, 'README.md has no "Exit codes" section').toBeGreaterThanOrEqual(0);
  const end = readme.indexOf("\n## ", start + 1);
  return readme
    .slice(start, end === -1 ? undefined : end)
    .split("\n")
    .map((l) => /^\| (\d+) \| (.+) \|$/.exec(l))
    .filter((m) => m !== null)
    .map((m) => ({ code: Number(m[1]), meaning: m[2]! }));
}

const TABLE = readmeTable();
const exercised = new Set<number>();

/** The README's code for the one row whose meaning starts with `row`. */
function codeOf(row: string): number {
  const hits = TABLE.filter((r) => r.meaning.startsWith(row));
  expect(
    hits.map((h) => h.code),
    `README rows starting with "${row}"`,
  ).toHaveLength(1);
  return hits[0]!.code;
}

/**
 * Expects `r` to have exited with the README's code for `row`, its stderr to end in one
 * `smsg: …` sentence matching `sentence` (or, for a report such as `vectors verify`'s, a line
 * matching `sentence` itself), and no stack trace anywhere.
 */
function expectExit(r: Result, row: string, sentence?: RegExp, prefixed = true): void {
  const code = codeOf(row);
  const context = `exit ${r.code}, stderr: ${r.stderr}`;
  // Soft: one run reports every row that is wrong, not only the first.
  expect.soft(r.code, `${row}: ${context}`).toBe(code);
  expect.soft(r.stderr, context).not.toMatch(/^\s+at |Error: |node:internal/m);
  if (code !== 0) {
    const last = r.stderr.trimEnd().split("\n").at(-1) ?? "";
    if (prefixed) expect.soft(last, context).toMatch(/^smsg: \S/);
    if (sentence) expect.soft(last, context).toMatch(sentence);
  }
  exercised.add(code);
}

const smsg = (user: string, args: string[], env: Record<string, string> = {}) => world.smsg(user, args, { env });

/** Runs `smsg ARGS` as `user` with its stdout closed before it writes anything (`| head -0`). */
function withClosedStdout(user: string, args: string[]): Promise<Result> {
  const child = world.spawn(user, args); // killed by world.close() if it never ends
  child.stdout.destroy();
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.once("close", (code) => resolve({ code: code ?? -1, stdout: "", stderr })));
}

/** `link` with one character of its relay key changed. */
function withWrongRelayKey(link: string): string {
  return link.replace(/^(smsg:\/\/[^/]+\/)(.)/, (_, head: string, c: string) => head + (c === "A" ? "B" : "A"));
}

/** Resolves with `p`, or fails the test when it takes longer than `ms` (a command that retries forever). */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not end within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

describe("README's exit-code table, row by row, with the built smsg", () => {
  test("the table lists 0..21 once each", () => {
    expect(TABLE.map((r) => r.code)).toEqual([...Array(22).keys()]);
  });

  test("every documented failure exits with its code and one sentence", { timeout: 600_000 }, async () => {
    await world.startRelay();
    const relayArgs = ["--data", world.relayData];
    await world.join("alice");
    await world.join("bob");
    await world.join("xavier");
    expectOk(
      await smsg("carol", ["join", await world.invite(), "--name", "carol", "--passphrase"], {
        SMSG_PASSPHRASE: "carol's secret",
      }),
    );
    expectOk(await smsg("alice", ["chat", "open", "bob"]));
    expectOk(await smsg("alice", ["send", "bob", "hello bob"]));
    expectOk(await smsg("bob", ["history", "alice"]));

    // 0: success.
    expectExit(await smsg("alice", ["whoami", "--offline"]), "success");

    // 2: the command line was wrong, for client and relay commands alike.
    expectExit(
      await smsg("alice", ["relay", "invite", "--expires", "5x", ...relayArgs]),
      "the command line was wrong",
      /not a duration: "5x"/,
    );
    expectExit(
      await smsg("alice", ["relay", "serve", "--port", "99999", "--data", join(world.root, "unused")]),
      "the command line was wrong",
      /--port must be a whole number from 0 to 65535/,
    );
    const bogus = await smsg("alice", ["whoami", "--bogus-flag"]);
    expectExit(bogus, "the command line was wrong");
    expect
      .soft(bogus.stderr)
      .toBe("smsg: unknown option --bogus-flag for whoami (smsg whoami --help lists its options)\n"); // once, not also as bogusFlag
    expectExit(
      await smsg("alice", ["sned", "bob", "hi"]),
      "the command line was wrong",
      /^smsg: unknown command "sned": did you mean send\? \(smsg --help lists the commands\)$/,
    );
    expectExit(
      await smsg("alice", ["send", "bob", "x".repeat(61_441)]),
      "the command line was wrong",
      /the message has 61441 bytes; one message holds at most 61440 bytes/,
    );

    // 1: a failure with no more specific code: the relay's port is taken.
    expectExit(
      await smsg("alice", ["relay", "serve", "--port", String(world.port), "--data", join(world.root, "second")]),
      "a failure with no more specific code",
      new RegExp(`cannot listen on 127\\.0\\.0\\.1:${world.port}: another program \\(another relay\\?\\) already uses`),
    );
    // Refused before its storage started: no embedded database, no relay key left in the new folder.
    expect(readdirSync(join(world.root, "second"))).toEqual([]);

    // 3: a vector file that does not match its inputs.
    const vectors = JSON.parse(readFileSync(join(packageRoot(), "test/vectors/padding.json"), "utf8")) as {
      cases: Record<string, unknown>[];
    };
    const tampered = vectors.cases.find((c) => typeof c["padded_length"] === "number")!;
    tampered["padded_length"] = (tampered["padded_length"] as number) + 1;
    const tamperedFile = join(world.root, "padding.json");
    writeFileSync(tamperedFile, JSON.stringify(vectors));
    const verified3 = await smsg("alice", ["vectors", "verify", tamperedFile]);
    expect
      .soft(verified3.stderr)
      .toMatch(/^MISMATCH .*padding\.json: \$\.cases\[\d+\]\.padded_length: file has \d+, recomputed \d+$/m);
    expectExit(verified3, "a verification found a mismatch", /^MISMATCH /, false);

    // 4, 5: no profile; a profile already there.
    expectExit(await smsg("nobody", ["whoami"]), "no profile", /no profile in .*join a relay first/);
    expectExit(await smsg("alice", ["join", await world.invite(), "--name", "alice2"]), "a profile already exists");

    // 6, 7: wrong passphrase; no passphrase (no terminal); export names its own passphrase.
    expectExit(await smsg("carol", ["whoami", "--offline"], { SMSG_PASSPHRASE: "not it" }), "wrong passphrase");
    expectExit(
      await smsg("carol", ["whoami", "--offline"]),
      "a passphrase is required",
      /SMSG_PASSPHRASE or --passphrase-file/,
    );
    expectExit(
      await smsg("alice", ["export", join(world.root, "alice.smsgexp")]),
      "a passphrase is required",
      /the export file's passphrase is needed: .*SMSG_EXPORT_PASSPHRASE/,
    );
    expectExit(
      await smsg("dora", ["join", await world.invite(), "--name", "dora", "--passphrase"]),
      "a passphrase is required",
      /--passphrase needs SMSG_PASSPHRASE, --passphrase-file or a terminal/,
    );

    // 8: nothing listens at the invite's address.
    const closedPort = await freePort();
    const link = await world.invite();
    expectExit(
      await smsg("dora", ["join", link.replace(/:\d+\//, `:${closedPort}/`), "--name", "dora"]),
      "the relay is unreachable",
      new RegExp(`cannot reach the relay at 127\\.0\\.0\\.1:${closedPort} \\(ECONNREFUSED\\)`),
    );

    // 21: one changed character of the relay key in an invite: a key mismatch, not "unreachable".
    expectExit(
      await smsg("dora", ["join", withWrongRelayKey(link), "--name", "dora"]),
      "the relay's address answered, but not with the relay key",
      /does not hold the key in this invite link \(fingerprint [0-9a-f ]+\): the link was mistyped or altered, or someone is impersonating the relay/,
    );

    // 11, 12: a bad invite code; a taken username (two failed joins: under the relay's backoff of 3).
    expectExit(
      await smsg("dora", ["join", link.replace(/\/[^/]+$/, `/${"A".repeat(43)}`), "--name", "dora"]),
      "invite invalid",
    );
    expectExit(await smsg("dora", ["join", link, "--name", "alice"]), "username taken", /alice is taken/);

    // 13: an unknown user (client and operator command); a disabled one says so.
    expectExit(await smsg("alice", ["send", "nobody1", "hi"]), "user unknown", /no user named nobody1/);
    expectExit(await smsg("alice", ["relay", "disable", "nobody1", ...relayArgs]), "user unknown", /nobody1/);
    expectOk(await smsg("alice", ["chat", "open", "xavier"]));
    expectOk(await smsg("alice", ["relay", "disable", "xavier", ...relayArgs]));
    expectExit(
      await smsg("alice", ["send", "xavier", "are you there?"]),
      "user unknown",
      /xavier's account was disabled by the relay's operator/,
    );

    // 10: the disabled account itself.
    expectExit(await smsg("xavier", ["whoami"]), "account disabled");

    // 14, 15: no such chat; a closed chat.
    expectExit(await smsg("alice", ["history", "no-such-chat"]), "chat not found");
    expectOk(await smsg("alice", ["chat", "open", "carol"]));
    expectOk(await smsg("alice", ["chat", "close", "carol"]));
    expectExit(await smsg("alice", ["send", "carol", "hi"]), "chat closed", /chat \d+ is closed/);

    // 16: a member who is not an admin removes someone.
    expectOk(await smsg("alice", ["chat", "create", "team", "--members", "bob,carol"]));
    expectOk(await smsg("bob", ["history", "team"]));
    expectExit(
      await smsg("bob", ["chat", "remove", "team", "carol"]),
      "not a member, or not an admin",
      /you are not an admin of chat \d+/,
    );

    // Leaving is for groups: a direct chat is not left (it would be gone for good), it is closed.
    expectExit(
      await smsg("alice", ["chat", "leave", "bob"]),
      "the command line was wrong",
      /chat \d+ is a direct chat: only a group can be left \(smsg chat close bob closes it\)/,
    );
    expectOk(await smsg("alice", ["send", "bob", "still here"]));

    // 19, 20: a profile from a newer version; a damaged profile database.
    const newer = join(world.root, "alice-newer");
    cpSync(world.home("alice"), newer, { recursive: true });
    const db = openDatabase(join(newer, "store.sqlite"), { fileMustExist: true });
    db.pragma("user_version = 999");
    db.close();
    expectExit(
      await smsg("alice", ["whoami", "--offline"], { SMSG_HOME: newer }),
      "not supported by this version",
      /written by a newer SocketMessenger/,
    );
    const damaged = join(world.root, "alice-damaged");
    cpSync(world.home("alice"), damaged, { recursive: true });
    for (const f of ["store.sqlite-wal", "store.sqlite-shm"]) rmSync(join(damaged, f), { force: true });
    writeFileSync(join(damaged, "store.sqlite"), Buffer.alloc(8192, 0x5a));
    expectExit(
      await smsg("alice", ["whoami", "--offline"], { SMSG_HOME: damaged }),
      "the disk under the profile failed",
      /store\.sqlite\) is damaged/,
    );

    // A verified contact is not asked to confirm again, by verify nor by /verify.
    expectOk(await smsg("alice", ["verify", "bob", "--confirm"]));
    const verified = expectOk(await smsg("alice", ["verify", "bob"]));
    expect.soft(verified.stdout).toMatch(/Safety number with bob \(verified\)/);
    expect.soft(verified.stdout).not.toMatch(/--confirm/);
    const slash = await world.smsg("alice", ["open", "bob"], { input: "/verify\n" });
    expect(slash.code, slash.stderr).toBe(0);
    expect.soft(slash.stdout).toMatch(/Safety number with bob \(verified\)/);
    expect.soft(slash.stdout).not.toMatch(/--confirm/);

    // A closed stdout stops every printing command quietly, with 0.
    for (const [user, args] of [
      ["bob", ["history", "alice"]],
      ["alice", ["verify", "bob"]],
      ["alice", ["whoami"]],
      ["alice", ["chat", "list"]],
      ["alice", ["chat", "members", "team"]],
      ["alice", ["listen", "--json"]], // its first line, "listening", meets the closed pipe
      ["alice", ["vectors", "verify"]],
      ["alice", ["relay", "accounts", ...relayArgs]],
      ["alice", ["relay", "invite", ...relayArgs]],
      ["alice", ["--help"]],
    ] as const) {
      const r = await within(withClosedStdout(user, [...args]), 60_000, args.join(" "));
      expect.soft({ args, code: r.code, stderr: r.stderr }).toEqual({ args, code: 0, stderr: "" });
    }

    // --- the relay restarts with another key: whoever answers does not hold the pinned key -----
    await world.stopRelay();
    expectOk(await smsg("alice", ["chat", "list", "--offline"]));
    const keyFile = join(world.relayData, "relay.key");
    renameSync(keyFile, `${keyFile}.saved`);
    await world.startRelay();
    const mismatch =
      /does not hold the key this profile pinned \(fingerprint [0-9a-f ]+\): someone may be impersonating it, or its operator changed its key/;
    expectExit(await smsg("alice", ["whoami"]), "the relay's address answered, but not with the relay key", mismatch);
    const sent = await smsg("alice", ["send", "bob", "not to an impostor"]);
    expectExit(sent, "the relay's address answered, but not with the relay key", mismatch);
    expect(expectOk(await smsg("alice", ["history", "bob", "--offline"])).stdout).not.toMatch(/impostor/);
    // listen and the interactive mode stop instead of retrying every 30 s.
    expectExit(
      await within(smsg("alice", ["listen"]), 30_000, "listen"),
      "the relay's address answered, but not with the relay key",
      mismatch,
    );
    const open = world.spawn("alice", ["open", "bob"], { keepStdinOpen: true });
    const opened = await within(
      new Promise<Result>((resolve) => {
        let stderr = "";
        open.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        open.once("close", (code) => resolve({ code: code ?? -1, stdout: "", stderr }));
      }),
      30_000,
      "smsg open bob",
    );
    expectExit(opened, "the relay's address answered, but not with the relay key", mismatch);

    // --- the right key again, with bob's identity forged in the relay's database ---------------
    await world.stopRelay();
    renameSync(`${keyFile}.saved`, keyFile);
    await forgeIdentityInRelay(world.relayData, "bob");
    await world.startRelay();
    // 17: alice is shown another key for bob.
    expectExit(await smsg("alice", ["send", "bob", "still you?"]), "the contact's identity key changed");
    // 9: the real bob's keys are no longer the account's.
    expectExit(await smsg("bob", ["whoami"]), "login refused");
    // 18: and after a few refusals from this address, the relay asks to slow down.
    let limited: Result | undefined;
    for (let i = 0; i < 10 && !limited; i++) {
      const r = await smsg("bob", ["whoami"]);
      if (r.code === codeOf("rate limited")) limited = r;
      else expectExit(r, "login refused");
    }
    expect(limited, "no RATE_LIMITED after 10 refused logins").toBeDefined();
    expectExit(limited!, "rate limited");

    expect([...exercised].sort((a, b) => a - b)).toEqual(TABLE.map((r) => r.code));
  });
});
