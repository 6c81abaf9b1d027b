/**
 * 1:1 chat end to end with the built `smsg` binary (dist/bin/smsg.js; vitest's global setup
 * builds it) and a real relay process (`smsg relay serve` on its embedded PostgreSQL), the way people use it:
 * alice and bob join with invites printed by `smsg relay invite`; alice opens the chat while bob
 * is offline and sends (X3DH first message); bob's `history` shows it (one-shot sync); bob
 * replies through stdin; `listen --json` streams a message; a wrong passphrase fails with its
 * exit code and loses nothing; the relay is killed mid-conversation and a message sent
 * meanwhile is delivered exactly once after the restart; a key change forged in the relay's
 * database blocks sending with KEY_CHANGED until `verify --confirm`. Closing the chat blocks
 * sending on both sides until either reopens it. Each phase is a step of its own
 * (test/helpers/steps.ts): a failure names its phase, and the phases after it show as not run.
 */
import { afterAll, beforeAll, expect } from "vitest";
import { EXIT } from "../../src/exit-codes.js";
import { scenario } from "../helpers/steps.js";
import { startJsonListener } from "./json-listener.js";
import { forgeIdentityInRelay } from "./forge-identity.js";
import { type RunOptions, bodies, createWorld, expectOk, lines } from "./world.js";

const world = createWorld("one-to-one");
afterAll(() => world.close());
const BOB_PASSPHRASE = "correct horse battery staple";

/** Runs `smsg ARGS` as `user`; bob's profile is passphrase-protected, so his runs get it unless `opts.env` says otherwise. */
function smsg(user: string, args: string[], opts: RunOptions = {}) {
  const env =
    user === "bob" && !opts.env?.["SMSG_PASSPHRASE"] ? { ...opts.env, SMSG_PASSPHRASE: BOB_PASSPHRASE } : opts.env;
  return world.smsg(user, args, { ...opts, ...(env ? { env } : {}) });
}

