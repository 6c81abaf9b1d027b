/**
 * What the user is told about a device list the client checked (SECURITY.md §17.4's table):
 * one pure function from the acceptance decision to engine events, so the table is tested by
 * itself and every caller (the relay's answer, a `device_list` message inside the encryption)
 * reports the same way.
 */
import type { DeviceListDecision } from "../../crypto/device-list-acceptance.js";
import type { DeviceListEvent } from "./events.js";

/** Where a list came from: the relay (`fetch_device_list`) or a device of the account, inside the encryption. */
export type DeviceListSource = "relay" | "encrypted";

/**
 * The events a decision raises: accepted with devices added or removed (not on the first
 * acceptance for an account, which is trust on first use like a pinned key, §17.4), a
 * rollback served by the relay (silent inside the encryption), a list the account did not
 * sign (or malformed, or of another account), a conflict, a removed device brought back or a
 * key changed. A replay says nothing. `nameOf` gives a device's name where known (§17.7).
 */
export function deviceListEvents(
  user: string,
  own: boolean,
  decision: DeviceListDecision,
  source: DeviceListSource,
  firstAcceptance: boolean,
  nameOf: (device: number) => string | null = () => null,
): DeviceListEvent[] {
  const ev = (
    outcome: DeviceListEvent["outcome"],
    devices: readonly number[],
    version: number | null,
    acceptedVersion: number | null = null,
  ): DeviceListEvent => ({
    type: "device_list",
    user,
    own,
    outcome,
    devices,
    names: devices.map(nameOf),
    version,
    acceptedVersion,
  });
  if (decision.accepted) {
    if (firstAcceptance) return [];
    const version = decision.state.list.version;
    const out: DeviceListEvent[] = [];
    if (decision.added.length > 0)
      out.push(
        ev(
          "added",
          decision.added.map((d) => d.id),
          version,
        ),
      );
    if (decision.removed.length > 0)
      out.push(
        ev(
          "removed",
          decision.removed.map((d) => d.id),
          version,
        ),
      );
    return out;
  }
  const r = decision.refusal;
  switch (r.reason) {
    case "replayed":
      return [];
    case "rolled_back":
      return source === "relay" ? [ev("rolled_back", [], r.version, r.acceptedVersion)] : [];
    case "conflict":
      return [ev("conflict", [], r.version)];
    case "removed_device_returned":
    case "device_key_changed":
      return [ev("returned", [r.deviceId], null)];
    case "bad_certificate":
      return [ev("refused", [r.deviceId], null)];
    case "bad_signature":
    case "wrong_account":
    case "malformed":
      return [ev("refused", [], null)];
  }
}
