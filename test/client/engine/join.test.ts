/** Joining a relay with client/engine/join.ts, and opening the account afterwards. */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { InviteInvalidError, UsernameTakenError, joinRelay } from "../../../client/engine/join.js";
import { LoginFailedError, NotJoinedError, RelayUnreachableError } from "../../../client/engine/errors.js";
import { closeAccount, connectAccount, openLocalAccount } from "../../../client/engine/open-account.js";
import { ONE_TIME_PREKEY_BATCH } from "../../../client/engine/prekeys.js";
import { ProfileExistsError, ProfileNotFoundError, WrongPassphraseError } from "../../../client/profile/errors.js";
import { createProfile } from "../../../client/profile/open.js";
import { KEYSTORE_FILE } from "../../../client/profile/paths.js";
import { UsageError } from "../../../src/errors.js";
import { formatInviteLink } from "../../../src/invite-link.js";
import { systemRng } from "../../../src/system-rng.js";
import { type TestRelay, startRelay } from "../../relay/harness.js";
import { freePort } from "../../../bench/relay-process.js";
import { accountId, inviteLink, profileDir } from "./helpers.js";

let tr: TestRelay;
beforeAll(async () => {
  tr = await startRelay();
});
afterAll(async () => {
  await tr.stop();
});

const FAST = { params: { t: 1, memKiB: 8 } };

describe("join", () => {
  test("creates the profile, the account and publishes the prekeys; login works afterwards", async () => {
    const dir = profileDir("alice");
    const r = await joinRelay({ dir, link: await inviteLink(tr), username: "Alice", displayName: "Alice A." });
    expect(r).toMatchObject({
      username: "alice",
      relayHost: "127.0.0.1",
      relayPort: tr.port,
      oneTimePrekeys: ONE_TIME_PREKEY_BATCH,
    });

    const acct = openLocalAccount({ dir });
    expect(acct.username).toBe("alice");
    expect(acct.displayName).toBe("Alice A.");
    expect(acct.store.prekeys.countOneTime(true)).toBe(ONE_TIME_PREKEY_BATCH);
    expect(acct.store.prekeys.countOneTime(false)).toBe(0);
    expect(acct.store.prekeys.currentSigned()).toBeDefined();
    const rows = await tr.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM one_time_prekeys WHERE account_id = $1",
      [await accountId(tr, "alice")],
    );
    expect(rows[0]!.n).toBe(ONE_TIME_PREKEY_BATCH);

    const { relay, login } = await connectAccount(acct);
    expect(login.stock).toBe(ONE_TIME_PREKEY_BATCH);
    relay.close();
    closeAccount(acct);

    // A second join into the same profile is refused before anything happens.
    await expect(joinRelay({ dir, link: await inviteLink(tr), username: "alice2" })).rejects.toBeInstanceOf(
      ProfileExistsError,
    );
  });

  test("a refused invite or a taken name leaves no profile behind", async () => {
    const used = await inviteLink(tr);
    await joinRelay({ dir: profileDir("first"), link: used, username: "first" });

    const dir = profileDir("second");
    await expect(joinRelay({ dir, link: used, username: "second" })).rejects.toBeInstanceOf(InviteInvalidError);
    expect(existsSync(join(dir, KEYSTORE_FILE))).toBe(false);

    await expect(joinRelay({ dir, link: await inviteLink(tr), username: "first" })).rejects.toBeInstanceOf(
      UsernameTakenError,
    );
    expect(existsSync(join(dir, KEYSTORE_FILE))).toBe(false);

    // The same folder can join once the problem is fixed.
    await joinRelay({ dir, link: await inviteLink(tr), username: "second" });
    expect(existsSync(join(dir, KEYSTORE_FILE))).toBe(true);
  });

  test("a malformed link and an unreachable relay: clear errors, nothing written", async () => {
    const dir = profileDir("nobody");
    await expect(joinRelay({ dir, link: "smsg://nope", username: "nobody" })).rejects.toBeInstanceOf(
      InviteInvalidError,
    );
    await expect(joinRelay({ dir, link: await inviteLink(tr), username: "no body" })).rejects.toBeInstanceOf(
      UsageError,
    );
    await expect(
      joinRelay({ dir, link: await inviteLink(tr), username: "nobody", displayName: "Evil \u001b[2J" }),
    ).rejects.toBeInstanceOf(UsageError);
    const port = await freePort();
    const link = formatInviteLink({ host: "127.0.0.1", port, relayKey: tr.keyPair.publicKey, code: systemRng(32) });
    const err = await joinRelay({ dir, link, username: "nobody" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RelayUnreachableError);
    expect((err as Error).message).toMatch(/^cannot reach the relay at 127\.0\.0\.1:\d+ \(ECONNREFUSED\)$/);
    expect(existsSync(dir)).toBe(false);
  });

  test("a passphrase-protected profile: the wrong passphrase changes nothing", async () => {
    const dir = profileDir("carol");
    await joinRelay({ dir, link: await inviteLink(tr), username: "carol", passphrase: "right", keystore: FAST });
    expect(() => openLocalAccount({ dir, passphrase: "wrong" })).toThrow(WrongPassphraseError);
    const acct = openLocalAccount({ dir, passphrase: "right" });
    expect(acct.username).toBe("carol");
    closeAccount(acct);
  });

  test("no profile, a profile without account, keys the relay does not know", async () => {
    expect(() => openLocalAccount({ dir: profileDir("none") })).toThrow(ProfileNotFoundError);
    const empty = profileDir("empty");
    createProfile(empty, systemRng).close();
    expect(() => openLocalAccount({ dir: empty })).toThrow(NotJoinedError);

    // dave's profile, but the relay's dave has another identity: the login is refused.
    const dir = profileDir("dave");
    await joinRelay({ dir, link: await inviteLink(tr), username: "dave" });
    // The relay checks a login against the device's row (device 1 is the account key, SECURITY.md §17.8).
    await tr.db.query(
      "UPDATE devices SET identity = (SELECT identity FROM accounts WHERE username = 'alice')" +
        " WHERE device_id = 1 AND account_id = (SELECT id FROM accounts WHERE username = 'dave')",
    );
    const acct = openLocalAccount({ dir });
    await expect(connectAccount(acct)).rejects.toBeInstanceOf(LoginFailedError);
    closeAccount(acct);
  });
});
