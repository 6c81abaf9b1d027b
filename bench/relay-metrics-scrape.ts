/**
 * Reads the relay's byte and frame counters from its /metrics (README "HTTP endpoints"), for the
 * wire benchmarks that run a real relay process: TCP bytes both ways (Noise included), and per
 * wire type the frames and their bytes (length prefix included, Noise not), each direction.
 */

/** One scrape of the counters the wire benchmarks read. */
export interface WireCounters {
  /** TCP bytes received + sent, every connection, Noise included. */
  readonly bytes: number;
  readonly received: number;
  readonly sent: number;
  /** msg frames written to a recipient (`smsg_relay_messages_delivered_total`). */
  readonly delivered: number;
  /** Messages deleted once every recipient acked them (the sweeper). */
  readonly acked: number;
  /** ack requests handled. */
  readonly acks: number;
  /** By wire type: frames and frame bytes received ("in") and sent ("out"). */
  readonly frames: ReadonlyMap<string, FrameCount>;
}

export interface FrameCount {
  readonly in: number;
  readonly inBytes: number;
  readonly out: number;
  readonly outBytes: number;
}

const ZERO: FrameCount = { in: 0, inBytes: 0, out: 0, outBytes: 0 };

export async function scrapeWireCounters(httpPort: number): Promise<WireCounters> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? NaN);
  const frames = new Map<string, FrameCount>();
  const byType = (name: string, field: keyof FrameCount) => {
    for (const m of text.matchAll(new RegExp(`^${name}\\{type="([^"]+)"\\} (\\S+)$`, "gm"))) {
      const type = m[1]!;
      frames.set(type, { ...(frames.get(type) ?? ZERO), [field]: Number(m[2]) });
    }
  };
  byType("smsg_relay_frames_received_total", "in");
  byType("smsg_relay_frame_bytes_received_total", "inBytes");
  byType("smsg_relay_frames_sent_total", "out");
  byType("smsg_relay_frame_bytes_sent_total", "outBytes");
  const received = value("smsg_relay_received_bytes_total");
  const sent = value("smsg_relay_sent_bytes_total");
  return {
    bytes: received + sent,
    received,
    sent,
    delivered: value("smsg_relay_messages_delivered_total"),
    acked: value("smsg_relay_messages_acked_total"),
    acks: value("smsg_relay_acks_total"),
    frames,
  };
}

/**
 * Per message, by wire type, what changed between two scrapes (types that did not change are
 * left out), plus the TCP bytes no frame accounts for (Noise records and handshakes).
 */
export function framesPerMessage(
  a: WireCounters,
  b: WireCounters,
  messages: number,
): { byType: Record<string, Partial<FrameCount>>; noiseAndHandshakeBytes: number } {
  const per = (n: number) => +(n / messages).toFixed(2);
  const byType: Record<string, Partial<FrameCount>> = {};
  let frameBytes = 0;
  for (const [type, after] of [...b.frames].sort(([x], [y]) => x.localeCompare(y))) {
    const before = a.frames.get(type) ?? ZERO;
    const d = {
      in: after.in - before.in,
      inBytes: after.inBytes - before.inBytes,
      out: after.out - before.out,
      outBytes: after.outBytes - before.outBytes,
    };
    frameBytes += d.inBytes + d.outBytes;
    if (d.in === 0 && d.out === 0) continue;
    const row: Partial<FrameCount> = {};
    if (d.in > 0) Object.assign(row, { in: per(d.in), inBytes: per(d.inBytes) });
    if (d.out > 0) Object.assign(row, { out: per(d.out), outBytes: per(d.outBytes) });
    byType[type] = row;
  }
  return { byType, noiseAndHandshakeBytes: per(b.bytes - a.bytes - frameBytes) };
}
