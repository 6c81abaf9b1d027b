/**
 * An in-process relay on a loopback port for integration tests, over a database of the test
 * file's own on the run's embedded PostgreSQL (or a given one, e.g. external PostgreSQL), and
 * clients that join it for real: identity, prekeys, Noise, login signature.
 */
import { randomBytes } from "node:crypto";
import { RelayClient, loginSignature } from "../../client/relay-client.js";
import { utf8 } from "../../crypto/bytes.js";
import { type IdentityKeyPair, encodeIdentityPublic, generateIdentity } from "../../crypto/identity.js";
import {
  type OneTimePrekey,
  type SignedPrekey,
  generateOneTimePrekeys,
  generateSignedPrekey,
} from "../../crypto/prekeys.js";
import type { X25519KeyPair } from "../../crypto/primitives.js";
import { x25519KeyPair } from "../../crypto/primitives.js";
import { seededRng } from "../../crypto/rng.js";
import { createInvite } from "../../relay/admin-ops.js";
import { DEFAULT_LIMITS, type RelayConfig, type RelayLimits } from "../../relay/config.js";
import { createLogger } from "../../relay/logger.js";
import { Relay } from "../../relay/server.js";
import type { Db } from "../../relay/store/index.js";
import { parseInviteLink } from "../../src/invite-link.js";
import { systemRng } from "../../src/system-rng.js";
import type { RelayMessageOf } from "../../src/wire/index.js";
import { createEmbeddedTestDatabase } from "../helpers/embedded-test-db.js";
import { resetTables } from "./store/harness.js";

export interface TestRelay {
  readonly relay: Relay;
  readonly port: number;
  readonly keyPair: X25519KeyPair;
  readonly db: Db;
  invite(opts?: { uses?: number; admin?: boolean; expiresInMs?: number | null }): Promise<Uint8Array>;
  stop(): Promise<void>;
}

let shared: Promise<Db> | undefined;

/**
 * The test file's own database on the run's embedded PostgreSQL, emptied (every table
 * truncated, ids restarted) each time it is asked for. It is dropped with the server at the
 * end of the run.
 */
export async function sharedDatabase(): Promise<Db> {
  shared ??= createEmbeddedTestDatabase().then((t) => t.db);
  const db = await shared;
  await resetTables(db);
  return db;
}

export async function startRelay(
  options: {
    db?: Db;
    limits?: Partial<RelayLimits>;
    config?: Partial<RelayConfig>;
    keyPair?: X25519KeyPair;
    /** The relay's clock (ms); Date.now when absent. */
    now?: () => number;
  } = {},
): Promise<TestRelay> {
  const db = options.db ?? (await sharedDatabase());
  const keyPair = options.keyPair ?? x25519KeyPair(systemRng);
  const config: RelayConfig = {
    host: "127.0.0.1",
    port: 0,
    publicHost: "127.0.0.1",
    dataDir: "/nonexistent",
    databaseUrl: undefined,
    allowUnsafeDurability: true,
    messageTtlMs: 30 * 86_400_000,
    retentionMs: 0,
    ...options.config,
    limits: { ...DEFAULT_LIMITS, ...options.limits },
  };
  const relay = new Relay({
    config,
    db,
    keyPair,
    rng: systemRng,
    log: createLogger(process.env["SMSG_TEST_LOG"] ?? "silent"),
    ...(options.now !== undefined ? { now: options.now } : {}),
  });
  const { port } = await relay.start();
  return {
    relay,
    port,
    keyPair,
    db,
    async invite(o = {}) {
      const r = await createInvite(
        relay.store,
        systemRng,
        { host: "127.0.0.1", port, relayKey: keyPair.publicKey },
        { uses: o.uses ?? 1, admin: o.admin ?? false, expiresInMs: o.expiresInMs === undefined ? null : o.expiresInMs },
        Date.now(),
      );
      return parseInviteLink(r.link).code;
    },
    stop: () => relay.stop(),
  };
}

/** A member as the tests drive it: keys, credential, and a connected, logged-in client. */
export interface TestUser {
  readonly username: string;
  readonly identity: IdentityKeyPair;
  readonly credential: Uint8Array;
  /** The signed prekey published at join, with its private half (to accept X3DH first messages). */
  readonly spk: SignedPrekey;
  /** The one-time prekeys published at join, with their private halves. */
  readonly opks: readonly OneTimePrekey[];
  client: RelayClient;
}

/** `protocolVersion` forces a wire version (default: the newest, SECURITY.md §14.9). */
export function connectTo(
  r: TestRelay,
  opts: { relayKey?: Uint8Array; protocolVersion?: number } = {},
): Promise<RelayClient> {
  return RelayClient.connect({
    host: "127.0.0.1",
    port: r.port,
    relayKey: opts.relayKey ?? r.keyPair.publicKey,
    rng: systemRng,
    timeoutMs: 5000,
    ...(opts.protocolVersion !== undefined ? { protocolVersion: opts.protocolVersion } : {}),
  });
}

/** Joins `username` with a fresh invite (or `invite`), publishing a signed prekey and `opks` one-time prekeys. */
export async function joinUser(
  r: TestRelay,
  username: string,
  opts: { opks?: number; invite?: Uint8Array } = {},
): Promise<TestUser> {
  const rng = seededRng(utf8(`test user ${username} ${randomBytes(8).toString("hex")}`));
  const identity = generateIdentity(rng);
  const spk = generateSignedPrekey(rng, identity, 1);
  const opks = generateOneTimePrekeys(rng, 1, opts.opks ?? 5);
  const credential = rng(32);
  const client = await connectTo(r);
  await client.request<"join">({
    t: "join",
    invite: opts.invite ?? (await r.invite()),
    username,
    credential,
    identity: encodeIdentityPublic(identity.publicKey),
    signed_prekey: { key_id: spk.id, public_key: spk.keyPair.publicKey, signature: spk.signature },
    one_time_prekeys: opks.map((k) => ({ key_id: k.id, public_key: k.keyPair.publicKey })),
    signature: loginSignature(identity, client.handshakeHash),
  });
  return { username, identity, credential, spk, opks, client };
}

/** Reconnects `u` and logs in again. */
export async function relogin(
  r: TestRelay,
  u: TestUser,
  opts: { protocolVersion?: number } = {},
): Promise<RelayClient> {
  const client = await connectTo(r, opts);
  await client.login(u.username, u.credential, u.identity);
  u.client = client;
  return client;
}

/** Resolves with the next `count` pushed msg frames. */
export function nextMessages(client: RelayClient, count: number, timeoutMs = 5000): Promise<RelayMessageOf<"msg">[]> {
  return new Promise((resolve, reject) => {
    const got: RelayMessageOf<"msg">[] = [];
    const timer = setTimeout(() => reject(new Error(`only ${got.length} of ${count} messages arrived`)), timeoutMs);
    const on = (m: RelayMessageOf<"msg">) => {
      got.push(m);
      if (got.length === count) {
        clearTimeout(timer);
        client.off("msg", on);
        resolve(got);
      }
    };
    client.on("msg", on);
  });
}

export const idem = () => new Uint8Array(randomBytes(16));
