/** Prekey upkeep (client/engine/prekeys.ts): refilling one-time prekeys and rotating the signed prekey. */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { openDirectChat } from "../../../client/engine/chats.js";
import {
  ONE_TIME_PREKEY_BATCH,
  SIGNED_PREKEY_KEEP_MS,
  SIGNED_PREKEY_ROTATE_MS,
  maintainPrekeys,
} from "../../../client/engine/prekeys.js";
import { sendText } from "../../../client/engine/send.js";
import { ensureSession } from "../../../client/engine/sessions.js";
import { type TestRelay, startRelay } from "../../relay/harness.js";
import { waitFor } from "../../helpers/wait-for.js";
import { accountId, engineUser } from "./helpers.js";

let tr: TestRelay;
beforeAll(async () => {
  tr = await startRelay();
});
afterAll(async () => {
  await tr.stop();
});

async function relayStock(user: string): Promise<number> {
  const rows = await tr.db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM one_time_prekeys WHERE account_id = $1",
    [await accountId(tr, user)],
  );
  return rows[0]!.n;
}

async function relaySignedPrekey(user: string): Promise<number> {
  const rows = await tr.db.query<{ key_id: number }>(
    "SELECT key_id FROM signed_prekeys WHERE account_id = $1 ORDER BY upload_seq DESC LIMIT 1",
    [await accountId(tr, user)],
  );
  return Number(rows[0]!.key_id);
}

describe("prekeys", () => {
  test("a low stock at login is refilled to the batch size", async () => {
    const u = await engineUser(tr, "refill");
    const id = await accountId(tr, "refill");
    await tr.db.query("DELETE FROM one_time_prekeys WHERE account_id = $1 AND key_id > 10", [id]);
    expect(await relayStock("refill")).toBe(10);
    const o = await u.online();
    expect(o.login.stock).toBe(10);
    expect(await relayStock("refill")).toBe(ONE_TIME_PREKEY_BATCH);
    expect(u.acct.store.prekeys.countOneTime(false)).toBe(0);
    // Nothing to do when the stock is fine.
    expect(await maintainPrekeys(u.acct, o.relay, ONE_TIME_PREKEY_BATCH)).toMatchObject({
      uploaded: 0,
      rotatedSignedPrekey: undefined,
    });
    o.close();
    u.close();
  });

  test("the signed prekey rotates after 7 days; the old one still accepts first messages, and goes 14 days later", async () => {
    const alice = await engineUser(tr, "rotating");
    const bob = await engineUser(tr, "sender");
    const first = alice.acct.store.prekeys.currentSigned()!;
    // bob fetches a bundle (and starts a session) with the first signed prekey...
    const b = await bob.online();
    const { chat } = await openDirectChat(bob.acct, b.relay, "rotating");
    await ensureSession(bob.acct, b.relay, "rotating");

    // ...alice rotates 8 days later...
    const start = Date.now();
    alice.reopen({ now: () => start + SIGNED_PREKEY_ROTATE_MS + 86_400_000 });
    const a = await alice.online();
    const second = alice.acct.store.prekeys.currentSigned()!;
    expect(second.id).not.toBe(first.id);
    expect(await relaySignedPrekey("rotating")).toBe(second.id);
    expect(alice.acct.store.prekeys.getSigned(first.id)).toBeDefined();

    // ...and bob's first message, made with the old key, still decrypts.
    await sendText(bob.acct, b.relay, chat, "made with the old signed prekey");
    await waitFor(() => alice.events.some((e) => e.type === "message"), { what: "bob's message at alice" });
    a.close();

    // 14 days after the second key appeared, the first is deleted (a third one is made too).
    alice.reopen({ now: () => start + SIGNED_PREKEY_ROTATE_MS + 86_400_000 + SIGNED_PREKEY_KEEP_MS + 86_400_000 });
    const a2 = await alice.online();
    expect(alice.acct.store.prekeys.getSigned(first.id)).toBeUndefined();
    expect(alice.acct.store.prekeys.getSigned(second.id)).toBeDefined();
    expect(alice.acct.store.prekeys.currentSigned()!.id).not.toBe(second.id);
    a2.close();
    b.close();
    alice.close();
    bob.close();
  });
});
