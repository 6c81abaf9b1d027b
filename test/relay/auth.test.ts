/**
 * join and login against a real relay over loopback sockets (SECURITY.md §10.4, SECURITY.md §14
 * §6.1): invites, usernames, the signature over the connection's handshake hash, failed logins
 * that all look alike, backoff per address (not per account), disabled accounts, admin invites.
 *
 * The relay keys login backoff on the remote address, so every test connects from its own
 * 127.0.0.x address: one test's failures never throttle the next. (Linux routes all of
 * 127.0.0.0/8 to loopback.) After each bad attempt the relay must still serve a well-behaved
 * client from 127.0.0.1, which never fails a login here.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { loginSignature } from "../../client/relay-client.js";
import { utf8 } from "../../crypto/bytes.js";
import { encodeIdentityPublic, generateIdentity } from "../../crypto/identity.js";
import { generateOneTimePrekeys, generateSignedPrekey } from "../../crypto/prekeys.js";
import { seededRng } from "../../crypto/rng.js";
import { ERROR_CODES } from "../../src/errors.js";
import type { RelayMessage, RelayMessageOf } from "../../src/wire/index.js";
import { type TestRelay, type TestUser, joinUser, startRelay } from "./harness.js";
import { RawClient, type World, expectServing, makeWorld } from "./raw-client.js";

let r: TestRelay;
let w: World;

beforeAll(async () => {
  r = await startRelay();
  w = await makeWorld(r);
});
afterAll(async () => {
  await r?.stop();
});

let host = 10;
/** A loopback address no other test used: its own login backoff. */
function freshAddress(): string {
  return `127.0.0.${host++}`;
}

/** Keys for a new account: identity, a signed prekey, a few one-time prekeys, a credential. */
function newKeys(name: string) {
  const rng = seededRng(utf8(`auth test ${name} ${randomBytes(8).toString("hex")}`));
  const identity = generateIdentity(rng);
  return {
    identity,
    spk: generateSignedPrekey(rng, identity, 1),
    opks: generateOneTimePrekeys(rng, 1, 3),
    credential: rng(32),
  };
}

/**
 * Sends a join on `c` (unchecked, so invalid usernames reach the relay); `signedHash` replaces
 * this connection's handshake hash in the signature.
 */
function join(
  c: RawClient,
  invite: Uint8Array,
  username: string,
  opts: { keys?: ReturnType<typeof newKeys>; signedHash?: Uint8Array } = {},
): Promise<RelayMessage> {
  const k = opts.keys ?? newKeys(username);
  return c.requestUnchecked({
    t: "join",
    invite,
    username,
    credential: k.credential,
    identity: encodeIdentityPublic(k.identity.publicKey),
    signed_prekey: { key_id: k.spk.id, public_key: k.spk.keyPair.publicKey, signature: k.spk.signature },
    one_time_prekeys: k.opks.map((o) => ({ key_id: o.id, public_key: o.keyPair.publicKey })),
    signature: loginSignature(k.identity, opts.signedHash ?? c.handshakeHash),
  });
}

async function lookup(username: string): Promise<RelayMessage> {
  const c = await RawClient.ready(r);
  await c.loginAs(w.bob);
  const reply = await c.request<"lookup_user">({ t: "lookup_user", username });
  c.close();
  return reply;
}

function errorOf(m: RelayMessage): RelayMessageOf<"error"> {
  expect(m.t).toBe("error");
  return m as RelayMessageOf<"error">;
}

