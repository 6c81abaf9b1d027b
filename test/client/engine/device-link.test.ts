/**
 * Linking a device (SECURITY.md §17.6) with both sides' engines (device-link-existing.ts on E,
 * device-link-new.ts on N) against the in-process relay's link mailbox: the link E prints is
 * what N takes, both compute the same code, and only after both users said yes is N in the
 * account's list, registered (it logs in as its own device), with the contacts and chats of
 * the snapshot. A no on either side ends the link with nothing added and nothing stored; a
 * link used once is refused the second time.
 */
import { existsSync, readdirSync } from "node:fs";
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { openDirectChat } from "../../../client/engine/chats.js";
import { LinkDeclinedError, linkNewDevice } from "../../../client/engine/device-link-existing.js";
import { AddDeclinedError, addThisDevice } from "../../../client/engine/device-link-new.js";
import { LinkEndedError } from "../../../client/engine/link-channel.js";
import { type Account, closeAccount, connectAccount, openLocalAccount } from "../../../client/engine/open-account.js";
import { refreshOwnDevices } from "../../../client/engine/own-devices.js";
import { exitCodeOf } from "../../../client/commands/exit.js";
import { EXIT } from "../../../src/exit-codes.js";
import { systemRng } from "../../../src/system-rng.js";
import { DEFAULT_LIMITS } from "../../../relay/config.js";
import { type TestRelay, startRelay } from "../../relay/harness.js";
import { type EngineUser, emptyRelay, engineUser, profileDir } from "./helpers.js";

let tr: TestRelay;
let alice: EngineUser;
let bob: EngineUser;
const opened: Account[] = [];
/** How far the relay's clock is ahead of Date.now (see `link`). */
let offset = 0;

beforeAll(async () => {
  // A 1 s heartbeat (heartbeatMs / 3), so the moved clock takes effect within a second.
  tr = await startRelay({ now: () => Date.now() + offset, limits: { heartbeatMs: 3_000 } });
});
afterAll(async () => {
  await tr.stop();
});
beforeEach(async () => {
  alice?.close();
  bob?.close();
  for (const a of opened.splice(0)) closeAccount(a);
  await emptyRelay(tr);
  alice = await engineUser(tr, "alice");
  bob = await engineUser(tr, "bob");
});

