/**
 * Keeping the passphrase backup current (client/engine/backup-refresh.ts, SECURITY.md §18.6
 * "Update") on a real in-process relay: after `passphrase set`, an unchanged state sends
 * nothing; a new contact and chat send one update, which a login on a new machine then sees;
 * that new device keeps the material (`smsg login` derived it) and refreshes too; once another
 * device changed the passphrase, its refresh is refused, it forgets the material and says so
 * once, and the record is not reverted (the NEW passphrase still logs in, the old one does not).
 * Against a scripted relay: a relay without the request is skipped quietly, a failure is one
 * warning and is retried next time, and a listener refreshes when the store changed.
 */
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { setAccountPassphrase } from "../../../client/engine/account-passphrase.js";
import {
  BackupKeyDroppedNotice,
  BackupRefreshFailedError,
  BackupRefresher,
  BackupTakenOverNotice,
  refreshBackup,
} from "../../../client/engine/backup-refresh.js";
import { openDirectChat } from "../../../client/engine/chats.js";
import { listen } from "../../../client/engine/listener.js";
import { logInNewDevice } from "../../../client/engine/login.js";
import { type Account, closeAccount, connectAccount, openLocalAccount } from "../../../client/engine/open-account.js";
import { ensureOwnDeviceList } from "../../../client/engine/own-device-list.js";
import { PassphraseLoginFailedError } from "../../../client/engine/passphrase-login.js";
import type { RelayClient } from "../../../client/relay-client.js";
import { publishDeviceList } from "../../../client/relay-devices.js";
import { openDatabase } from "../../../client/store/sqlite.js";
import { formatRelayLink } from "../../../src/relay-link.js";
import { type TestRelay, startRelay } from "../../relay/harness.js";
import { type EngineUser, engineUser, profileDir } from "./helpers.js";
import { refuse, scriptedRelay } from "./scripted-relay.js";

const PASSPHRASE = "correct Horse battery staple 7 orbit Lamp quiet !";
const NEW_PASSPHRASE = "a Different passphrase 42 with Many quiet words ?";

let tr: TestRelay;
let alice: EngineUser;
let link: string;

/** A logged-in connection of `acct` whose requests are recorded by type. */
async function counted(acct: Account) {
  const { relay } = await connectAccount(acct);
  const types: string[] = [];
  const wrapped = {
    request: ((msg: { t: string }) => {
      types.push(msg.t);
      return relay.request(msg as never);
    }) as RelayClient["request"],
    get isClosed() {
      return relay.isClosed;
    },
  };
  return { relay: wrapped, types, close: () => relay.close() };
}

/** The relay's stored backup of alice. */
async function storedBackup(): Promise<Uint8Array> {
  const rows = await tr.db.query<{ backup: Uint8Array }>(
    "SELECT r.backup FROM passphrase_records r JOIN accounts a ON a.id = r.account_id WHERE a.username = 'alice'",
  );
  return rows[0]!.backup;
}

/** The relay's clock runs ahead, 10 minutes more per test: failed logins' backoff (§14.7) is over for the next. */
let skew = 0;
beforeEach(() => {
  skew += 10 * 60_000;
});

beforeAll(async () => {
  tr = await startRelay({ now: () => Date.now() + skew });
  alice = await engineUser(tr, "alice");
  for (const name of ["bob", "carol", "dave"]) (await engineUser(tr, name)).close();
  link = formatRelayLink({ host: "127.0.0.1", port: tr.port, relayKey: tr.keyPair.publicKey });
  const { relay } = await connectAccount(alice.acct);
  try {
    await openDirectChat(alice.acct, relay, "bob");
    await publishDeviceList(relay, ensureOwnDeviceList(alice.acct.store)!);
    await setAccountPassphrase(alice.acct, relay, PASSPHRASE);
  } finally {
    relay.close();
  }
}, 180_000);
afterAll(async () => {
  alice?.close();
  await tr?.stop();
});

