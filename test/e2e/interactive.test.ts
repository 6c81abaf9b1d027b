/**
 * The interactive mode end to end, in a pipe (no terminal), with the built `smsg` and a relay
 * process: alice runs `smsg open bob` and types on stdin; typed lines are sent and acked
 * (`sent #N`), a message bob sends meanwhile appears live as `[HH:MM] Bob B. (@bob): text`, and
 * `/history`, `/members`, `/help`, `/quit` work; at end of input pending sends are acknowledged
 * before it exits; what a typed line's send learns on the way (a contact's new device) is told.
 * The session is steps that report separately (test/helpers/steps.ts).
 */
import { afterAll, beforeAll, expect } from "vitest";
import { scenario } from "../helpers/steps.js";
import { waitFor } from "../helpers/wait-for.js";
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
  const waitForOutput = (stream: "stdout" | "stderr", re: RegExp): Promise<RegExpExecArray> =>
    waitFor(() => re.exec(out[stream]), {
      what: `${String(re)} on ${stream}`,
      state: () => `stdout: ${out.stdout}\nstderr: ${out.stderr}`,
    });
  return { child, out, exited, waitFor: waitForOutput, type: (line: string) => child.stdin.write(`${line}\n`) };
}

scenario("smsg interactive mode (pipe)", (step) => {
  let a: ReturnType<typeof interactive>;
  beforeAll(() => world.startRelay());

  step("alice and bob join (bob with a display name)", async () => {
    await world.join("alice");
    await world.join("bob", ["--display-name", "Bob B."]);
  });

  step("open bob with no chat yet opens the direct chat; typed lines are sent and acked", async () => {
    a = interactive("alice", ["open", "bob"]);
    await a.waitFor("stderr", /connected as alice to 127\.0\.0\.1:\d+/);
    await a.waitFor("stderr", /chat \d+ with bob/);
    a.type("hello from the prompt");
    a.type("second line");
    await a.waitFor("stdout", /sent #\d+\nsent #\d+\n/);
  });

  step("a message bob sends meanwhile appears live, under his display name", async () => {
    expectOk(await smsg("bob", ["send", "alice", "hi alice, live?"]));
    await a.waitFor("stdout", /^\[\d\d:\d\d\] Bob B\. \(@bob\): hi alice, live\?$/m);
    expect(a.out.stdout).toMatch(/bob is now called Bob B\.\n/);
  });

  step("/history, /members, /help, an unknown command, /quit", async () => {
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
  });

  step("what alice typed reached bob, in order", async () => {
    expect(bodies(expectOk(await smsg("bob", ["history", "alice", "--json"])))).toEqual([
      "hello from the prompt",
      "second line",
      "hi alice, live?",
    ]);
  });

  step("end of input: pending sends are acknowledged before it exits, with --json lines", async () => {
    const piped = await smsg("alice", ["open", "bob", "--json"], "one\ntwo\n//slash\n");
    expect(piped.code).toBe(0);
    const sent = lines(piped).filter((l) => l["type"] === "sent");
    expect(sent).toHaveLength(3);
    const hb2 = expectOk(await smsg("bob", ["history", "alice", "--limit", "3"]));
    expect(hb2.stdout).toMatch(/: one\n.*: two\n.*: \/slash\n/);
  });

  step("a device bob added while alice was away is told when her typed line goes out", async () => {
    // Bob's second device, by passphrase log-in (README "A new machine"), while alice runs nothing,
    // so only her next send (DEVICE_LIST_STALE, SECURITY.md §17.5) can tell her.
    const env = { SMSG_ACCOUNT_PASSPHRASE: "bob's account passphrase: seven quite uncommon words here" };
    expectOk(await world.smsg("bob", ["passphrase", "set"], { env }));
    const link = String(lines(expectOk(await smsg("bob", ["whoami", "--offline", "--json"])))[0]!["relay_link"]);
    expectOk(await world.smsg("bob-laptop", ["login", link, "bob"], { env }));
    const r = await smsg("alice", ["open", "bob"], "to both of bob's devices\n");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^bob added a device \(device 2\)\nsent #\d+\n$/);
    expect(bodies(expectOk(await smsg("bob-laptop", ["history", "alice", "--json"])))).toEqual([
      "to both of bob's devices",
    ]);
  });

  step("a line with no chat open is refused (no chat given, pipe mode)", async () => {
    const noChat = await smsg("alice", [], "lost\n");
    expect(noChat.stderr).toMatch(/no chat is open/);
    expect(noChat.code).toBe(2);
  });
});
