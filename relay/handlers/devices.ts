/**
 * The device list of an account on the relay (SECURITY.md §17.8): publishing a new one,
 * fetching one, and the versions of several (so a client fetches only the lists that changed).
 * The relay verifies every list it stores under the account key (§17.3, §17.2), so an honest
 * relay refuses one the account did not sign; clients never rely on it (§17.4).
 */
import { CodecError } from "../../src/errors.js";
import { decodeDeviceList, verifyDeviceList } from "../../crypto/device-list.js";
import { decodeIdentityPublic, encodeIdentityPublic, identityKey } from "../../crypto/identity.js";
import type { ClientMessageOf } from "../../src/wire/index.js";
import type { RelayContext } from "../context.js";
import { RelayError } from "../errors.js";
import type { Account, NewDeviceList } from "../store/index.js";
import type { HandlerConnection, SessionAccount } from "./handler-connection.js";
import { accountNamed } from "./keys.js";

/**
 * Decodes, verifies and stores `list` as the account's current list, then closes the removed
 * devices' connections and tells the account's devices and its chat peers
 * (`device_list_changed`). `by` is the publishing device, or "add_one" for a connection that
 * holds no device of the account (after `passphrase_login`, §18.6), which may only add exactly
 * one device. Throws a RelayError, having changed nothing, for: a list that does not decode,
 * names another account or does not verify under its key (BAD_MESSAGE); a version not above the
 * stored one (DEVICE_LIST_STALE); a publishing device that is no longer listed (DEVICE_REMOVED);
 * a change the relay refuses (BAD_MESSAGE): not "add one" where required, a first list without
 * device 1, an id with other keys than it was listed with, a removed or skipped id coming back.
 * Once stored, `stored` is called (to answer the request before the caller's own connection
 * may be closed, when it removed itself); then the change is announced. Returns the devices added.
 */
export async function publishDeviceList(
  ctx: RelayContext,
  account: Account,
  list: Uint8Array,
  by: NewDeviceList["by"],
  stored: () => void,
): Promise<readonly number[]> {
  let decoded: ReturnType<typeof decodeDeviceList>;
  try {
    decoded = decodeDeviceList(list);
  } catch (e) {
    if (!(e instanceof CodecError)) throw e;
    throw new RelayError("BAD_MESSAGE", `publish_device_list.list: ${e.message}`);
  }
  if (decoded.username !== account.username)
    throw new RelayError("BAD_MESSAGE", "publish_device_list.list: the list names another account");
  const verdict = verifyDeviceList(identityKey(decodeIdentityPublic(account.identity)), list, decoded);
  if (!verdict.ok)
    throw new RelayError(
      "BAD_MESSAGE",
      verdict.reason === "bad_signature"
        ? "publish_device_list.list: the account key did not sign this list"
        : `publish_device_list.list: the certificate of device ${verdict.deviceId} does not verify`,
    );
  const result = await ctx.store.storeDeviceList({
    accountId: account.id,
    version: decoded.version,
    list,
    devices: decoded.devices.map((d) => ({ id: d.id, identity: encodeIdentityPublic(d.identity) })),
    by,
    now: new Date(ctx.now()),
  });
  if (!result.ok) {
    switch (result.reason) {
      case "stale":
        throw new RelayError(
          "DEVICE_LIST_STALE",
          `the stored device list has version ${result.version}: a new list needs a higher one`,
        );
      case "caller_not_listed":
        throw new RelayError("DEVICE_REMOVED", "this device was removed from its account");
      case "not_add_one":
        throw new RelayError("BAD_MESSAGE", "the list must keep every current device and add exactly one");
      case "first_without_device_1":
        throw new RelayError("BAD_MESSAGE", "the first device list of an account must hold device 1");
      case "device_changed":
        throw new RelayError("BAD_MESSAGE", `device ${result.device} is listed with other keys than before`);
      case "device_returned":
        throw new RelayError("BAD_MESSAGE", `device id ${result.device} was used before: ids are never reused`);
    }
  }
  ctx.log.info(
    { account: account.username, version: decoded.version, added: result.added, removed: result.removed },
    "device list stored",
  );
  stored();
  await ctx.deviceEvents.changed({
    account: account.id,
    username: account.username,
    version: decoded.version,
    removed: result.removed,
  });
  return result.added;
}

export async function handlePublishDeviceList(
  conn: HandlerConnection,
  self: SessionAccount,
  msg: ClientMessageOf<"publish_device_list">,
): Promise<void> {
  const account = await conn.ctx.store.accountById(self.id);
  if (!account) throw new RelayError("NOT_AUTHENTICATED", "the account no longer exists");
  // Answered before the announcement, which closes this connection if it removed itself.
  await publishDeviceList(conn.ctx, account, msg.list, { device: self.device }, () =>
    conn.send({ t: "ok", id: msg.id }),
  );
}

/**
 * The stored list (none for an account without one) and, for the caller's own account, when each
 * current device was last seen and the highest device id it ever listed (a new device takes the
 * id above it, §17.1: a removed highest id is not in the current list).
 */
export async function handleFetchDeviceList(
  conn: HandlerConnection,
  self: SessionAccount,
  msg: ClientMessageOf<"fetch_device_list">,
): Promise<void> {
  const { store } = conn.ctx;
  const target = await accountNamed(conn, msg.username);
  const stored = await store.deviceList(target.id);
  const own = target.id === self.id ? await store.devicesOf(target.id) : undefined;
  const seen = own
    ?.filter((d) => d.removedAt === null && d.lastSeenAt !== null)
    .map((d) => ({ device: d.deviceId, at: d.lastSeenAt!.getTime() }));
  // Rows are never deleted (migration 0006), so the highest row is the highest id ever listed.
  const highest = own && own.length > 0 ? Math.max(...own.map((d) => d.deviceId)) : undefined;
  conn.send({
    t: "device_list",
    id: msg.id,
    username: target.username,
    ...(stored ? { list: stored.list } : {}),
    ...(seen ? { seen } : {}),
    ...(highest !== undefined ? { highest } : {}),
  });
}

/**
 * The version of the list the relay holds for each name asked, in order, 0 where
 * `fetch_device_list` would give no list (SECURITY.md §17.8): one statement for all names. It
 * says no more than `fetch_device_list` of each name would (less: no list, no user and a
 * disabled one are all 0), and the version is only a hint to the client (§17.4 still decides).
 * It costs one token of the message rate per name (the frame itself paid the first), so it
 * tells no more names per second than `lookup_user` or `fetch_device_list` could.
 */
export async function handleFetchDeviceListVersions(
  conn: HandlerConnection,
  msg: ClientMessageOf<"fetch_device_list_versions">,
): Promise<void> {
  if (!conn.takeMessageTokens(msg.usernames.length - 1)) {
    throw new RelayError(
      "RATE_LIMITED",
      `${msg.usernames.length} device list versions cost ${msg.usernames.length} of this connection's messages ` +
        `(${conn.ctx.config.limits.messageRate} per second, bursts of ${conn.ctx.config.limits.messageBurst}); retry later`,
    );
  }
  const versions = await conn.ctx.store.deviceListVersions(msg.usernames);
  conn.send({ t: "device_list_versions", id: msg.id, versions });
}