scenario("smsg, 1:1, end to end", (step) => {
  let port = 0;
  let chatId = 0;
  beforeAll(async () => {
    await world.startRelay();
    port = world.port;
  });

  step("join: alice with --json, bob with a passphrase; a second join on a profile is refused", async () => {
    const joinedA = lines(
      expectOk(
        await smsg("alice", [
          "join",
          await world.invite(),
          "--name",
          "alice",
          "--display-name",
          "Alice Liddell",
          "--json",
        ]),
      ),
    );
    expect(joinedA[0]).toMatchObject({ v: 1, type: "joined", username: "alice", relay: `127.0.0.1:${port}` });
    expectOk(await smsg("bob", ["join", await world.invite(), "--name", "bob", "--passphrase"]));
    const again = await smsg("alice", ["join", await world.invite(), "--name", "alice2"]);
    expect(again.code).toBe(EXIT.profileExists);
  });

  step("alice opens the chat while bob is offline and sends (X3DH first message)", async () => {
    const opened = lines(expectOk(await smsg("alice", ["chat", "open", "bob", "--json"])))[0]!;
    expect(opened).toMatchObject({ type: "chat", kind: "direct", peer: "bob", key_pinned_now: true });
    chatId = opened["chat"] as number;
    const sent = lines(expectOk(await smsg("alice", ["send", "bob", "hello bob", "--json"])))[0]!;
    expect(sent).toMatchObject({ type: "sent", chat: chatId, seq: 1, duplicate: false });
  });

  step("bob's history fetches it first", async () => {
    const hb = expectOk(await smsg("bob", ["history", "alice", "--json"]));
    expect(lines(hb)).toEqual([
      expect.objectContaining({
        v: 1,
        type: "message",
        chat: chatId,
        from: "alice",
        direction: "in",
        status: "delivered",
        seq: 1,
        body: "hello bob",
        key_changed: false,
      }),
      { v: 1, type: "history_end", chat: chatId, more: false },
    ]);
    expect(expectOk(await smsg("bob", ["history", "alice"])).stdout).toMatch(
      /^#\d+ \d{4}-\d\d-\d\d \d\d:\d\d Alice Liddell \(@alice\): hello bob\n$/,
    );
  });

  step("bob replies through stdin; alice sees both, in order", async () => {
    expectOk(await smsg("bob", ["send", "alice"], { input: "hi alice\nhow are you?\n" }));
    expect(bodies(expectOk(await smsg("alice", ["history", String(chatId), "--json"])))).toEqual([
      "hello bob",
      "hi alice\nhow are you?",
    ]);
    const list = lines(expectOk(await smsg("bob", ["chat", "list", "--json"])));
    expect(list).toEqual([
      expect.objectContaining({ type: "chat", chat: chatId, peer: "alice", closed: false, unread: 0 }),
    ]);
  });

  step("listen --json: a bot reads a JSON line per message; SIGTERM stops it with exit 0", async () => {
    const listener = await startJsonListener(world, "bob", { env: { SMSG_PASSPHRASE: BOB_PASSPHRASE } });
    expectOk(await smsg("alice", ["send", "bob", "ping"]));
    const ev = await listener.line((e) => e["type"] === "message", 'the message line of "ping"');
    expect(ev).toMatchObject({
      v: 1,
      type: "message",
      chat: chatId,
      from: "alice",
      body: "ping",
      seq: 2,
      seq_status: "ok",
      key_changed: false,
    });
    listener.child.kill("SIGTERM");
    expect((await listener.exited).code, listener.describeState()).toBe(0);
  });

  step("a wrong passphrase: its exit code, one sentence, nothing lost", async () => {
    const wrong = await smsg("bob", ["history", "alice"], { env: { SMSG_PASSPHRASE: "wrong" } });
    expect(wrong.code).toBe(EXIT.wrongPassphrase);
    expect(wrong.stderr).toBe(
      "smsg: wrong passphrase for this profile (or the file is damaged); nothing was changed\n",
    );
    expect(wrong.stdout).toBe("");
    expect(bodies(expectOk(await smsg("bob", ["history", "alice", "--json"])))).toEqual([
      "hello bob",
      "hi alice\nhow are you?",
      "ping",
    ]);
  });

  step("the relay dies: a message sent meanwhile is queued, and delivered once after the restart", async () => {
    await world.stopRelay("SIGKILL");
    const down = await smsg("alice", ["send", "bob", "sent while the relay was down"]);
    expect(down.code).toBe(EXIT.relayUnreachable);
    expect(down.stderr).toMatch(/^smsg: cannot reach the relay at 127\.0\.0\.1:\d+: message #\d+ is queued/);
    const offline = await smsg("bob", ["history", "alice"]);
    expect(offline.code).toBe(EXIT.relayUnreachable);
    expect(offline.stderr).toMatch(/^smsg: cannot reach the relay at 127\.0\.0\.1:\d+ \(ECONNREFUSED\)\n$/);

    // After the restart, alice's next command sends the outbox; bob gets it exactly once.
    await world.startRelay();
    expectOk(await smsg("alice", ["whoami"]));
    expectOk(await smsg("alice", ["whoami"])); // the outbox is empty now: nothing is sent twice
    expect(bodies(expectOk(await smsg("bob", ["history", "alice", "--json"])))).toEqual([
      "hello bob",
      "hi alice\nhow are you?",
      "ping",
      "sent while the relay was down",
    ]);
    const mine = lines(expectOk(await smsg("alice", ["history", "bob", "--json", "--offline"]))).filter(
      (l) => l["type"] === "message",
    );
    expect(mine.at(-1)).toMatchObject({ body: "sent while the relay was down", status: "sent", direction: "out" });
  });

  step("close and reopen: a closed chat refuses sends on both sides until either reopens it", async () => {
    expect(lines(expectOk(await smsg("bob", ["chat", "close", "alice", "--json"])))[0]).toMatchObject({
      type: "chat_closed",
      chat: chatId,
      closed: true,
    });
    const refused = await smsg("alice", ["send", "bob", "is it closed?"]);
    expect(refused.code).toBe(EXIT.chatClosed);
    expect(refused.stderr).toMatch(/^smsg: chat \d+ is closed/);
    // alice did not know yet: her message was written, refused by the relay, and kept as failed.
    const failedRow = lines(expectOk(await smsg("alice", ["history", "bob", "--json", "--offline"])))
      .filter((l) => l["type"] === "message")
      .at(-1);
    expect(failedRow).toMatchObject({ body: "is it closed?", status: "failed", direction: "out" });
    expect((await smsg("bob", ["send", "alice", "me neither"])).code).toBe(EXIT.chatClosed);
    expect(lines(expectOk(await smsg("alice", ["chat", "list", "--json"])))).toEqual([
      expect.objectContaining({ chat: chatId, closed: true }),
    ]);
    expect(lines(expectOk(await smsg("alice", ["chat", "reopen", "bob", "--json"])))[0]).toMatchObject({
      type: "chat_reopened",
      chat: chatId,
      closed: false,
    });
    expectOk(await smsg("bob", ["send", "alice", "open again"]));
    expect(bodies(expectOk(await smsg("alice", ["history", "bob", "--json"]))).at(-1)).toBe("open again");
  });

  step("a key change forged in the relay's database blocks sending until verify --confirm", async () => {
    await world.stopRelay();
    await forgeIdentityInRelay(world.relayData, "bob");
    await world.startRelay();

    const blocked = await smsg("alice", ["send", "bob", "are you still bob?"]);
    expect(blocked.code).toBe(EXIT.keyChanged);
    expect(blocked.stderr).toMatch(/^smsg: bob's identity key changed: nothing is sent to them until/);
    expect((await smsg("alice", ["send", "bob", "again?"])).code).toBe(EXIT.keyChanged);
    const shown = expectOk(await smsg("alice", ["verify", "bob"]));
    expect(shown.stdout).toMatch(/identity key CHANGED/);
    expect(shown.stdout).toMatch(/(\d{5} ){3}\d{5}\n(\d{5} ){3}\d{5}\n(\d{5} ){3}\d{5}\n/);
    const confirmed = lines(expectOk(await smsg("alice", ["verify", "bob", "--confirm", "--json"])))[0]!;
    expect(confirmed).toMatchObject({
      type: "safety_number",
      user: "bob",
      key_changed: false,
      verified: true,
      action: "confirmed",
    });
    // The relay still serves the list bob's real account key signed: under the key alice now
    // pins it does not verify, and she is told so (SECURITY.md §17.4); her text goes to device 1.
    const toNewKey = await smsg("alice", ["send", "bob", "to the new key", "--json"]);
    expect(toNewKey.code).toBe(0);
    expect(toNewKey.stderr).toBe(
      "smsg: ⚠ a device list for bob that bob's account did not sign was refused; messages go only to bob's verified devices\n",
    );
    expect(lines(toNewKey)[0]).toMatchObject({ type: "sent", chat: chatId });
    // Nothing alice wrote before the change was lost or doubled.
    const after = bodies(expectOk(await smsg("alice", ["history", "bob", "--json", "--offline"])));
    expect(after).toEqual([
      "hello bob",
      "hi alice\nhow are you?",
      "ping",
      "sent while the relay was down",
      "is it closed?",
      "open again",
      "to the new key",
    ]);

    // The real bob's keys are no longer the account's: his login is refused, with its own code.
    expect((await smsg("bob", ["history", "alice"])).code).toBe(EXIT.loginFailed);
  });
});
