/**
 * Fixtures for the engine suites: an in-process relay (test/relay/harness.ts), accounts that
 * join it for real with client/engine/join.ts in a temporary profile, and ways to tamper with
 * the relay's database the way a malicious operator could.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type IdentityKeyPair, encodeIdentityPublic, generateIdentity } from "../../../crypto/identity.js";
import { generateOneTimePrekeys, generateSignedPrekey } from "../../../crypto/prekeys.js";
import { type Account, closeAccount, openLocalAccount } from "../../../client/engine/open-account.js";
import { joinRelay } from "../../../client/engine/join.js";
import type { EngineEvent } from "../../../client/engine/events.js";
import { type Online, goOnline } from "../../../client/engine/online.js";
import { formatInviteLink } from "../../../src/invite-link.js";
import { systemRng } from "../../../src/system-rng.js";
import type { Db } from "../../../relay/store/index.js";
import type { TestRelay } from "../../relay/harness.js";

/** A new empty folder for a profile. */
export function profileDir(name: string): string {
  return join(mkdtempSync(join(tmpdir(), "smsg-engine-")), name);
}

/** An invite link of `tr` (one use). */
export async function inviteLink(tr: TestRelay): Promise<string> {
  const code = await tr.invite();
  return formatInviteLink({ host: "127.0.0.1", port: tr.port, relayKey: tr.keyPair.publicKey, code });
}

/** A user as the engine suites drive it: the profile folder and its open account. */
export interface EngineUser {
  readonly name: string;
  readonly dir: string;
  acct: Account;
  /** Every event the engine reported for this user. */
  readonly events: EngineEvent[];
  /** Reopens the account (a new process, in effect), closing the old one. */
  reopen(opts?: { now?: () => number }): Account;
  /** Goes online (login, prekeys, outbox, sync), recording events. */
  online(): Promise<Online>;
  close(): void;
}

/** Joins `name` to `tr` with the real join flow and opens its account. */
export async function engineUser(
  tr: TestRelay,
  name: string,
  opts: { displayName?: string } = {},
): Promise<EngineUser> {
  const dir = profileDir(name);
  await joinRelay({ dir, link: await inviteLink(tr), username: name, displayName: opts.displayName });
  return deviceUser(name, dir);
}

/** An EngineUser over an existing profile folder (joined, logged in or added as a device). */
export function deviceUser(name: string, dir: string): EngineUser {
  const events: EngineEvent[] = [];
  const u: EngineUser = {
    name,
    dir,
    acct: openLocalAccount({ dir }),
    events,
    reopen(o = {}) {
      closeAccount(u.acct);
      u.acct = openLocalAccount({ dir, ...(o.now ? { now: o.now } : {}) });
      return u.acct;
    },
    online() {
      return goOnline(u.acct, { onEvent: (e) => events.push(e) });
    },
    close() {
      closeAccount(u.acct);
    },
  };
  return u;
}

/**
 * Empties the relay's tables, so each test starts with no accounts, chats or messages (the
 * per-device tables of §17.8 have no foreign keys to cascade from: named here).
 */
export async function emptyRelay(tr: TestRelay): Promise<void> {
  const sql =
    "TRUNCATE message_copies, device_cursors, device_mailboxes, messages, chat_members, chats, one_time_prekeys, " +
    "signed_prekeys, invites, accounts RESTART IDENTITY CASCADE";
  // The TRUNCATE locks table after table, while the previous test's connections may still be
  // finishing a transaction that locks them in another order: PostgreSQL then ends one of the
  // two as a deadlock (40P01, fresh-clone CI). It did nothing; running it again is safe.
  for (let attempt = 1; ; attempt++) {
    try {
      await tr.db.exec(sql);
      return;
    } catch (e) {
      if (attempt >= 5 || (e as { code?: unknown }).code !== "40P01") throw e;
    }
  }
}

/** How far the relay has acked `user` in `chat` (its cursor). */
export async function relayCursor(tr: TestRelay, user: string, chat: number): Promise<number> {
  const rows = await tr.db.query<{ cursor: number }>(
    "SELECT cursor FROM chat_members WHERE chat_id = $1 AND account_id = $2",
    [chat, await accountId(tr, user)],
  );
  return Number(rows[0]!.cursor);
}

/** The relay's account id of `username`. */
export async function accountId(tr: TestRelay, username: string): Promise<number> {
  const rows = await tr.db.query<{ id: number }>("SELECT id FROM accounts WHERE username = $1", [username]);
  return Number(rows[0]!.id);
}

/**
 * What a malicious relay operator can do: give `username` a new identity key and new prekeys
 * in the database (the account's owner keeps the old keys and can no longer log in). Returns
 * the forged identity.
 */
export async function forgeIdentity(tr: TestRelay, username: string): Promise<IdentityKeyPair> {
  return forgeIdentityIn(tr.db, username);
}

/** forgeIdentity on a relay database opened directly (with the relay stopped, or sharing its database). */
export async function forgeIdentityIn(db: Db, username: string): Promise<IdentityKeyPair> {
  const rows = await db.query<{ id: number }>("SELECT id FROM accounts WHERE username = $1", [username]);
  const id = Number(rows[0]!.id);
  const forged = generateIdentity(systemRng);
  const spk = generateSignedPrekey(systemRng, forged, 900_000);
  const opks = generateOneTimePrekeys(systemRng, 900_000, 3);
  await db.transaction(async (tx) => {
    await tx.query("UPDATE accounts SET identity = $1 WHERE id = $2", [encodeIdentityPublic(forged.publicKey), id]);
    // Device 1 is the account key (SECURITY.md §17.1): the relay serves and checks its row too.
    await tx.query("UPDATE devices SET identity = $1 WHERE account_id = $2 AND device_id = 1", [
      encodeIdentityPublic(forged.publicKey),
      id,
    ]);
    await tx.query("DELETE FROM signed_prekeys WHERE account_id = $1", [id]);
    await tx.query("DELETE FROM one_time_prekeys WHERE account_id = $1", [id]);
    await tx.query("INSERT INTO signed_prekeys (account_id, key_id, public_key, signature) VALUES ($1, $2, $3, $4)", [
      id,
      spk.id,
      spk.keyPair.publicKey,
      spk.signature,
    ]);
    for (const k of opks) {
      await tx.query("INSERT INTO one_time_prekeys (account_id, key_id, public_key) VALUES ($1, $2, $3)", [
        id,
        k.id,
        k.keyPair.publicKey,
      ]);
    }
  });
  return forged;
}
