/** Prekey upload, bundle fetch (each one-time prekey handed out once) and identity lookup. */
import { verifyBundle } from "../../crypto/prekeys.js";
import { decodeIdentityPublic } from "../../crypto/identity.js";
import { type ClientMessageOf, encodeMessageFrame } from "../../src/wire/index.js";
import { RelayError } from "../errors.js";
import type { HandlerConnection, SessionAccount } from "./handler-connection.js";
import type { Account } from "../store/index.js";

export async function accountNamed(conn: HandlerConnection, username: string): Promise<Account> {
  const account = await conn.ctx.store.accountByUsername(username);
  if (!account) throw new RelayError("USER_UNKNOWN", `no user named ${username}`);
  // Said as such: "no user named" would send the sender looking for a typo.
  if (account.disabled)
    throw new RelayError("USER_DISABLED", `${account.username}'s account was disabled by the relay's operator`);
  return account;
}

/** Prekeys of the logged-in device (SECURITY.md §17.8): a signed prekey must verify under that device's key. */
export async function handleUploadPrekeys(
  conn: HandlerConnection,
  self: SessionAccount,
  msg: ClientMessageOf<"upload_prekeys">,
): Promise<void> {
  const { store } = conn.ctx;
  if (msg.signed_prekey) {
    const own = await store.device(self.id, self.device);
    if (!own || own.removedAt !== null) throw new RelayError("DEVICE_REMOVED", "this device was removed from its account");
    const spk = msg.signed_prekey;
    try {
      verifyBundle({
        identity: decodeIdentityPublic(own.identity),
        signedPrekey: { id: spk.key_id, publicKey: spk.public_key, signature: spk.signature },
      });
    } catch {
      throw new RelayError("BAD_MESSAGE", "upload_prekeys.signed_prekey: the signature does not verify");
    }
    await store.putSignedPrekey(
      self.id,
      { keyId: spk.key_id, publicKey: spk.public_key, signature: spk.signature },
      new Date(conn.ctx.now()),
      self.device,
    );
  }
  await store.addOneTimePrekeys(
    self.id,
    msg.one_time_prekeys.map((k) => ({ keyId: k.key_id, publicKey: k.public_key })),
    self.device,
  );
  conn.send({ t: "prekeys_stored", id: msg.id, stock: await store.oneTimePrekeyCount(self.id, self.device) });
}

/**
 * The bundle of one device of the target (SECURITY.md §17.8; absent `device`: device 1); the
 * reply always names the device. A device that is not in the target's current list (never
 * listed, or removed; for an account without a list anything but 1) is DEVICE_UNKNOWN.
 */
export async function handleFetchBundle(conn: HandlerConnection, msg: ClientMessageOf<"fetch_bundle">): Promise<void> {
  // Each fetch consumes one of the target's one-time prekeys: bound how fast anyone can do it.
  if (!conn.takeBundleToken()) throw new RelayError("RATE_LIMITED", "too many bundle requests; retry later");
  const target = await accountNamed(conn, msg.username);
  const deviceId = msg.device ?? 1;
  const bundle = await conn.ctx.store.takeBundle(target.id, deviceId);
  if (!bundle) {
    if (!(await conn.ctx.store.currentDeviceIds(target.id)).includes(deviceId))
      throw new RelayError("DEVICE_UNKNOWN", `${target.username} has no device ${deviceId}`);
    throw new RelayError("USER_UNKNOWN", `${msg.username} has published no keys`);
  }
  conn.send({
    t: "bundle",
    id: msg.id,
    username: target.username,
    identity: bundle.identity,
    signed_prekey: {
      key_id: bundle.signedPrekey.keyId,
      public_key: bundle.signedPrekey.publicKey,
      signature: bundle.signedPrekey.signature,
    },
    ...(bundle.oneTimePrekey
      ? { one_time_prekey: { key_id: bundle.oneTimePrekey.keyId, public_key: bundle.oneTimePrekey.publicKey } }
      : {}),
    device: deviceId,
  });
  // Tell the device, if online here, that its stock is running low.
  const stock = await conn.ctx.store.oneTimePrekeyCount(target.id, deviceId);
  if (stock < conn.ctx.config.limits.prekeyLowWatermark) {
    const frame = encodeMessageFrame({ t: "prekeys_low", stock });
    for (const c of conn.ctx.presence.connectionsOf(target.id) ?? [])
      if (c.deviceId === deviceId) c.push(frame, "prekeys_low");
  }
}

export async function handleLookupUser(conn: HandlerConnection, msg: ClientMessageOf<"lookup_user">): Promise<void> {
  const target = await accountNamed(conn, msg.username);
  conn.send({ t: "user", id: msg.id, username: target.username, identity: target.identity });
}