describe("refreshBackup on a real relay", () => {
  const laptopDir = profileDir("alice-laptop");

  test(
    "unchanged: no request; a new contact and chat: one update, which a new machine's login sees",
    { timeout: 180_000 },
    async () => {
      const c = await counted(alice.acct);
      try {
        expect(await refreshBackup(alice.acct, c.relay)).toBe("unchanged");
        expect(c.types).toEqual([]);
        const before = await storedBackup();

        await openDirectChat(alice.acct, c.relay as never, "carol");
        c.types.length = 0;
        expect(await refreshBackup(alice.acct, c.relay)).toBe("updated");
        expect(c.types).toEqual(["backup_put", "backup_update"]);
        expect(await storedBackup()).not.toEqual(before);
        c.types.length = 0;
        expect(await refreshBackup(alice.acct, c.relay)).toBe("unchanged");
        expect(c.types).toEqual([]);
      } finally {
        c.close();
      }

      const r = await logInNewDevice({
        dir: laptopDir,
        link,
        username: "alice",
        passphrase: PASSPHRASE,
        wait: async () => {},
      });
      expect(r).toMatchObject({ deviceId: 2, contacts: 2, chats: 2 });
      const laptop = openLocalAccount({ dir: laptopDir });
      try {
        expect(
          laptop.store.chats
            .list()
            .map((ch) => ch.peer)
            .sort(),
        ).toEqual(["bob", "carol"]);
        // The login kept what it derived: the digest is of the state it opened, so nothing is due.
        expect(laptop.store.account.backupMaterial()).toMatchObject({ t: 3, memKiB: 262144 });
        const l = await counted(laptop);
        try {
          expect(await refreshBackup(laptop, l.relay)).toBe("unchanged");
          expect(l.types).toEqual([]);
          // The laptop's own change goes into the backup under the key its login derived.
          await openDirectChat(laptop, l.relay as never, "dave");
          l.types.length = 0;
          expect(await refreshBackup(laptop, l.relay)).toBe("updated");
          expect(l.types).toEqual(["backup_put", "backup_update"]);
        } finally {
          l.close();
        }
      } finally {
        closeAccount(laptop);
      }
      const tablet = await logInNewDevice({
        dir: profileDir("alice-tablet"),
        link,
        username: "alice",
        passphrase: PASSPHRASE,
        wait: async () => {},
      });
      expect(tablet).toMatchObject({ deviceId: 3, contacts: 3, chats: 3 });
    },
  );

  test(
    "after another device changed the passphrase: refused, forgotten, said once, and the record is not reverted",
    { timeout: 240_000 },
    async () => {
      const { relay } = await connectAccount(alice.acct);
      try {
        await setAccountPassphrase(alice.acct, relay, NEW_PASSPHRASE);
      } finally {
        relay.close();
      }
      const record = await storedBackup();

      const laptop = openLocalAccount({ dir: laptopDir });
      try {
        const l = await counted(laptop);
        try {
          laptop.store.account.setDisplayName("Alice on the laptop");
          const warnings: unknown[] = [];
          const refresher = new BackupRefresher(laptop, l.relay, (w) => warnings.push(w));
          l.types.length = 0;
          await refresher.refresh();
          expect(l.types).toEqual(["backup_put", "backup_update"]);
          expect(warnings).toHaveLength(1);
          expect(warnings[0]).toBeInstanceOf(BackupTakenOverNotice);
          expect((warnings[0] as Error).message).toBe(
            "the account passphrase was changed or removed on another device, so this device no longer refreshes " +
              "the login backup (run smsg passphrase change here to take it over)",
          );
          expect(laptop.store.account.backupMaterial()).toBeUndefined();
          expect(await storedBackup()).toEqual(record);
          // Forgotten: never tried or said again.
          l.types.length = 0;
          expect(await refreshBackup(laptop, l.relay)).toBe("none");
          await refresher.refresh();
          expect(l.types).toEqual([]);
          expect(warnings).toHaveLength(1);
        } finally {
          l.close();
        }
      } finally {
        closeAccount(laptop);
      }

      // The new passphrase still opens the record; the old one does not.
      const old = await logInNewDevice({
        dir: profileDir("alice-old"),
        link,
        username: "alice",
        passphrase: PASSPHRASE,
        wait: async () => {},
      }).catch((e: unknown) => e);
      expect(old).toBeInstanceOf(PassphraseLoginFailedError);
      const newDir = profileDir("alice-new");
      const r = await logInNewDevice({
        dir: newDir,
        link,
        username: "alice",
        passphrase: NEW_PASSPHRASE,
        wait: async () => {},
      });
      expect(r.contacts).toBeGreaterThanOrEqual(2);
      // The record holds device 1's state of the change, not the refused update's.
      const fresh = openLocalAccount({ dir: newDir });
      expect(fresh.displayName).not.toBe("Alice on the laptop");
      closeAccount(fresh);
    },
  );
});

