/**
 * What a connection may send after a passphrase_login and before it registers a device
 * (SECURITY.md §18.6): backup_get, fetch_device_list of the account it logged in to (the new
 * device must sign a list that keeps every device of the stored one, so it must read it),
 * §17's device registration (publish_device_list adding exactly one device, then
 * register_device for the same account) and ping (answered by dispatch). It holds no device of
 * the account, so anything else is NOT_AUTHENTICATED.
 */
import type { ClientMessage } from "../../src/wire/index.js";
import { RelayError } from "../errors.js";
import { handleRegisterDevice } from "./auth.js";
import { publishDeviceList } from "./devices.js";
import type { HandlerConnection } from "./handler-connection.js";
import { handleBackupGet } from "./passphrase.js";

export async function dispatchPassphrasePhase(conn: HandlerConnection, msg: ClientMessage): Promise<void> {
  const session = conn.ctx.passphrase.session(conn);
  if (!session) throw new RelayError("NOT_AUTHENTICATED", "log in or join first");
  switch (msg.t) {
    case "backup_get":
      return handleBackupGet(conn, msg);
    case "fetch_device_list": {
      if (msg.username !== session.username)
        throw new RelayError(
          "NOT_AUTHENTICATED",
          `this connection logged in with the passphrase of ${session.username}`,
        );
      const stored = await conn.ctx.store.deviceList(session.accountId);
      const devices = await conn.ctx.store.devicesOf(session.accountId);
      // The highest id ever listed (§17.8): the new device's id goes above it, a removed one included.
      const highest = devices.length > 0 ? Math.max(...devices.map((d) => d.deviceId)) : undefined;
      conn.send({
        t: "device_list",
        id: msg.id,
        username: session.username,
        ...(stored ? { list: stored.list } : {}),
        ...(highest !== undefined ? { highest } : {}),
      });
      return;
    }
    case "publish_device_list": {
      const account = await conn.ctx.store.accountById(session.accountId);
      if (!account || account.disabled) throw new RelayError("AUTH_FAILED", "login failed");
      await publishDeviceList(conn.ctx, account, msg.list, "add_one", () => conn.send({ t: "ok", id: msg.id }));
      return;
    }
    case "register_device":
      if (msg.username !== session.username)
        throw new RelayError(
          "NOT_AUTHENTICATED",
          `this connection logged in with the passphrase of ${session.username}`,
        );
      return handleRegisterDevice(conn, msg);
    default:
      throw new RelayError("NOT_AUTHENTICATED", "after a passphrase log-in, register a device first");
  }
}
