/**
 * A loopback TCP forwarder that holds every chunk for a fixed time in each direction: a slow
 * link's round-trip time put between a client and a relay, so a benchmark can see round trips
 * in wall time (a command that waits for N answers takes about N × the round-trip time more).
 * Bytes are forwarded unchanged and in order; the delay can change between measurements.
 */
import { type Server, type Socket, connect, createServer } from "node:net";

export interface DelayProxy {
  readonly port: number;
  /** The delay added each way, in milliseconds: half the round-trip time it adds. */
  oneWayMs: number;
  close(): Promise<void>;
}

/** Pipes `from` into `to`, each chunk `delay()` ms later than it came, keeping their order. */
function delayedPipe(from: Socket, to: Socket, delay: () => number): void {
  // Chunks leave in arrival order: each waits for its own due time, and a timer never fires
  // before an earlier one with the same or a smaller delay, so order holds while the delay is fixed.
  from.on("data", (chunk: Buffer) => {
    const ms = delay();
    if (ms <= 0) to.write(chunk);
    else setTimeout(() => to.write(chunk), ms);
  });
  from.on("end", () => setTimeout(() => to.end(), Math.max(0, delay())));
  from.on("error", () => to.destroy());
  from.on("close", () => setTimeout(() => to.destroy(), Math.max(0, delay()) + 1));
}

/** Listens on a free loopback port and forwards each connection to 127.0.0.1:`targetPort`. */
export async function startDelayProxy(targetPort: number, oneWayMs = 0): Promise<DelayProxy> {
  const sockets = new Set<Socket>();
  const proxy = { oneWayMs } as { oneWayMs: number };
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, "127.0.0.1");
    for (const s of [client, upstream]) {
      s.setNoDelay(true);
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
    }
    delayedPipe(client, upstream, () => proxy.oneWayMs);
    delayedPipe(upstream, client, () => proxy.oneWayMs);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("the delay proxy has no port");
  return Object.assign(proxy, {
    port: address.port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  });
}
