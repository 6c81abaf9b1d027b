/**
 * join, login and register_device (SECURITY.md §10.4, §17.8). Both prove possession of the identity key by signing
 * this connection's Noise handshake hash, so neither a stolen database (it holds only SHA-256
 * hashes of credentials) nor a login captured on another connection can log in.
 *
 * A failed login looks the same whether or not the account exists: the same answer, and the
 * same work (a hash comparison and a signature verification against a dummy account).
 */
import { bytesEqual, utf8 } from "../../crypto/bytes.js";
import { SmsgError } from "../../src/errors.js";
import {
  decodeIdentityPublic,
  generateIdentity,
  encodeIdentityPublic,
  type IdentityPublic,
} from "../../crypto/identity.js";
import { verifyBundle } from "../../crypto/prekeys.js";
import { ctEqual, ed25519Verify, sha256 } from "../../crypto/primitives.js";
import { seededRng } from "../../crypto/rng.js";
import { relayLoginMessage } from "../../crypto/signed-messages.js";
import type { ClientMessageOf } from "../../src/wire/index.js";
import { RelayError } from "../errors.js";
import type { HandlerConnection, SessionAccount } from "./handler-connection.js";
import { touchLastSeen } from "../store/account-admin.js";

/** Stand-ins for a missing account, so a failed login costs the same either way. */
const DUMMY_IDENTITY: IdentityPublic = generateIdentity(
  seededRng(utf8("SMSG-v1 relay dummy login identity")),
).publicKey;
const DUMMY_IDENTITY_BYTES = encodeIdentityPublic(DUMMY_IDENTITY);
const DUMMY_CREDENTIAL_HASH = sha256(utf8("SMSG-v1 relay dummy credential"));

/**
 * Checks the login signature: Ed25519(identity, L("SMSG-v1 relay login") || handshake hash),
 * with the strict verification of SECURITY.md §2 (exported for test/crypto/signature-places.test.ts).
 */
export function loginSignatureValid(
  identity: IdentityPublic,
  handshakeHash: Uint8Array,
  signature: Uint8Array,
): boolean {
  return ed25519Verify(identity.signingKey, relayLoginMessage(handshakeHash), signature);
}

/** Refuses (RATE_LIMITED) while any of `keys` waits out its backoff (§14.7); shared with passphrase and link requests. */
export function backoffWait(conn: HandlerConnection, keys: string[]): void {
  const now = conn.ctx.now();
  const wait = Math.max(...keys.map((k) => conn.ctx.backoff.waitMs(k, now)));
  if (wait > 0) {
    conn.ctx.counters.loginFailed("rate_limited");
    throw new RelayError("RATE_LIMITED", `too many failed attempts; retry in ${Math.ceil(wait / 1000)} s`);
  }
}

function loggedIn(conn: HandlerConnection, account: SessionAccount): void {
  conn.account = account;
  conn.phase = "ready";
  conn.ctx.presence.add(account.id, conn, account.username);
  noteLastSeen(conn);
}

/**
 * Records the account's and the device's activity (for `relay accounts`, and `seen` in
 * `device_list`, SECURITY.md §17.8); never holds up or fails the request.
 */
export function noteLastSeen(conn: HandlerConnection): void {
  const { ctx, account } = conn;
  if (!account) return;
  const at = new Date(ctx.now());
  const warn = (e: unknown) =>
    ctx.log.warn({ err: e instanceof Error ? e.message : String(e) }, "could not record when an account was last seen");
  touchLastSeen(ctx.store.db, account.id, at).catch(warn);
  ctx.store.touchDeviceLastSeen(account.id, account.device, at).catch(warn);
}

