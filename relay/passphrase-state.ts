/**
 * What the relay process keeps in memory for passphrase log-in (SECURITY.md §18.5, §18.6):
 * the database's decoy secret (read once at start), and per connection the account a
 * `passphrase_login` opened with the backup it will serve, the bytes `backup_put` staged, and
 * the `passphrase_salt` token bucket. Per-connection state is in WeakMaps keyed by the
 * connection, so it goes when the connection does and the connection class stays unaware of it.
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
  private readonly saltBuckets = new WeakMap<HandlerConnection, TokenBucket>();

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

  /** Takes a passphrase_salt token of this connection: the bundle-fetch rate and burst (§18.5). */
  takeSaltToken(conn: HandlerConnection, rate: number, burst: number, now: number): boolean {
    let bucket = this.saltBuckets.get(conn);
    if (!bucket) this.saltBuckets.set(conn, (bucket = new TokenBucket(rate, burst, now)));
    return bucket.take(now);
  }
}
