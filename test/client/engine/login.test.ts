/**
 * `smsg login` (client/engine/login.ts, SECURITY.md §18.6) against a real in-process relay:
 * alice's device 1 sets the account passphrase with a backup holding her account state; a new
 * machine logs in, becomes device 2 with the account key, its seed and that state, and logs in
 * as device 2 afterwards. A wrong passphrase or unknown name leaves no profile and no list. The
 * answers the relay gives and the client loses (a broken connection after the relay acted) are
 * played by a connection wrapper: the registration is repeated on new connections, a publish
 * that never arrived leaves nothing, and a relay that stays away leaves the profile, which the
 * same login later finishes.
 */
import { existsSync, readdirSync } from "node:fs";
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { exitCodeOf } from "../../../client/commands/exit.js";
import { buildAccountState } from "../../../client/engine/account-state-snapshot.js";
import { openDirectChat } from "../../../client/engine/chats.js";
import {
  ListNotStoredError,
  LoginUnconfirmedError,
  type LoginOptions,
  type LoginRelay,
  logInNewDevice,
} from "../../../client/engine/login.js";
import { closeAccount, connectAccount, connectRelay, openLocalAccount } from "../../../client/engine/open-account.js";
import { ensureOwnDeviceList } from "../../../client/engine/own-device-list.js";
import { PassphraseLoginFailedError } from "../../../client/engine/passphrase-login.js";
import { PassphraseRequiredError, ProfileExistsError } from "../../../client/profile/errors.js";
import { publishDeviceList } from "../../../client/relay-devices.js";
import { sealBackup } from "../../../crypto/account-backup.js";
import { decodeDeviceList } from "../../../crypto/device-list.js";
import { identityKey } from "../../../crypto/identity.js";
import { PASSPHRASE_ARGON2, derivePassphraseKeys, wipePassphraseKeys } from "../../../crypto/passphrase-kdf.js";
import { ConnectionClosedError, UsageError } from "../../../src/errors.js";
import { EXIT } from "../../../src/exit-codes.js";
import { formatRelayLink } from "../../../src/relay-link.js";
import { MAX_BACKUP_PIECE_BYTES } from "../../../src/wire/limits.js";
import { type TestRelay, startRelay } from "../../relay/harness.js";
import { type EngineUser, engineUser, profileDir } from "./helpers.js";

const PASSPHRASE = "correct Horse battery staple 7 orbit Lamp quiet !";

let tr: TestRelay;
let alice: EngineUser;
let bob: EngineUser;
let link: string;

/**
 * Sets alice's account passphrase with a backup that holds her account state (§17.6.1), as a
 * device that builds the snapshot from its store seals it (§18.3, §18.6 "Set").
 */
async function setPassphraseWithState(u: EngineUser): Promise<void> {
  const { relay } = await connectAccount(u.acct);
  try {
    const salt = u.acct.rng(16);
    const ctx = { relayKey: u.acct.relayKey, username: u.acct.username, salt };
    const keys = derivePassphraseKeys(PASSPHRASE, ctx, PASSPHRASE_ARGON2);
    const backup = sealBackup(
      keys.backupKey,
      ctx,
      PASSPHRASE_ARGON2,
      u.acct.identity.publicKey,
      {
        accountSigningSeed: u.acct.identity.signing.privateKey.slice(0, 32),
        state: buildAccountState(u.acct.store).bytes,
      },
      u.acct.rng,
    );
    for (let offset = 0; offset < backup.length; offset += MAX_BACKUP_PIECE_BYTES)
      await relay.request<"backup_put">({
        t: "backup_put",
        offset,
        data: backup.subarray(offset, offset + MAX_BACKUP_PIECE_BYTES),
      });
    await relay.request<"passphrase_set">({
      t: "passphrase_set",
      salt,
      t_cost: PASSPHRASE_ARGON2.t,
      mem_kib: PASSPHRASE_ARGON2.memKiB,
      login_public: keys.login.publicKey,
      size: backup.length,
    });
    wipePassphraseKeys(keys);
  } finally {
    relay.close();
  }
}

/** The relay's stored list of alice: the device ids and the version, or null. */
async function relayList(): Promise<{ version: number; ids: number[] } | null> {
  const account = await tr.relay.store.accountByUsername("alice");
  const stored = await tr.relay.store.deviceList(account!.id);
  if (!stored) return null;
  const list = decodeDeviceList(stored.list);
  return { version: list.version, ids: list.devices.map((d) => d.id) };
}

const isEmpty = (dir: string) => !existsSync(dir) || readdirSync(dir).length === 0;

/** What a connection does with one request: pass it on, lose its answer (after the relay acted), or lose it unsent. */
type Fate = "pass" | "lose answer" | "lose request";

/**
 * A dial to the test relay whose connections treat requests by `fate` (by type and how many of
 * that type were sent before, over all connections); `down` makes the dials after the first
 * `down.after` fail as an unreachable relay would.
 */