export async function handleJoin(conn: HandlerConnection, msg: ClientMessageOf<"join">): Promise<void> {
  const { ctx } = conn;
  const addrKey = `addr:${conn.remoteAddress}`;
  backoffWait(conn, [addrKey]);
  let identity: IdentityPublic;
  try {
    identity = decodeIdentityPublic(msg.identity);
  } catch (e) {
    if (!(e instanceof SmsgError)) throw e;
    throw new RelayError("BAD_MESSAGE", "join.identity: not an identity key whose signature verifies");
  }
  if (!loginSignatureValid(identity, conn.handshakeHash, msg.signature)) {
    ctx.backoff.fail(addrKey, ctx.now());
    ctx.counters.loginFailed("auth_failed");
    throw new RelayError("AUTH_FAILED", "the join signature does not verify for this connection");
  }
  const spk = msg.signed_prekey;
  try {
    verifyBundle({ identity, signedPrekey: { id: spk.key_id, publicKey: spk.public_key, signature: spk.signature } });
  } catch {
    throw new RelayError("BAD_MESSAGE", "join.signed_prekey: the signature does not verify");
  }
  const result = await ctx.store.createAccountWithInvite({
    inviteCodeHash: sha256(msg.invite),
    username: msg.username,
    credentialHash: sha256(msg.credential),
    identity: encodeIdentityPublic(identity),
    signedPrekey: { keyId: spk.key_id, publicKey: spk.public_key, signature: spk.signature },
    oneTimePrekeys: msg.one_time_prekeys.map((k) => ({ keyId: k.key_id, publicKey: k.public_key })),
    now: new Date(ctx.now()),
  });
  if (!result.ok) {
    if (result.reason === "invite_invalid") {
      ctx.backoff.fail(addrKey, ctx.now());
      ctx.counters.loginFailed("invite_invalid");
      throw new RelayError("INVITE_INVALID", "the invite is unknown, used up or expired");
    }
    ctx.counters.loginFailed("username_taken");
    throw new RelayError("USERNAME_TAKEN", `the username ${msg.username} is taken`);
  }
  const a = result.account;
  loggedIn(conn, { id: a.id, username: a.username, isAdmin: a.isAdmin, device: 1 });
  ctx.counters.accountsCreated++;
  ctx.log.info({ account: a.username, admin: a.isAdmin }, "account created");
  conn.send({ t: "joined", id: msg.id, username: a.username, is_admin: a.isAdmin });
}

/**
 * Backoff is per remote address only. A login needs the account's 256-bit random credential
 * and a signature by its identity key, neither of which can be guessed, so counting failures
 * per account would protect nothing and let anyone who knows a username lock its owner out.
 *
 * The login is a device's (SECURITY.md §17.8; absent `device`: device 1, the account key):
 * the signature is checked under that device's key and the credential against that device's
 * hash. An unknown account, a device id it never listed and one listed but not registered
 * yet all run both checks against the dummy and fail alike. A removed device that gets both
 * right is told so (DEVICE_REMOVED, which closes): it proved it holds that device.
 */
export async function handleLogin(conn: HandlerConnection, msg: ClientMessageOf<"login">): Promise<void> {
  const { ctx } = conn;
  const addrKey = `addr:${conn.remoteAddress}`;
  backoffWait(conn, [addrKey]);
  const deviceId = msg.device ?? 1;
  const account = await ctx.store.accountByUsername(msg.username);
  // Looked up for a missing account too (id 0 is never an account): the same work either way.
  const device = await ctx.store.device(account?.id ?? 0, deviceId);
  let identity: ReturnType<typeof decodeIdentityPublic>;
  try {
    // Decoded (its binding signature verified) for a missing device too: the same work either way.
    identity = decodeIdentityPublic(device?.identity ?? DUMMY_IDENTITY_BYTES);
  } catch {
    identity = DUMMY_IDENTITY;
  }
  // Both checks always run, against the dummy when the account or device does not exist.
  const credentialOk = ctEqual(sha256(msg.credential), device?.credentialHash ?? DUMMY_CREDENTIAL_HASH);
  const signatureOk = loginSignatureValid(identity, conn.handshakeHash, msg.signature);
  if (!account || !device || device.credentialHash === null || !credentialOk || !signatureOk) {
    ctx.backoff.fail(addrKey, ctx.now());
    ctx.counters.loginFailed("auth_failed");
    throw new RelayError("AUTH_FAILED", "login failed");
  }
  // A valid login does not clear the address's count, or a member could interleave attempts
  // at other accounts with its own logins.
  if (device.removedAt !== null) {
    ctx.counters.loginFailed("auth_failed");
    throw new RelayError("DEVICE_REMOVED", "this device was removed from its account");
  }
  if (account.disabled) {
    ctx.counters.loginFailed("account_disabled");
    throw new RelayError("ACCOUNT_DISABLED", "this account was disabled by the relay's operator");
  }
  loggedIn(conn, { id: account.id, username: account.username, isAdmin: account.isAdmin, device: deviceId });
  // A removal that committed after the read above closed the connections presence held then,
  // not this one: read the device again now that this connection is in presence (§17.8).
  // One indexed read per login (review L4).
  const again = await ctx.store.device(account.id, deviceId);
  if (again?.removedAt != null) throw new RelayError("DEVICE_REMOVED", "this device was removed from its account");
  ctx.counters.logins++;
  await sendLoggedIn(conn, msg.id, account.username, account.isAdmin);
}

