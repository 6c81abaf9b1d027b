/**
 * The interactive mode end to end, in a pipe (no terminal), with the built `smsg` and a relay
 * process: alice runs `smsg open bob` and types on stdin; typed lines are sent and acked
 * (`sent #N`), a message bob sends meanwhile appears live as `[HH:MM] Bob B. (@bob): text`, and
 * `/history`, `/members`, `/help`, `/quit` work; at end of input pending sends are acknowledged
 * before it exits.
 */
import { afterAll, describe, expect, test } from "vitest";
import { bodies, createWorld, expectOk, lines } from "./world.js";

const world = createWorld("interactive");
afterAll(() => world.close());
const smsg = (user: string, args: string[], input = "") => world.smsg(user, args, { input });

/** A running `smsg …` whose output is collected, with a way to wait for a line. */
function interactive(user: string, args: string[]) {
  const child = world.spawn(user, args, { keepStdinOpen: true });
  const out = { stdout: "", stderr: "" };
  child.stdout.on("data", (d: Buffer) => (out.stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (out.stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const waitFor = async (stream: "stdout" | "stderr", re: RegExp, ms = 10_000): Promise<RegExpExecArray> => {
    const end = Date.now() + ms;
    for (;;) {
      const m = re.exec(out[stream]);
      if (m) return m;
      if (Date.now() > end)
        throw new Error(`no ${String(re)} on ${stream}; stdout: ${out.stdout} stderr: ${out.stderr}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  return { child, out, exited, waitFor, type: (line: string) => child.stdin.write(`${line}\n`) };
}

describe("smsg interactive mode (pipe)", () => {
  test("typed lines are sent and acked, incoming messages appear live, slash-commands, /quit", async () => {
    await world.startRelay();
    await world.join("alice");
    await world.join("bob", ["--display-name", "Bob B."]);

    // No chat yet: `open bob` opens the direct chat with bob on the relay.
    const a = interactive("alice", ["open", "bob"]);
    await a.waitFor("stderr", /connected as alice to 127\.0\.0\.1:\d+/);
    await a.waitFor("stderr", /chat \d+ with bob/);
    a.type("hello from the prompt");
    a.type("second line");
    await a.waitFor("stdout", /sent #\d+\nsent #\d+\n/);

    expectOk(await smsg("bob", ["send", "alice", "hi alice, live?"]));
    await a.waitFor("stdout", /^\[\d\d:\d\d\] Bob B\. \(@bob\): hi alice, live\?$/m);
    expect(a.out.stdout).toMatch(/bob is now called Bob B\.\n/);

    a.type("/history 10");
    await a.waitFor("stdout", /#\d+ .* \(@bob\): hi alice, live\?\n/);
    expect(a.out.stdout).toMatch(
      /#\d+ \d{4}-\d\d-\d\d \d\d:\d\d @alice: hello from the prompt\n#\d+ .* @alice: second line\n#\d+ .* \(@bob\): hi alice, live\?\n/,
    );
    a.type("/members");
    await a.waitFor("stdout", /@alice \(you\)\n/);
    a.type("/help");
    await a.waitFor("stdout", /\/quit .*\n/);
    a.type("/nonsense");
    await a.waitFor("stderr", /unknown command \/nonsense/);
    a.type("/quit");
    expect(await a.exited).toBe(0);

    // What alice typed reached bob, in order.
    expect(bodies(expectOk(await smsg("bob", ["history", "alice", "--json"])))).toEqual([
      "hello from the prompt",
      "second line",
      "hi alice, live?",
    ]);

    // End of input: pending sends are acknowledged before it exits, with --json lines.
    const piped = await smsg("alice", ["open", "bob", "--json"], "one\ntwo\n//slash\n");
    expect(piped.code).toBe(0);
    const sent = lines(piped).filter((l) => l["type"] === "sent");
    expect(sent).toHaveLength(3);
    const hb2 = expectOk(await smsg("bob", ["history", "alice", "--limit", "3"]));
    expect(hb2.stdout).toMatch(/: one\n.*: two\n.*: \/slash\n/);

    // A line with no chat open is refused (no chat given, pipe mode).
    const noChat = await smsg("alice", [], "lost\n");
    expect(noChat.stderr).toMatch(/no chat is open/);
    expect(noChat.code).toBe(2);
  });
});