describe("BackupRefresher against a scripted relay", () => {
  let n = 0;
  /** Alice's account with an update due: a display name is part of the snapshot (§17.6.1). */
  function dueAccount(): Account {
    alice.acct.store.account.setDisplayName(`Alice ${++n}`);
    return alice.acct;
  }
  const ok = () => ({ t: "ok" });

  test(
    "a relay without backup_update: skipped quietly, the material kept, not tried again on that connection",
    { timeout: 60_000 },
    async () => {
      const acct = dueAccount();
      const before = acct.store.account.backupMaterial();
      const old = { ...scriptedRelay({ backup_put: ok, backup_update: refuse("UNKNOWN_TYPE") }), isClosed: false };
      const warnings: unknown[] = [];
      const refresher = new BackupRefresher(acct, old, (w) => warnings.push(w));
      await refresher.refresh();
      expect(old.requests.map((q) => q.t)).toEqual(["backup_put", "backup_update"]);
      await refresher.refresh();
      expect(old.requests).toHaveLength(2);
      expect(warnings).toEqual([]);
      expect(acct.store.account.backupMaterial()).toEqual(before);
    },
  );

  test(
    "a failure is one warning, changes nothing, and the next connection tries again",
    { timeout: 60_000 },
    async () => {
      const acct = dueAccount();
      const before = acct.store.account.backupMaterial();
      const down = { ...scriptedRelay({ backup_put: ok, backup_update: refuse("UNAVAILABLE") }), isClosed: false };
      const warnings: unknown[] = [];
      const refresher = new BackupRefresher(acct, down, (w) => warnings.push(w));
      await refresher.refresh();
      await refresher.refresh();
      expect(down.requests.map((q) => q.t)).toEqual(["backup_put", "backup_update"]);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toBeInstanceOf(BackupRefreshFailedError);
      expect((warnings[0] as Error).message).toMatch(
        /^the login backup was not refreshed \(refused with UNAVAILABLE\)/,
      );
      expect(acct.store.account.backupMaterial()).toEqual(before);
      const up = { ...scriptedRelay({ backup_put: ok, backup_update: ok }), isClosed: false };
      await new BackupRefresher(acct, up).refresh();
      expect(up.requests.map((q) => q.t)).toEqual(["backup_put", "backup_update"]);
      expect(acct.store.account.backupMaterial()!.digest).not.toEqual(before!.digest);
    },
  );

  test(
    "a backup key the store's schema 9 migration dropped: said once, with what to run, and nothing sent",
    { timeout: 60_000 },
    async () => {
      const erin = await engineUser(tr, "erin");
      const dir = erin.acct.dir;
      erin.close();
      // What the migration leaves of a profile that had set a passphrase before schema 9.
      const raw = openDatabase(join(dir, "store.sqlite"));
      raw.exec("UPDATE account SET backup_key_dropped = 1");
      raw.close();
      const acct = openLocalAccount({ dir });
      try {
        const relay = { ...scriptedRelay({}), isClosed: false };
        const warnings: unknown[] = [];
        const refresher = new BackupRefresher(acct, relay, (w) => warnings.push(w));
        await refresher.refresh();
        await refresher.refresh();
        expect(relay.requests).toEqual([]);
        expect(warnings).toHaveLength(1);
        expect(warnings[0]).toBeInstanceOf(BackupKeyDroppedNotice);
        expect((warnings[0] as Error).message).toMatch(/run smsg passphrase change once on this device/);
        expect(await refreshBackup(acct, relay)).toBe("none");
      } finally {
        closeAccount(acct);
      }
    },
  );

  test(
    "refreshIfChanged builds nothing and sends nothing while the store did not change",
    { timeout: 60_000 },
    async () => {
      const acct = dueAccount();
      const relay = { ...scriptedRelay({ backup_put: ok, backup_update: ok }), isClosed: false };
      const refresher = new BackupRefresher(acct, relay);
      await refresher.refreshIfChanged();
      expect(relay.requests).toHaveLength(2);
      for (let i = 0; i < 3; i++) await refresher.refreshIfChanged();
      expect(relay.requests).toHaveLength(2);
      acct.store.account.setDisplayName("Alice again");
      await refresher.refreshIfChanged();
      expect(relay.requests).toHaveLength(4);
    },
  );
});

describe("listen", () => {
  test("refreshes after its first sync and when the store changed while listening", { timeout: 120_000 }, async () => {
    alice.acct.store.account.setDisplayName("Alice while listening 1");
    const before = await storedBackup();
    const stop = new AbortController();
    const statuses: string[] = [];
    let listening: () => void = () => {};
    const connected = new Promise<void>((resolve) => (listening = resolve));
    const done = listen(alice.acct, {
      onEvent: () => {},
      onStatus: (s) => {
        statuses.push(s.state);
        if (s.state === "listening") listening();
      },
      signal: stop.signal,
      backupRefreshMs: 50,
    });
    await connected;
    const changed = async (from: Uint8Array) => {
      for (;;) {
        const now = await storedBackup();
        if (!Buffer.from(now).equals(Buffer.from(from))) return now;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    const first = await changed(before);
    alice.acct.store.account.setDisplayName("Alice while listening 2");
    await changed(first);
    stop.abort();
    await done;
    expect(statuses[0]).toBe("listening");
  });
});
