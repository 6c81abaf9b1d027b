/**
 * The PostgreSQL driver for the relay's store: `Db` over a `pg.Pool` (docs/ARCHITECTURE.md,
 * Relay storage). The pool can be injected (docs/ARCHITECTURE.md §5.7); otherwise one is made from a URL.
 *
 * Every query carries its own type parsers, so rows look exactly like PGlite's whatever the
 * pool's configuration: bytea → Uint8Array, int8 → number (bigint beyond 2^53).
 * LISTEN runs on one dedicated connection taken from the pool; if that connection breaks it is
 * replaced and every channel is listened to again (notifications sent meanwhile are lost, so
 * `onListenerRestored` tells the relay to catch up from the database).
 */
import pg from "pg";
import type { Db, SqlParam, Tx } from "./db.js";

/** How to build a pg driver. Give either `pool` or `connectionString`. */
export interface PgDriverOptions {
  /** A pool to use; `close()` ends it. */
  readonly pool?: pg.Pool;
  /** A PostgreSQL URL (postgres://user@host:port/db), used when no pool is given. */
  readonly connectionString?: string;
  /** Pool size when the driver makes the pool (default 10). */
  readonly max?: number;
  /** Called when the LISTEN connection fails; the driver reconnects by itself. */
  readonly onListenerLost?: (err: Error) => void;
  /** Called after the LISTEN connection was replaced and every channel re-subscribed. */
  readonly onListenerRestored?: () => void;
  /** Delay before reconnecting the LISTEN connection, in ms (default 1000). */
  readonly listenerRetryMs?: number;
}

const INT8_OID = 20;
const BYTEA_OID = 17;

function parseInt8(text: string): number | bigint {
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : BigInt(text);
}

/** Type parsers applied to every query: the normalisation described in db.ts. */
const TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: "text" | "binary") => {
    if (format === undefined || format === "text") {
      if (oid === INT8_OID) return parseInt8;
      if (oid === BYTEA_OID) {
        const parseBuffer = pg.types.getTypeParser(BYTEA_OID, "text") as (text: string) => Buffer;
        // A fresh Uint8Array (a copy), never a Buffer that may share Node's pool slab.
        return (text: string) => new Uint8Array(parseBuffer(text));
      }
    }
    return pg.types.getTypeParser(oid, format as "text");
  }) as pg.CustomTypesConfig["getTypeParser"],
};

function toValues(params: readonly SqlParam[] | undefined): unknown[] | undefined {
  return params === undefined ? undefined : [...params];
}

function queryable(target: pg.Pool | pg.PoolClient): Tx {
  return {
    async query<T extends object>(sql: string, params?: readonly SqlParam[]): Promise<T[]> {
      const result = await target.query<T>({ text: sql, values: toValues(params), types: TYPES });
      return result.rows;
    },
    async exec(sql: string): Promise<void> {
      // No parameters: pg uses the simple query protocol, which accepts several statements.
      await target.query(sql);
    },
  };
}

/** Keeps one connection LISTENing to every channel someone subscribed to. */
class Listener {
  private readonly channels = new Map<string, Set<(payload: string) => void>>();
  private client: pg.PoolClient | undefined;
  private connecting: Promise<pg.PoolClient> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Callbacks of Db.onListener. */
  readonly watchers = new Set<(state: "lost" | "restored") => void>();

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: PgDriverOptions,
  ) {}

  async subscribe(channel: string, cb: (payload: string) => void): Promise<() => Promise<void>> {
    if (this.closed) throw new Error("the database driver is closed");
    let callbacks = this.channels.get(channel);
    if (callbacks === undefined) {
      callbacks = new Set();
      this.channels.set(channel, callbacks);
      const client = await this.connection();
      await client.query(`LISTEN ${client.escapeIdentifier(channel)}`);
    }
    callbacks.add(cb);
    return async () => {
      const set = this.channels.get(channel);
      if (set === undefined || !set.delete(cb) || set.size > 0) return;
      this.channels.delete(channel);
      const client = this.client;
      if (client !== undefined) await client.query(`UNLISTEN ${client.escapeIdentifier(channel)}`);
    };
  }

  private connection(): Promise<pg.PoolClient> {
    if (this.client !== undefined) return Promise.resolve(this.client);
    this.connecting ??= this.pool.connect().then(
      (client) => {
        this.connecting = undefined;
        if (this.closed) {
          client.release();
          throw new Error("the database driver is closed");
        }
        this.client = client;
        client.on("notification", (msg) => {
          const callbacks = this.channels.get(msg.channel);
          if (callbacks === undefined) return;
          for (const cb of callbacks) cb(msg.payload ?? "");
        });
        client.on("error", (err) => this.lost(client, err));
        return client;
      },
      (err: unknown) => {
        this.connecting = undefined;
        throw err;
      },
    );
    return this.connecting;
  }

  private lost(client: pg.PoolClient, err: Error): void {
    if (this.client !== client) return;
    this.client = undefined;
    client.release(err); // destroys the broken connection instead of returning it to the pool
    if (this.closed) return;
    this.options.onListenerLost?.(err);
    for (const w of this.watchers) w("lost");
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.retryTimer !== undefined || this.channels.size === 0) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.resubscribe();
    }, this.options.listenerRetryMs ?? 1000);
    this.retryTimer.unref();
  }

  private async resubscribe(): Promise<void> {
    try {
      const client = await this.connection();
      for (const channel of this.channels.keys()) await client.query(`LISTEN ${client.escapeIdentifier(channel)}`);
      this.options.onListenerRestored?.();
      for (const w of this.watchers) w("restored");
    } catch (err) {
      if (this.closed) return;
      this.options.onListenerLost?.(err instanceof Error ? err : new Error(String(err)));
      if (this.client !== undefined) this.lost(this.client, err instanceof Error ? err : new Error(String(err)));
      else this.scheduleReconnect();
    }
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.channels.clear();
    const client = this.client;
    this.client = undefined;
    client?.release(true); // drop the connection: it may still be LISTENing
  }
}

/**
 * Makes a `Db` over PostgreSQL. Does not connect until the first query. Throws (a
 * `TypeError`) when neither a pool nor a connection string is given.
 */
export function createPgDriver(options: PgDriverOptions): Db {
  const pool =
    options.pool ??
    (options.connectionString !== undefined
      ? new pg.Pool({ connectionString: options.connectionString, max: options.max ?? 10 })
      : undefined);
  if (pool === undefined) throw new TypeError("createPgDriver needs a pool or a connectionString");
  // An idle pooled connection that breaks must not crash the process; pg reports it here.
  pool.on("error", () => {});
  const listener = new Listener(pool, options);
  const direct = queryable(pool);

  return {
    kind: "pg",
    query: direct.query,
    exec: direct.exec,
    async transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      try {
        await client.query("BEGIN");
        const result = await fn(queryable(client));
        await client.query("COMMIT");
        client.release();
        return result;
      } catch (err) {
        try {
          await client.query("ROLLBACK");
          client.release();
        } catch (rollbackErr) {
          client.release(rollbackErr instanceof Error ? rollbackErr : true);
        }
        throw err;
      }
    },
    listen: (channel, cb) => listener.subscribe(channel, cb),
    onListener: (cb) => void listener.watchers.add(cb),
    async notify(channel: string, payload: string): Promise<void> {
      await direct.query("SELECT pg_notify($1, $2)", [channel, payload]);
    },
    async close(): Promise<void> {
      listener.close();
      await pool.end();
    },
  };
}
