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

export async function handleUploadPrekeys(
  conn: HandlerConnection,
  self: SessionAccount,
  msg: ClientMessageOf<"upload_prekeys">,
): Promise<void> {
  const { store } = conn.ctx;
  if (msg.signed_prekey) {
    const own = await store.accountById(self.id);
    if (!own) throw new RelayError("NOT_AUTHENTICATED", "the account no longer exists");
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
    );
  }
  await store.addOneTimePrekeys(
    self.id,
    msg.one_time_prekeys.map((k) => ({ keyId: k.key_id, publicKey: k.public_key })),
  );
  conn.send({ t: "prekeys_stored", id: msg.id, stock: await store.oneTimePrekeyCount(self.id) });
}

export async function handleFetchBundle(conn: HandlerConnection, msg: ClientMessageOf<"fetch_bundle">): Promise<void> {
  // Each fetch consumes one of the target's one-time prekeys: bound how fast anyone can do it.
  if (!conn.takeBundleToken()) throw new RelayError("RATE_LIMITED", "too many bundle requests; retry later");
  const target = await accountNamed(conn, msg.username);
  const bundle = await conn.ctx.store.takeBundle(target.id);
  if (!bundle) throw new RelayError("USER_UNKNOWN", `${msg.username} has published no keys`);
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
  });
  // Tell the owner, if online here, that their stock is running low.
  const stock = await conn.ctx.store.oneTimePrekeyCount(target.id);
  if (stock < conn.ctx.config.limits.prekeyLowWatermark) {
    const frame = encodeMessageFrame({ t: "prekeys_low", stock });
    for (const c of conn.ctx.presence.connectionsOf(target.id) ?? []) c.push(frame, "prekeys_low");
  }
}

export async function handleLookupUser(conn: HandlerConnection, msg: ClientMessageOf<"lookup_user">): Promise<void> {
  const target = await accountNamed(conn, msg.username);
  conn.send({ t: "user", id: msg.id, username: target.username, identity: target.identity });
}
