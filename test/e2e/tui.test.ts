/**
 * The full-screen UI end to end, in a real terminal (tmux, test/e2e/tmux.ts), with the built
 * `smsg` and a relay process on loopback: alice runs `smsg open bob`; a message bob sends
 * appears in her pane; what she types + Enter arrives in bob's history; a message from carol is
 * counted in the list, Alt-A opens it and the answer reaches carol; resizing to a narrow
 * terminal shows one pane and back shows two; Ctrl-D leaves, restoring the terminal (alternate
 * screen off), with exit code 0. `--plain` on a terminal still gets line mode.
 */
import { afterAll, describe, expect, test } from "vitest";
import { CLI } from "../../bench/relay-process.js";
import { TmuxTerminal } from "./tmux.js";
import { bodies, createWorld, expectOk } from "./world.js";

const world = createWorld("tui");
const terminals: TmuxTerminal[] = [];
afterAll(async () => {
  for (const t of terminals) await t.kill();
  await world.close();
});

/** `smsg ARGS` as `user` in a fresh terminal. */
async function smsgIn(user: string, args: string[], cols = 100, rows = 30): Promise<TmuxTerminal> {
  const t = await TmuxTerminal.start(
    world.root,
    [process.execPath, CLI, ...args],
    { SMSG_HOME: world.home(user), SMSG_LOG_LEVEL: "silent" },
    cols,
    rows,
  );
  terminals.push(t);
  return t;
}

describe("smsg full-screen UI in a terminal", () => {
  test("receive, send, resize, quit restores the terminal and exits 0", async () => {
    await world.startRelay();
    await world.join("alice", ["--display-name", "Alice A."]);
    await world.join("bob", ["--display-name", "Bob B."]);
    await world.join("carol");
    expect((await world.smsg("bob", ["send", "alice", "first from bob"])).code).toBe(0); // warns: alice's key pinned now

    const t = await smsgIn("alice", ["open", "bob"]);
    await t.waitFor(/connected as @alice to 127\.0\.0\.1:\d+/);
    let screen = await t.waitFor(/Bob B\. \(@bob\): first from bob/);
    expect(screen).toMatch(/^ Chats +│ @bob/m);
    expect(await t.display("#{alternate_on}")).toBe("1");

    // A message bob sends now appears in alice's pane.
    expectOk(await world.smsg("bob", ["send", "alice", "live from bob"]));
    await t.waitFor(/Bob B\. \(@bob\): live from bob/);

    // What alice types + Enter is sent (✓ once the relay acknowledged it) and reaches bob.
    await t.type("typed in tmux 世界");
    await t.waitFor(/^> typed in tmux 世界/m);
    await t.press("Enter");
    await t.waitFor(/Alice A\. \(@alice\): typed in tmux 世界 ✓/);
    expect(bodies(expectOk(await world.smsg("bob", ["history", "alice", "--json"])))).toEqual([
      "first from bob",
      "live from bob",
      "typed in tmux 世界",
    ]);

    // A message in another chat: counted in the list; Alt-A opens it, and the answer reaches carol.
    expect((await world.smsg("carol", ["send", "alice", "carol here"])).code).toBe(0);
    await t.waitFor(/carol +1 │/);
    await t.press("M-a");
    await t.waitFor(/│ @carol/);
    await t.waitFor(/@carol: carol here/);
    await t.type("hi carol");
    await t.press("Enter");
    await t.waitFor(/@alice\): hi carol ✓/);
    expect(bodies(expectOk(await world.smsg("carol", ["history", "alice", "--json"])))).toEqual([
      "carol here",
      "hi carol",
    ]);
    // Up/Down + Enter go back to bob.
    await t.press("Down");
    await t.press("Enter");
    await t.waitFor(/│ @bob/);

    // Narrow: one pane (the open chat), then wide again: both panes.
    await t.resize(44, 14);
    screen = await t.waitFor(/^ @bob/m);
    expect(screen).not.toMatch(/│/);
    expect(screen).toMatch(/typed in tmux 世界/);
    for (const line of screen.split("\n")) expect(line.length).toBeLessThanOrEqual(44);
    await t.resize(100, 30);
    await t.waitFor(/^ Chats +│ @bob/m);

    // Ctrl-D on the empty input: leaves, the terminal is given back, exit code 0.
    await t.press("C-d");
    expect(await t.exitCode()).toBe(0);
    expect(await t.display("#{alternate_on}")).toBe("0");
    expect(await t.display("#{cursor_flag}")).toBe("1");
  });

  test("--plain keeps line mode on a terminal; Ctrl-C twice leaves the full-screen UI", async () => {
    const plain = await smsgIn("alice", ["open", "bob", "--plain"]);
    await plain.waitFor(/-- \/help lists the commands/);
    expect(await plain.display("#{alternate_on}")).toBe("0");
    await plain.type("/quit");
    await plain.press("Enter");
    expect(await plain.exitCode()).toBe(0);

    const t = await smsgIn("alice", []);
    await t.waitFor(/connected as @alice/);
    await t.press("C-c");
    await t.waitFor(/press Ctrl-C again to quit/);
    await t.press("C-c");
    expect(await t.exitCode()).toBe(0);
    expect(await t.display("#{alternate_on}")).toBe("0");
  });
});