describe("join", () => {
  test("an unknown, used-up or expired invite: INVITE_INVALID, and the connection stays usable", async () => {
    const c = await RawClient.ready(r, { localAddress: freshAddress() });

    expect(await join(c, new Uint8Array(randomBytes(32)), "ivy")).toMatchObject({ t: "error", code: "INVITE_INVALID" });

    const once = await r.invite({ uses: 1 });
    const first = await RawClient.ready(r);
    expect(await join(first, once, "ivy")).toMatchObject({ t: "joined", username: "ivy", is_admin: false });
    first.close();
    expect(await join(c, once, "ivy2")).toMatchObject({ t: "error", code: "INVITE_INVALID" });

    const expired = await r.invite({ uses: 5, expiresInMs: -1000 });
    expect(await join(c, expired, "ivy3")).toMatchObject({ t: "error", code: "INVITE_INVALID" });

    expect(ERROR_CODES.INVITE_INVALID.closes).toBe(false);
    expect(c.closed).toBe(false);
    for (const name of ["ivy2", "ivy3"]) expect(await lookup(name)).toMatchObject({ t: "error", code: "USER_UNKNOWN" });
    c.close();
    await expectServing(r, w);
  });

  test("a username taken in another case: USERNAME_TAKEN, and the invite is not used up", async () => {
    const c = await RawClient.ready(r, { localAddress: freshAddress() });
    const invite = await r.invite({ uses: 1 });
    for (const taken of ["ALICE", "Bob", "alice"]) {
      expect(await join(c, invite, taken)).toMatchObject({ t: "error", code: "USERNAME_TAKEN" });
    }
    expect(await join(c, invite, "Alice2")).toMatchObject({ t: "joined", username: "alice2" });
    c.close();
    await expectServing(r, w);
  });

  test("an invalid username: BAD_MESSAGE naming join.username, and the invite is not used up", async () => {
    const c = await RawClient.ready(r, { localAddress: freshAddress() });
    const invite = await r.invite({ uses: 1 });
    for (const bad of ["ab", "-dash-first", "x".repeat(33), "with space", "ünïcode", "kelvin\u212a", ""]) {
      const err = errorOf(await join(c, invite, bad));
      expect(err.code, bad).toBe("BAD_MESSAGE");
      expect(err.message).toContain("join.username");
      expect(err.id).toBeDefined();
    }
    expect(c.closed).toBe(false);
    expect(await join(c, invite, "valid.name_1")).toMatchObject({ t: "joined", username: "valid.name_1" });
    c.close();
    await expectServing(r, w);
  });

  test("a join signed over another handshake hash: AUTH_FAILED, no account, the invite is not used up", async () => {
    const c = await RawClient.ready(r, { localAddress: freshAddress() });
    const other = await RawClient.ready(r);
    const invite = await r.invite({ uses: 1 });
    const keys = newKeys("mallory");
    expect(await join(c, invite, "mallory", { keys, signedHash: other.handshakeHash })).toMatchObject({
      t: "error",
      code: "AUTH_FAILED",
    });
    expect(await join(c, invite, "mallory", { keys, signedHash: new Uint8Array(32) })).toMatchObject({
      t: "error",
      code: "AUTH_FAILED",
    });
    expect(await lookup("mallory")).toMatchObject({ t: "error", code: "USER_UNKNOWN" });
    // The same keys, signed for the connection that carries them, are accepted.
    expect(await join(other, invite, "mallory", { keys })).toMatchObject({ t: "joined", username: "mallory" });
    c.close();
    other.close();
    await expectServing(r, w);
  });

  test("the first account from an admin invite is an admin; from a plain invite it is not", async () => {
    const c = await RawClient.ready(r, { localAddress: freshAddress() });
    const keys = newKeys("root");
    expect(await join(c, await r.invite({ admin: true }), "root", { keys })).toMatchObject({
      t: "joined",
      username: "root",
      is_admin: true,
    });
    c.close();
    const again = await RawClient.ready(r);
    expect(await again.login("root", keys.credential, keys.identity)).toMatchObject({
      t: "logged_in",
      username: "root",
      is_admin: true,
    });
    again.close();

    const plain = await RawClient.ready(r);
    expect(await join(plain, await r.invite(), "pleb")).toMatchObject({
      t: "joined",
      username: "pleb",
      is_admin: false,
    });
    plain.close();
    expect((await r.relay.store.accountByUsername("root"))?.isAdmin).toBe(true);
    expect((await r.relay.store.accountByUsername("pleb"))?.isAdmin).toBe(false);
  });
});

