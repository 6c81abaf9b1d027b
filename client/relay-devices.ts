/**
 * The device requests of SECURITY.md §17.8 on one relay connection: fetch and publish a signed
 * device list, ask the versions of several, and send one message as per-device copies. A relay that predates §17 answers
 * each of them UNKNOWN_TYPE; the client then says so in one sentence (DevicesUnsupportedError)
 * and stays one-device (§17.8).
 */
import { ProtocolError, RemoteError, SmsgError } from "../src/errors.js";
import type { RelayClient } from "./relay-client.js";

/**
 * The relay does not serve the requests of §17.8 (it answered UNKNOWN_TYPE). Code NOT_SUPPORTED
 * (exit 19, README's exit-code table: "several devices: update the relay"), as `smsg login`
 * says it for the same relay (passphrase-relay-errors.ts).
 */
export class DevicesUnsupportedError extends SmsgError {
  constructor(options?: { cause?: unknown }) {
    super("NOT_SUPPORTED", "this relay does not support several devices (update the relay)", options);
  }
}

/** True for the relay's answer to a request it does not know (a relay before §17). */
function unsupported(e: unknown): boolean {
  return e instanceof RemoteError && e.code === "UNKNOWN_TYPE";
}

async function devicesCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    if (unsupported(e)) throw new DevicesUnsupportedError({ cause: e });
    throw e;
  }
}

/** What the relay holds for an account (`device_list`, §17.8). */
export interface FetchedDeviceList {
  /** The encoded list as the relay stores it, or null for an account without one (device 1 only). */
  readonly list: Uint8Array | null;
  /** For our own account: when the relay last saw each device log in. */
  readonly seen: readonly { readonly device: number; readonly at: number }[];
  /** For our own account: the highest device id it ever listed (unsigned: too high only skips ids; too low is refused), else null. */
  readonly highest: number | null;
}

/**
 * `fetch_device_list`: the relay's current list of `username` (unverified: the caller runs
 * §17.4 on it). Throws DevicesUnsupportedError, or what RelayClient.request throws.
 */
export async function fetchDeviceList(relay: RelayClient, username: string): Promise<FetchedDeviceList> {
  const r = await devicesCall(() => relay.request<"fetch_device_list">({ t: "fetch_device_list", username }));
  return { list: r.list ?? null, seen: r.seen ?? [], highest: r.highest ?? null };
}

/**
 * `fetch_device_list_versions`: the version of the list the relay holds for each of `usernames`
 * (1..MAX_LIST_VERSION_NAMES of them), in their order, 0 for none (unsigned: a hint of which
 * lists to fetch, §17.8 "Versions"). Null when the relay does not know the request
 * (UNKNOWN_TYPE: a relay before it, or before §17; the caller fetches per name instead). Throws
 * ProtocolError for an answer of another length, or what RelayClient.request throws.
 */
export async function fetchDeviceListVersions(
  relay: RelayClient,
  usernames: readonly string[],
): Promise<readonly number[] | null> {
  let r;
  try {
    r = await relay.request<"fetch_device_list_versions">({
      t: "fetch_device_list_versions",
      usernames: [...usernames],
    });
  } catch (e) {
    if (unsupported(e)) return null;
    throw e;
  }
  if (r.versions.length !== usernames.length)
    throw new ProtocolError(
      "BAD_MESSAGE",
      `device_list_versions.versions: expected ${usernames.length} versions, got ${r.versions.length}`,
    );
  return r.versions;
}

/**
 * `publish_device_list`: stores a list our account signed (its version above the relay's).
 * Throws DevicesUnsupportedError, or what RelayClient.request throws.
 */
export async function publishDeviceList(relay: RelayClient, list: Uint8Array): Promise<void> {
  await devicesCall(() => relay.request<"publish_device_list">({ t: "publish_device_list", list }));
}

/** One per-device copy of a message (§17.8 `send_copies`). */
export interface DeviceCopy {
  readonly to: string;
  readonly device: number;
  readonly envelope: Uint8Array;
}

/** The relay's `sent` for a send_copies. */
export interface CopiesSent {
  readonly msg: number;
  readonly ts: number;
  readonly duplicate: boolean;
}

/**
 * `send_copies`: one message as per-device copies under one idempotency id. Throws
 * DevicesUnsupportedError, the relay's RemoteError (DEVICE_LIST_STALE: nothing was stored,
 * fetch the lists and send again), or what RelayClient.request throws.
 */
export async function sendCopies(
  relay: RelayClient,
  chat: number,
  idem: Uint8Array,
  copies: readonly DeviceCopy[],
): Promise<CopiesSent> {
  const r = await devicesCall(() =>
    relay.request<"send_copies">({
      t: "send_copies",
      chat,
      idem,
      copies: copies.map((c) => ({ to: c.to, device: c.device, envelope: c.envelope })),
    }),
  );
  return { msg: r.msg, ts: r.ts, duplicate: r.duplicate };
}
