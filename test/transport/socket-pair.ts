/**
 * Test helpers: an in-memory stand-in for a TCP connection, and a real loopback one.
 *
 * Node 20.17+ has `stream.duplexPair`, but its sides never learn that the other was
 * destroyed (a write then hangs forever), which is not how a socket behaves. `socketPair`
 * behaves like TCP where it matters here: destroying or ending one side ends the other's
 * readable side (FIN), writing to a destroyed peer fails with EPIPE, a side closes once the
 * peer ended (allowHalfOpen false, like net.Socket), corked writes arrive as one chunk
 * (writev), and a write's callback waits until the reader has room (backpressure).
 */
import { once } from "node:events";
import net from "node:net";
import { Duplex } from "node:stream";

type Callback = (error?: Error | null) => void;

class PairSide extends Duplex {
  peer!: PairSide;
  /** Callback of our last write, held while the peer's readable buffer is full. */
  private waiting: Callback | undefined;
  private finSent = false;

  constructor() {
    super({ allowHalfOpen: false });
  }

  override _read(): void {
    const cb = this.peer.waiting;
    if (cb) {
      this.peer.waiting = undefined;
      cb();
    }
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: Callback): void {
    this.deliver(chunk, cb);
  }

  override _writev(chunks: { chunk: Buffer }[], cb: Callback): void {
    this.deliver(Buffer.concat(chunks.map((c) => c.chunk)), cb);
  }

  override _final(cb: Callback): void {
    this.fin();
    cb();
  }

  override _destroy(err: Error | null, cb: Callback): void {
    this.fin();
    this.waiting = undefined;
    cb(err);
  }

  private deliver(chunk: Buffer, cb: Callback): void {
    if (this.finSent || this.peer.destroyed) {
      cb(Object.assign(new Error("write EPIPE"), { code: "EPIPE" }));
      return;
    }
    if (this.peer.push(chunk)) cb();
    else this.waiting = cb;
  }

  private fin(): void {
    if (this.finSent) return;
    this.finSent = true;
    if (!this.peer.destroyed) this.peer.push(null);
  }
}

/** Two connected in-memory Duplex streams: [client side, server side]. */
export function socketPair(): [Duplex, Duplex] {
  const a = new PairSide();
  const b = new PairSide();
  a.peer = b;
  b.peer = a;
  return [a, b];
}

/** A real TCP connection over 127.0.0.1: [client socket, server socket], and a cleanup. */
export async function tcpPair(): Promise<{ client: net.Socket; server: net.Socket; close: () => Promise<void> }> {
  const listener = net.createServer();
  listener.listen(0, "127.0.0.1");
  await once(listener, "listening");
  const { port } = listener.address() as net.AddressInfo;
  const accepted = once(listener, "connection") as Promise<[net.Socket]>;
  const client = net.connect(port, "127.0.0.1");
  const [[server]] = await Promise.all([accepted, once(client, "connect")]);
  const close = async () => {
    client.destroy();
    server.destroy();
    await new Promise<void>((resolve) => listener.close(() => resolve()));
  };
  return { client, server, close };
}
