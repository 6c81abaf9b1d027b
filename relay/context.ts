/** Everything a connection's handlers share: one per relay process. */
import type { Rng } from "../crypto/rng.js";
import type { RelayConfig } from "./config.js";
import type { DeviceEvents } from "./device-events.js";
import type { Fanout } from "./fanout.js";
import type { ShardedGroupCommit } from "./group-commit.js";
import type { LoginBackoff } from "./limits/login-backoff.js";
import type { TokenBucket } from "./limits/token-bucket.js";
import type { LinkMailboxes } from "./link-mailboxes.js";
import type { Logger } from "./logger.js";
import type { PassphraseState } from "./passphrase-state.js";
import type { RelayCounters } from "./metrics.js";
import type { Presence } from "./presence.js";
import type { InsertResult, NewSend, RelayStore } from "./store/index.js";

export interface RelayContext {
  readonly config: RelayConfig;
  readonly store: RelayStore;
  readonly presence: Presence;
  readonly fanout: Fanout;
  /** What follows a stored device list: removed devices closed, peers told (SECURITY.md §17.8). */
  readonly deviceEvents: DeviceEvents;
  /** Sends and send_copies, grouped into transactions; each resolves after its commit. */
  readonly sends: ShardedGroupCommit<NewSend, InsertResult>;
  readonly backoff: LoginBackoff;
  /** The decoy secret and the per-connection state of passphrase log-in (SECURITY.md §18.5). */
  readonly passphrase: PassphraseState;
  /** The open device-link mailboxes of this process (SECURITY.md §17.8). */
  readonly links: LinkMailboxes;
  /** Bundle-fetch token buckets by requesting account. */
  readonly bundleBuckets: Map<number, TokenBucket>;
  /** What /metrics reports; plain numbers, cheap to update on the hot path. */
  readonly counters: RelayCounters;
  readonly log: Logger;
  readonly rng: Rng;
  /** The relay's clock in milliseconds; injected so tests control time. */
  now(): number;
  /** The name the relay gives in `welcome`. */
  readonly relayName: string;
}