function dialWith(fate: (t: string, nth: number) => Fate = () => "pass", down?: { after: number }) {
  const seen = new Map<string, number>();
  let dials = 0;
  const dial = async (): Promise<LoginRelay> => {
    dials++;
    if (down && dials > down.after) throw new ConnectionClosedError("connection refused");
    const c = await connectRelay({
      host: "127.0.0.1",
      port: tr.port,
      relayKey: tr.keyPair.publicKey,
      rng: alice.acct.rng,
    });
    const request = (async (msg: { t: string }) => {
      const nth = seen.get(msg.t) ?? 0;
      seen.set(msg.t, nth + 1);
      const f = fate(msg.t, nth);
      if (f === "lose request") {
        c.close();
        throw new ConnectionClosedError("the connection broke");
      }
      const reply = await c.request(msg as never);
      if (f === "lose answer") {
        c.close();
        throw new ConnectionClosedError("the connection broke");
      }
      return reply;
    }) as LoginRelay["request"];
    return {
      request,
      close: () => c.close(),
      get handshakeHash() {
        return c.handshakeHash;
      },
    };
  };
  return { dial, dials: () => dials, requests: seen };
}

const login = (dir: string, over: Partial<LoginOptions> = {}) =>
  logInNewDevice({
    dir,
    link,
    username: "Alice",
    passphrase: PASSPHRASE,
    wait: async () => {},
    ...over,
  });

/**
 * The relay's clock runs ahead by `skew`, moved on by 10 minutes before each test: the failed
 * logins a test makes on purpose (§14.7's per-address backoff, at most 5 minutes) are then
 * over for the next one, which connects from the same address.
 */
let skew = 0;
beforeEach(() => {
  skew += 10 * 60_000;
});

beforeAll(async () => {
  tr = await startRelay({ now: () => Date.now() + skew });
  alice = await engineUser(tr, "alice", { displayName: "Alice A." });
  bob = await engineUser(tr, "bob");
  link = formatRelayLink({ host: "127.0.0.1", port: tr.port, relayKey: tr.keyPair.publicKey });
  // Alice has a chat with bob and verified him; her device 1 published its first list (§17.1).
  const { relay } = await connectAccount(alice.acct);
  try {
    await openDirectChat(alice.acct, relay, "bob");
    alice.acct.store.contacts.verify("bob", alice.acct.store.contacts.get("bob")!.identity);
    await publishDeviceList(relay, ensureOwnDeviceList(alice.acct.store)!);
  } finally {
    relay.close();
  }
  await setPassphraseWithState(alice);
}, 180_000);
afterAll(async () => {
  alice?.close();
  bob?.close();
  await tr?.stop();
});

