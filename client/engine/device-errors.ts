/**
 * What `smsg device …` says when it cannot do what was asked (SECURITY.md §17.7, §17.8): one
 * sentence each, with a code whose exit code README's table gives (client/commands/exit.ts).
 * In every case nothing was changed, on the relay or in the profile.
 */
import { RemoteError, SmsgError } from "../../src/errors.js";
import type { ConnectionClosedError, TimeoutError } from "../../src/transport/errors.js";

/** The account's accepted list has no device `id`. Code DEVICE_UNKNOWN (exit 13, "one of their devices"). */
export class DeviceNotListedError extends SmsgError {
  constructor(id: number) {
    super("DEVICE_UNKNOWN", `your account has no device ${id} (smsg device list shows its devices)`);
  }
}

/** Removing the only device would leave a list of no devices, which §17.3 does not allow. Code USAGE. */
export class LastDeviceError extends SmsgError {
  constructor(id: number) {
    super("USAGE", `device ${id} is your account's only device: an account keeps at least one`);
  }
}

/**
 * The relay refused the list we signed (`publish_device_list`, §17.8). Keeps the relay's code
 * (so its exit code); DEVICE_LIST_STALE (another device published a newer list meanwhile) and
 * DEVICE_REMOVED (this device is no longer listed) get a sentence of their own.
 */
export class DeviceListRefusedError extends SmsgError {
  constructor(cause: RemoteError) {
    super(
      cause.code,
      cause.code === "DEVICE_LIST_STALE"
        ? "another device of your account changed its device list meanwhile: nothing was changed; run the command again"
        : cause.code === "DEVICE_REMOVED"
          ? "this device was removed from your account: it can no longer change the account's devices"
          : `the relay refused the new device list (${cause.message}): nothing was changed`,
      { cause },
    );
  }
}

/**
 * The connection ended (or timed out) before the relay answered `publish_device_list`: the
 * relay may hold the new list or not. The profile was not changed; the next refresh takes the
 * relay's list, whichever it is (§17.4). Keeps the cause's code (exit 8, the relay unreachable).
 */
export class DeviceListUnconfirmedError extends SmsgError {
  constructor(what: string, cause: TimeoutError | ConnectionClosedError) {
    super(
      cause.code === "TIMEOUT" ? "TIMEOUT" : "CONNECTION_CLOSED",
      `the relay did not confirm the new device list (${cause.message}): ${what} may or may not have happened; ` +
        "smsg device list shows the account's devices as the relay has them",
      { cause },
    );
  }
}

/**
 * `smsg device link`: the account's list now holds the new device (published and stored), but
 * the grant did not reach it (the link or the connection ended after the user confirmed). The
 * device can never register without the grant; removing it keeps the list honest. Code
 * LINK_UNKNOWN (exit 11).
 */
export class DeviceAddedUngrantedError extends SmsgError {
  constructor(id: number, cause: unknown) {
    super(
      "LINK_UNKNOWN",
      `device ${id} was added to your account, but the new device did not get its keys (${
        cause instanceof Error ? cause.message : String(cause)
      }): remove it with smsg device remove ${id}, then link again`,
      { cause },
    );
  }
}
