/**
 * The hot-path cost of the relay's metrics (relay/metrics.ts): one frame in and one frame out
 * counted, per call, in nanoseconds. Machine-independent enough to compare against the
 * relay's per-message cost (bench/relay.ts), which the 2-core benchmark machine cannot resolve
 * to a few percent under load.
 *
 *   npm run build && node dist/bench/relay-counters.js [--calls 10000000]
 */
import { RelayCounters } from "../relay/metrics.js";

const i = process.argv.indexOf("--calls");
const CALLS = i >= 0 ? Number(process.argv[i + 1]) : 10_000_000;
const types = ["send", "ack", "sync", "send", "send", "ping"] as const;
const c = new RelayCounters();
for (let round = 0; round < 3; round++) {
  const start = process.hrtime.bigint();
  for (let n = 0; n < CALLS; n++) {
    c.frameIn(types[n % types.length]!, 170);
    c.frameOut(n % 2 === 0 ? "sent" : "msg", 186);
  }
  const ns = Number(process.hrtime.bigint() - start) / CALLS;
  console.log(JSON.stringify({ round, calls: CALLS, nsPerFrameInPlusOut: Number(ns.toFixed(1)) }));
}