describe("logInNewDevice", () => {
  test(
    "a new machine becomes device 2 with the account key, its seed and the backed-up state",
    { timeout: 120_000 },
    async () => {
      const dir = profileDir("alice-laptop");
      const before = await relayList();
      expect(before).toEqual({ version: 1, ids: [1] });
      let derived = 0;
      const r = await login(dir, { onDerive: () => derived++ });
      expect(derived).toBe(1);
      expect(r).toMatchObject({ username: "alice", deviceId: 2, contacts: 1, chats: 1, resumed: false });
      expect(r.oneTimePrekeys).toBeGreaterThan(0);
      expect(await relayList()).toEqual({ version: 2, ids: [1, 2] });

      const laptop = openLocalAccount({ dir });
      try {
        expect(laptop.deviceId).toBe(2);
        expect(identityKey(laptop.accountIdentity)).toEqual(identityKey(alice.acct.identity.publicKey));
        expect(laptop.store.account.get()!.accountSigningSeed).toEqual(
          alice.acct.identity.signing.privateKey.slice(0, 32),
        );
        expect(laptop.displayName).toBe("Alice A.");
        expect(laptop.store.contacts.get("bob")).toMatchObject({
          identity: alice.acct.store.contacts.get("bob")!.identity,
          verified: true,
        });
        expect(laptop.store.chats.list().map((c) => [c.kind, c.peer])).toEqual([["direct", "bob"]]);
        expect(laptop.store.deviceLists.get("alice")!.list.version).toBe(2);
        expect(laptop.store.prekeys.unpublishedOneTime()).toHaveLength(0);
        // Registered: it logs in as device 2 from now on, without the passphrase.
        const { relay, login: info } = await connectAccount(laptop);
        expect(info.stock).toBe(r.oneTimePrekeys);
        relay.close();
      } finally {
        closeAccount(laptop);
      }
      // A folder that holds a finished device is refused before the relay is asked.
      const d = dialWith();
      const again = await login(dir, { dial: d.dial }).catch((e) => e);
      expect(again).toBeInstanceOf(ProfileExistsError);
      expect(exitCodeOf(again)).toBe(EXIT.profileExists);
      expect(d.dials()).toBe(0);
    },
  );

  test("--passphrase: the new profile is protected by its own passphrase", { timeout: 120_000 }, async () => {
    const dir = profileDir("alice-protected");
    const r = await login(dir, { profilePassphrase: "the laptop's own", keystore: { params: { t: 1, memKiB: 8 } } });
    expect(r.resumed).toBe(false);
    expect(() => openLocalAccount({ dir })).toThrow(PassphraseRequiredError);
    const acct = openLocalAccount({ dir, passphrase: "the laptop's own" });
    expect(acct.deviceId).toBe(r.deviceId);
    closeAccount(acct);
  });

  test(
    "a wrong passphrase or an unknown name: exit 9, no profile, the list unchanged",
    { timeout: 120_000 },
    async () => {
      const before = await relayList();
      for (const over of [{ passphrase: `${PASSPHRASE}x` }, { username: "nobody" }]) {
        const dir = profileDir("alice-wrong");
        const err = await login(dir, over).catch((e) => e);
        expect(err).toBeInstanceOf(PassphraseLoginFailedError);
        expect(exitCodeOf(err)).toBe(EXIT.loginFailed);
        expect(isEmpty(dir)).toBe(true);
      }
      expect(await relayList()).toEqual(before);
    },
  );

  test("bad input is refused before the relay is asked", async () => {
    const d = dialWith();
    for (const over of [{ link: "smsg://127.0.0.1/xyz" }, { username: "a" }, { passphrase: "" }]) {
      const err = await login(profileDir("alice-bad"), { ...over, dial: d.dial }).catch((e) => e);
      expect(err, JSON.stringify(over)).toBeInstanceOf(UsageError);
      expect(exitCodeOf(err)).toBe(EXIT.usage);
    }
    expect(d.dials()).toBe(0);
  });

  test(
    "lost answers: a lost publish or registration answer is repeated on a new connection",
    { timeout: 240_000 },
    async () => {
      for (const lost of ["publish_device_list", "register_device"]) {
        const dir = profileDir("alice-lossy");
        const before = (await relayList())!;
        const d = dialWith((t, nth) => (t === lost && nth === 0 ? "lose answer" : "pass"));
        const r = await login(dir, { dial: d.dial });
        expect(r.deviceId, lost).toBe(Math.max(...before.ids) + 1);
        expect(d.requests.get("register_device")).toBe(lost === "register_device" ? 2 : 1);
        const acct = openLocalAccount({ dir });
        const { relay } = await connectAccount(acct);
        relay.close();
        closeAccount(acct);
      }
    },
  );

  test(
    "a publish that never reached the relay leaves nothing; a relay that stays away leaves a profile the same login finishes",
    { timeout: 240_000 },
    async () => {
      const before = await relayList();
      const dir = profileDir("alice-unsent");
      const d = dialWith((t) => (t === "publish_device_list" ? "lose request" : "pass"));
      const err = await login(dir, { dial: d.dial }).catch((e) => e);
      expect(err).toBeInstanceOf(ListNotStoredError);
      expect(exitCodeOf(err)).toBe(EXIT.relayUnreachable);
      expect(isEmpty(dir)).toBe(true);
      expect(await relayList()).toEqual(before);

      skew += 10 * 60_000; // the DEVICE_UNKNOWN above was a failed login of this address (§17.8)
      // The list is stored, then the relay cannot be reached again: the listed device's keys stay.
      const kept = profileDir("alice-kept");
      const away = dialWith((t) => (t === "publish_device_list" ? "lose answer" : "pass"), { after: 2 });
      const unconfirmed = await login(kept, { dial: away.dial }).catch((e) => e);
      expect(unconfirmed, String(unconfirmed)).toBeInstanceOf(LoginUnconfirmedError);
      expect(exitCodeOf(unconfirmed)).toBe(EXIT.relayUnreachable);
      const listed = (await relayList())!;
      expect(listed.version).toBe(before!.version + 1);
      expect((unconfirmed as Error).message).toMatch(
        new RegExp(
          `^the relay did not confirm device ${Math.max(...listed.ids)} of alice \\(.*\\); ` +
            "the profile in .* was kept: run the same smsg login again to finish it$",
        ),
      );
      expect(isEmpty(kept)).toBe(false);
      // The same login finishes it, without the account passphrase and with no new list.
      let derived = 0;
      const notAsked = async (): Promise<string> => {
        throw new Error("the account passphrase was asked for");
      };
      const r = await login(kept, { onDerive: () => derived++, passphrase: notAsked });
      expect(r).toMatchObject({ resumed: true, deviceId: Math.max(...listed.ids), contacts: 1, chats: 1 });
      expect(derived).toBe(0);
      expect(await relayList()).toEqual(listed);
      const acct = openLocalAccount({ dir: kept });
      const { relay } = await connectAccount(acct);
      relay.close();
      closeAccount(acct);
    },
  );
});