/** A promise and its resolver: the link E prints, handed to N when E has it. */
function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Runs E (alice's device 1) and N side by side; each side answers as told. */
async function link(answers: { existing: boolean; added: boolean }, dir = profileDir("alice-laptop")) {
  const a = await alice.online();
  const printed = deferred<string>();
  const codes: {
    existing?: string;
    added?: string;
    fingerprintOnE?: string;
    fingerprintOnN?: string;
    name?: string | null;
  } = {};
  try {
    const existing = linkNewDevice(alice.acct, a.relay, {
      onLink: (l) => printed.resolve(l),
      confirm: async (d) => {
        codes.existing = d.code;
        codes.fingerprintOnE = d.fingerprint;
        codes.name = d.name;
        return answers.existing;
      },
    });
    if (!answers.existing) {
      // E's no closes the link; N, still waiting for its grant, is then cut by the relay's
      // login timeout (§17.8). Move the relay's clock past it rather than wait it out (30 s).
      void existing.catch(() => (offset += DEFAULT_LIMITS.loginTimeoutMs + 1000));
    }
    const added = printed.promise.then((l) =>
      addThisDevice(
        { dir, link: l, name: "Laptop", rng: systemRng },
        {
          confirm: async (code, fingerprint) => {
            codes.added = code;
            codes.fingerprintOnN = fingerprint;
            return answers.added;
          },
        },
      ),
    );
    const [e, n] = await Promise.allSettled([existing, added]);
    return { e, n, codes, link: await printed.promise, dir };
  } finally {
    a.close();
  }
}

describe("device link", () => {
  test("both say yes: N is device 2, registered, with the snapshot; both showed the same code and fingerprint", async () => {
    // Something for the snapshot: alice pinned bob and has a chat with him.
    const a = await alice.online();
    await openDirectChat(alice.acct, a.relay, "bob");
    a.close();

    const r = await link({ existing: true, added: true });
    if (r.e.status === "rejected") throw r.e.reason;
    if (r.n.status === "rejected") throw r.n.reason;
    expect(r.link).toMatch(
      /^smsg:\/\/127\.0\.0\.1:\d+\/[A-Za-z0-9_-]{43}\/device\/alice\/[A-Za-z0-9_-]{22}\/[A-Za-z0-9_-]{43}\/[A-Za-z0-9_-]{27}$/,
    );
    expect(r.codes.existing).toMatch(/^\d{6}$/);
    expect(r.codes.added).toBe(r.codes.existing);
    expect(r.codes.fingerprintOnE).toBe(r.codes.fingerprintOnN);
    expect(r.codes.name).toBe("Laptop");
    expect(r.e.value).toMatchObject({ deviceId: 2, name: "Laptop", version: 2 });
    expect(r.n.value).toMatchObject({ username: "alice", deviceId: 2, fingerprint: r.codes.fingerprintOnN });

    const laptop = openLocalAccount({ dir: r.dir });
    opened.push(laptop);
    expect(laptop.deviceId).toBe(2);
    expect(laptop.store.contacts.get("bob")?.identity).toEqual(alice.acct.store.contacts.get("bob")!.identity);
    expect(laptop.store.chats.list().map((c) => c.peer)).toEqual(["bob"]);
    // It never saw an account passphrase: nothing to update the login backup with (SECURITY.md §18.6 "Update").
    expect(laptop.store.account.backupMaterial()).toBeUndefined();
    const { relay } = await connectAccount(laptop);
    try {
      const { devices } = await refreshOwnDevices(laptop, relay);
      expect(devices.map((d) => [d.id, d.current, d.name])).toEqual([
        [1, false, null],
        [2, true, "Laptop"],
      ]);
    } finally {
      relay.close();
    }
    const mine = alice.acct.store.deviceLists.devices("alice").map((d) => [d.entry.id, d.name]);
    expect(mine).toEqual([
      [1, null],
      [2, "Laptop"],
    ]);

    // The link was for one device: used again, the relay no longer knows it.
    const again = await addThisDevice(
      { dir: profileDir("alice-phone"), link: r.link, rng: systemRng },
      { confirm: async () => true },
    ).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(LinkEndedError);
    expect(exitCodeOf(again)).toBe(EXIT.inviteInvalid);
  });

  test("E says no: nothing is added, N stores nothing", async () => {
    const r = await link({ existing: false, added: true });
    expect(r.e.status === "rejected" && r.e.reason).toBeInstanceOf(LinkDeclinedError);
    expect(r.n.status === "rejected" && r.n.reason).toBeInstanceOf(LinkEndedError);
    expect(existsSync(r.dir) ? readdirSync(r.dir) : []).toEqual([]);
    expect(alice.acct.store.deviceLists.devices("alice").map((d) => d.entry.id)).toEqual([1]);
    const rows = await tr.db.query<{ version: number }>(
      "SELECT l.version FROM device_lists l JOIN accounts a ON a.id = l.account_id WHERE a.username = 'alice'",
    );
    expect(rows.map((x) => Number(x.version))).toEqual([1]);
  });

  test("N says no: N stores nothing; E's grant goes nowhere usable", async () => {
    const r = await link({ existing: true, added: false });
    expect(r.n.status === "rejected" && r.n.reason).toBeInstanceOf(AddDeclinedError);
    expect(existsSync(r.dir) ? readdirSync(r.dir) : []).toEqual([]);
  });

  test("a link that is not one, and one no relay knows: one sentence, nothing stored", async () => {
    const dir = profileDir("x");
    await expect(
      addThisDevice({ dir, link: "smsg://nope", rng: systemRng }, { confirm: async () => true }),
    ).rejects.toThrow(/^not a device link/);
    const a = await alice.online();
    const printed = deferred<string>();
    const e = linkNewDevice(alice.acct, a.relay, { onLink: (l) => printed.resolve(l), confirm: async () => true });
    const l = await printed.promise;
    a.close(); // E's connection closing ends the link (§17.8)
    await expect(e).rejects.toBeInstanceOf(LinkEndedError);
    const n = await addThisDevice({ dir, link: l, rng: systemRng }, { confirm: async () => true }).catch(
      (x: unknown) => x,
    );
    expect(n).toBeInstanceOf(LinkEndedError);
    expect((n as Error).message).toMatch(/the relay does not know this link/);
    expect(existsSync(dir) ? readdirSync(dir) : []).toEqual([]);
  });
});