/** `logged_in` with the device's one-time prekey stock, and `prekeys_low` when it is low. */
async function sendLoggedIn(conn: HandlerConnection, id: number, username: string, isAdmin: boolean): Promise<void> {
  const { ctx, account } = conn;
  const stock = await ctx.store.oneTimePrekeyCount(account!.id, account!.device);
  conn.send({ t: "logged_in", id, username, is_admin: isAdmin, stock });
  if (stock < ctx.config.limits.prekeyLowWatermark) conn.send({ t: "prekeys_low", stock });
}

/**
 * `register_device` (SECURITY.md §17.8), before login: a device that the account's current
 * list holds with exactly `identity` stores its credential hash and prekeys, and the
 * connection is logged in as it. The checks are join's (§14.7): the identity's own signature,
 * the login signature under the device's key (a failure counts towards the address's backoff),
 * the signed prekey under it; then, atomically, the list. An unknown username, a device the
 * list does not hold and a listed device with other keys are the same DEVICE_UNKNOWN (and
 * count as failures), so it tells no one which usernames exist; a device that registered
 * before with another credential is AUTH_FAILED.
 */
export async function handleRegisterDevice(
  conn: HandlerConnection,
  msg: ClientMessageOf<"register_device">,
): Promise<void> {
  const { ctx } = conn;
  const addrKey = `addr:${conn.remoteAddress}`;
  backoffWait(conn, [addrKey]);
  let identity: IdentityPublic;
  try {
    identity = decodeIdentityPublic(msg.identity);
  } catch (e) {
    if (!(e instanceof SmsgError)) throw e;
    throw new RelayError("BAD_MESSAGE", "register_device.identity: not an identity key whose signature verifies");
  }
  if (!loginSignatureValid(identity, conn.handshakeHash, msg.signature)) {
    ctx.backoff.fail(addrKey, ctx.now());
    ctx.counters.loginFailed("auth_failed");
    throw new RelayError("AUTH_FAILED", "the registration signature does not verify for this connection");
  }
  const spk = msg.signed_prekey;
  try {
    verifyBundle({ identity, signedPrekey: { id: spk.key_id, publicKey: spk.public_key, signature: spk.signature } });
  } catch {
    throw new RelayError("BAD_MESSAGE", "register_device.signed_prekey: the signature does not verify");
  }
  const account = await ctx.store.accountByUsername(msg.username);
  const encoded = encodeIdentityPublic(identity);
  if (account?.disabled) {
    // Nothing is stored for a disabled account; it is named only to a device it lists.
    const listed = await ctx.store.device(account.id, msg.device);
    if (listed && listed.removedAt === null && bytesEqual(listed.identity, encoded)) {
      ctx.counters.loginFailed("account_disabled");
      throw new RelayError("ACCOUNT_DISABLED", "this account was disabled by the relay's operator");
    }
  }
  const result =
    account && !account.disabled
      ? await ctx.store.registerDevice({
          accountId: account.id,
          deviceId: msg.device,
          identity: encoded,
          credentialHash: sha256(msg.credential),
          signedPrekey: { keyId: spk.key_id, publicKey: spk.public_key, signature: spk.signature },
          oneTimePrekeys: msg.one_time_prekeys.map((k) => ({ keyId: k.key_id, publicKey: k.public_key })),
          now: new Date(ctx.now()),
        })
      : ({ ok: false, reason: "not_listed" } as const);
  if (!account || !result.ok) {
    ctx.backoff.fail(addrKey, ctx.now());
    ctx.counters.loginFailed("auth_failed");
    if (result.ok || result.reason === "not_listed")
      throw new RelayError("DEVICE_UNKNOWN", `the device list of ${msg.username} holds no such device`);
    throw new RelayError("AUTH_FAILED", "this device registered before with another credential");
  }
  loggedIn(conn, { id: account.id, username: account.username, isAdmin: account.isAdmin, device: msg.device });
  ctx.counters.logins++;
  ctx.log.info({ account: account.username, device: msg.device }, "device registered");
  conn.send({ t: "joined", id: msg.id, username: account.username, is_admin: account.isAdmin });
}