describe("login", () => {
  let carol: TestUser;
  beforeAll(async () => {
    carol = await joinUser(r, "carol");
    carol.client.close();
  });

  test("a wrong credential, a wrong signature and a nonexistent account get the very same error frame", async () => {
    const stranger = newKeys("stranger");
    const attempts: [string, (c: RawClient) => Promise<RelayMessage>][] = [
      ["wrong credential", (c) => c.login("carol", new Uint8Array(randomBytes(32)), carol.identity)],
      ["signed by another identity", (c) => c.login("carol", carol.credential, stranger.identity)],
      ["no such account", (c) => c.login("nobody-here", stranger.credential, stranger.identity)],
      ["no such account, carol's keys", (c) => c.login("carol-not", carol.credential, carol.identity)],
    ];
    const frames: RelayMessage[] = [];
    for (const [what, attempt] of attempts) {
      const c = await RawClient.ready(r, { localAddress: freshAddress() });
      const reply = await attempt(c); // each the first request of its connection: the same id
      expect(reply, what).toMatchObject({ t: "error", code: "AUTH_FAILED" });
      expect(c.closed).toBe(false);
      frames.push(reply);
      c.close();
    }
    for (const f of frames) expect(f).toEqual(frames[0]);

    // Two failures for carol are below the backoff: her own login still works.
    const ok = await RawClient.ready(r, { localAddress: freshAddress() });
    expect(await ok.login("carol", carol.credential, carol.identity)).toMatchObject({
      t: "logged_in",
      username: "carol",
    });
    ok.close();
    await expectServing(r, w);
  });

  test("a login signature captured on one connection is refused on another", async () => {
    const address = freshAddress();
    const a = await RawClient.ready(r, { localAddress: address });
    const b = await RawClient.ready(r, { localAddress: address });
    const signatureForA = loginSignature(carol.identity, a.handshakeHash);
    const replayed = await b.request<"login">({
      t: "login",
      username: "carol",
      credential: carol.credential,
      signature: signatureForA,
    });
    expect(replayed).toMatchObject({ t: "error", code: "AUTH_FAILED" });
    expect(errorOf(replayed).message).toBe("login failed");
    // The captured login is genuine: on the connection it was made for, it logs in.
    const genuine = await a.request<"login">({
      t: "login",
      username: "carol",
      credential: carol.credential,
      signature: signatureForA,
    });
    expect(genuine).toMatchObject({ t: "logged_in", username: "carol" });
    a.close();
    b.close();
    await expectServing(r, w);
  });

  test("failures for one account from many addresses do not lock its owner out", async () => {
    const dave = await joinUser(r, "dave");
    // Ten failures for dave, each from another address (someone who knows his username).
    for (let i = 0; i < 10; i++) {
      const c = await RawClient.ready(r, { localAddress: freshAddress() });
      expect(await c.login("dave", new Uint8Array(32), dave.identity)).toMatchObject({
        t: "error",
        code: "AUTH_FAILED",
      });
      c.close();
    }
    const c = await RawClient.ready(r, { localAddress: freshAddress() });
    expect(await c.login("dave", dave.credential, dave.identity)).toMatchObject({ t: "logged_in", username: "dave" });
    c.close();
    // dave's session from before the failures is untouched.
    expect(await dave.client.request<"lookup_user">({ t: "lookup_user", username: "dave" })).toMatchObject({
      t: "user",
    });
    dave.client.close();
    await expectServing(r, w);
  });

  test("after 3 failures from one address, its next login is RATE_LIMITED even with the right credential", async () => {
    const address = freshAddress();
    const c = await RawClient.ready(r, { localAddress: address });
    for (const ghost of ["ghost1", "ghost2", "ghost3"]) {
      expect(await c.login(ghost, new Uint8Array(32), carol.identity)).toMatchObject({
        t: "error",
        code: "AUTH_FAILED",
      });
    }
    expect(await c.login("carol", carol.credential, carol.identity)).toMatchObject({
      t: "error",
      code: "RATE_LIMITED",
    });
    const next = await RawClient.ready(r, { localAddress: address }); // a new connection does not reset it
    expect(await next.login("carol", carol.credential, carol.identity)).toMatchObject({
      t: "error",
      code: "RATE_LIMITED",
    });
    // Joining from that address waits too.
    expect(await join(next, await r.invite(), "newcomer")).toMatchObject({ t: "error", code: "RATE_LIMITED" });
    c.close();
    next.close();
    // Other addresses are unaffected: carol logs in from one, alice sends from another.
    const elsewhere = await RawClient.ready(r, { localAddress: freshAddress() });
    expect(await elsewhere.login("carol", carol.credential, carol.identity)).toMatchObject({ t: "logged_in" });
    elsewhere.close();
    await expectServing(r, w, freshAddress());
    await expectServing(r, w);
  });

  test("a disabled account: ACCOUNT_DISABLED and closed, but only for the right credential", async () => {
    const frank = await joinUser(r, "frank");
    frank.client.close();
    await r.relay.store.setDisabled("frank", true);
    const wrong = await RawClient.ready(r, { localAddress: freshAddress() });
    expect(await wrong.login("frank", new Uint8Array(32), frank.identity)).toMatchObject({
      t: "error",
      code: "AUTH_FAILED",
    });
    wrong.close();

    const c = await RawClient.ready(r, { localAddress: freshAddress() });
    expect(await c.login("frank", frank.credential, frank.identity)).toMatchObject({
      t: "error",
      code: "ACCOUNT_DISABLED",
    });
    await c.waitClosed();
    expect(ERROR_CODES.ACCOUNT_DISABLED.closes).toBe(true);
    // Others asking for frank are told the account is disabled, not that no frank exists.
    expect(await lookup("frank")).toMatchObject({
      t: "error",
      code: "USER_DISABLED",
      message: "frank's account was disabled by the relay's operator",
    });
    expect(ERROR_CODES.USER_DISABLED.closes).toBe(false);

    await r.relay.store.setDisabled("frank", false);
    const back = await RawClient.ready(r);
    expect(await back.login("frank", frank.credential, frank.identity)).toMatchObject({
      t: "logged_in",
      username: "frank",
    });
    back.close();
    await expectServing(r, w);
  });
});
