/**
 * Costs of the wire layer's defences against hostile input, on this machine: refusing deeply
 * nested msgpack (the scan is iterative and stops at the depth limit, so 100,000 levels cost
 * about what the first few do), and reassembling a frame fed one byte at a time (each byte is
 * one `push`: the total must grow linearly with the frame, not quadratically). The tests check
 * that these inputs are refused or reassembled correctly; how fast is measured here. Also the
 * CPU time every received `send` frame costs in the scan and the full decode (the relay's
 * per-frame work).
 *
 *   npm run build && node dist/bench/wire.js [--json]
 *
 * Results go to bench/RESULTS.md with the command that produced them.
 */
import { ProtocolError } from "../src/errors.js";
import {
  FrameDecoder,
  decodeClientMessage,
  decodeMsgpack,
  encodeFrame,
  encodeMsgpack,
  scanMsgpack,
} from "../src/wire/index.js";

const json = process.argv.includes("--json");

/** The median of `runs` timings of `op`, in milliseconds. */
function median(runs: number, op: () => void): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    op();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

/** Runs `op` and expects it to throw ProtocolError (a refusal), so a regression cannot pass as fast. */
function refused(op: () => unknown): () => void {
  return () => {
    try {
      op();
    } catch (e) {
      if (e instanceof ProtocolError) return;
      throw e;
    }
    throw new Error("the input was accepted");
  };
}

const nestedArrays = (depth: number) => {
  const b = new Uint8Array(depth + 1).fill(0x91);
  b[depth] = 0xc0;
  return b;
};
const nestedMaps = (depth: number) => {
  const b = new Uint8Array(depth * 3 + 1);
  for (let i = 0; i < depth; i++) b.set([0x81, 0xa1, 0x61], i * 3);
  b[b.length - 1] = 0xc0;
  return b;
};

/** Feeds a frame with a `size`-byte payload one byte at a time; returns the milliseconds it took. */
function byteByByte(size: number): number {
  const big = encodeFrame(new Uint8Array(size).fill(3), size);
  const t = performance.now();
  const decoder = new FrameDecoder({ maxFrameBytes: size });
  let frames = 0;
  for (let i = 0; i < big.length; i++) frames += decoder.push(big.subarray(i, i + 1)).length;
  const ms = performance.now() - t;
  if (frames !== 1) throw new Error(`expected one frame, got ${frames}`);
  return ms;
}

/**
 * CPU time per call of `op` over `calls` calls, in ns (process.cpuUsage: time the process ran,
 * so a busy machine's other processes count less than in wall time).
 */
function cpuNsPerCall(calls: number, op: () => void): number {
  for (let i = 0; i < calls / 10; i++) op(); // warm-up: let the JIT settle
  const c0 = process.cpuUsage();
  for (let i = 0; i < calls; i++) op();
  const c = process.cpuUsage(c0);
  return ((c.user + c.system) * 1000) / calls;
}

/** A 1:1 send of the relay benchmark (bench/relay.ts): 16-byte idem, 162-byte envelope. */
const sendFrame = encodeMsgpack({
  t: "send",
  id: 12345,
  chat: 42,
  idem: new Uint8Array(16).fill(1),
  envelope: new Uint8Array(162).fill(7),
});

const arrays = nestedArrays(100_000);
const maps = nestedMaps(100_000);
const results = {
  "scanMsgpack refuses 100,000 nested arrays (ms, median of 20)": median(
    20,
    refused(() => scanMsgpack(arrays)),
  ),
  "scanMsgpack refuses 100,000 nested maps (ms, median of 20)": median(
    20,
    refused(() => scanMsgpack(maps)),
  ),
  "decodeMsgpack refuses 100,000 nested arrays (ms, median of 20)": median(
    20,
    refused(() => decodeMsgpack(arrays)),
  ),
  "FrameDecoder, 100,000-byte frame one byte per push (ms, median of 5)": median(5, () => byteByByte(100_000)),
  "FrameDecoder, 400,000-byte frame one byte per push (ms, median of 5)": median(5, () => byteByByte(400_000)),
  // The per-frame cost every received frame pays (the relay's hot path): ns, not ms.
  "scanMsgpack of a send frame (ns of CPU per call, 300,000 calls)": cpuNsPerCall(300_000, () =>
    scanMsgpack(sendFrame),
  ),
  "decodeClientMessage of a send frame (ns of CPU per call, 300,000 calls)": cpuNsPerCall(300_000, () => {
    decodeClientMessage(sendFrame);
  }),
};

if (json) process.stdout.write(`${JSON.stringify(results)}\n`);
else for (const [name, ms] of Object.entries(results)) process.stdout.write(`${name}: ${ms.toFixed(2)}\n`);
