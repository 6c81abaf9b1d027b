/**
 * What the relay process keeps in memory for passphrase log-in (SECURITY.md §18.5, §18.6):
 * the database's decoy secret (read once at start), and per connection the account a
 * `passphrase_login` opened with the backup it will serve and the bytes `backup_put` staged
 * (in WeakMaps keyed by the connection, so it goes when the connection does and the connection
 * class stays unaware of it), and per remote address the `passphrase_salt` token bucket.
 */
import type { Rng } from "../crypto/rng.js";
import type { HandlerConnection } from "./handlers/handler-connection.js";
import { TokenBucket } from "./limits/token-bucket.js";
import type { Db } from "./store/index.js";
import { loadDecoySecret } from "./store/passphrase-records.js";

/** The account a connection proved the passphrase of, and the backup it was given then. */
export interface PassphraseSession {
  readonly accountId: number;
  readonly username: string;
  /** Read at login, so every backup_get of the connection reads one and the same backup. */
  readonly backup: Uint8Array;
}

export class PassphraseState {
  private secret: Uint8Array | undefined;
  private readonly sessions = new WeakMap<HandlerConnection, PassphraseSession>();
  private readonly staged = new WeakMap<HandlerConnection, Uint8Array[]>();
  /** passphrase_salt buckets per remote address (§18.5), least recently used first; bounded. */
  private readonly saltBuckets = new Map<string, { bucket: TokenBucket; used: number }>();

  constructor(private readonly maxSaltAddresses = 100_000) {}

  /** Reads (or, on a new database, draws and stores) the decoy secret; called by Relay.start. */
  async load(db: Db, rng: Rng): Promise<void> {
    this.secret = await loadDecoySecret(db, rng);
  }

  get decoySecret(): Uint8Array {
    if (!this.secret) throw new Error("the decoy secret is read when the relay starts");
    return this.secret;
  }

  session(conn: HandlerConnection): PassphraseSession | undefined {
    return this.sessions.get(conn);
  }

  openSession(conn: HandlerConnection, session: PassphraseSession): void {
    this.sessions.set(conn, session);
  }

  /** The bytes staged on the connection so far (§18.6 backup_put). */
  staging(conn: HandlerConnection): Uint8Array[] {
    let pieces = this.staged.get(conn);
    if (!pieces) this.staged.set(conn, (pieces = []));
    return pieces;
  }

  clearStaging(conn: HandlerConnection): void {
    this.staged.delete(conn);
  }

  /**
   * Takes a passphrase_salt token of the connection's remote address: the bundle-fetch rate and
   * burst (§18.5), so reconnecting or opening more connections does not buy more requests. An
   * address idle long enough for its bucket to be full again is forgotten (it means what no entry
   * means); past `maxSaltAddresses` the least recently used goes first, so the map stays bounded.
   */
  takeSaltToken(address: string, rate: number, burst: number, now: number): boolean {
    const idleMs = (burst / rate) * 1000;
    for (const [key, e] of this.saltBuckets) {
      if (now - e.used < idleMs) break; // the rest were used later
      this.saltBuckets.delete(key);
    }
    let e = this.saltBuckets.get(address);
    if (e) this.saltBuckets.delete(address);
    else e = { bucket: new TokenBucket(rate, burst, now), used: now };
    e.used = now;
    this.saltBuckets.set(address, e); // re-inserted: Map order is least recently used first
    if (this.saltBuckets.size > this.maxSaltAddresses) {
      const oldest = this.saltBuckets.keys().next().value;
      if (oldest !== undefined) this.saltBuckets.delete(oldest);
    }
    return e.bucket.take(now);
  }
}
