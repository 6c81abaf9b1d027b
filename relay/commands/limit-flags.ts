/** The relay's limit flags: flag name → limit key, each with its default shown in --help. */
import type { RelayLimits } from "../config.js";

/** Flag name → limit key, each with its default shown in --help. */
export const LIMIT_FLAGS: [flag: string, key: keyof RelayLimits, describe: string][] = [
  ["max-frame-bytes", "maxFrameBytes", "Largest wire frame accepted, bytes"],
  ["handshake-timeout-ms", "handshakeTimeoutMs", "Time allowed for the Noise handshake"],
  ["login-timeout-ms", "loginTimeoutMs", "Time allowed to log in after the handshake"],
  ["heartbeat-ms", "heartbeatMs", "Ping a connection silent for this long"],
  ["idle-timeout-ms", "idleTimeoutMs", "Close a connection silent for this long"],
  ["message-rate", "messageRate", "Messages per second per connection (average)"],
  ["message-burst", "messageBurst", "Messages a connection may send in a burst"],
  ["max-connections-per-address", "maxConnectionsPerAddress", "Open connections per remote address"],
  ["max-outbound-bytes", "maxOutboundBytes", "Bytes queued for a slow reader before it is cut off"],
  ["bundle-rate", "bundleRate", "Prekey bundle fetches per second per account"],
  ["bundle-burst", "bundleBurst", "Prekey bundle fetches per account in a burst"],
  ["prekey-low-watermark", "prekeyLowWatermark", "Tell an owner to upload prekeys below this stock"],
  ["max-commit-batch", "maxCommitBatch", "Most sends committed in one transaction"],
  ["commit-shards", "commitShards", "Send transactions committing in parallel on PostgreSQL"],
];
