/**
 * Frames of the wire protocol (SECURITY.md §14.2): inside the Noise channel, the byte stream is a
 * sequence of `u32be length || payload`, where the payload is one msgpack message of 1..max
 * bytes. Sans-I/O, after node-postgres' pg-protocol parser: `FrameDecoder.push(chunk)` takes
 * whatever bytes arrived, in any cut, and returns the whole frames they complete.
 */
import { ProtocolError, UsageError } from "../errors.js";
import { DEFAULT_MAX_FRAME_BYTES, FRAME_HEADER_BYTES } from "./limits.js";

/** The largest length a u32be header can declare. */
const U32_MAX = 0xffffffff;

function checkMaxFrameBytes(maxFrameBytes: number): void {
  if (!Number.isInteger(maxFrameBytes) || maxFrameBytes < 1 || maxFrameBytes > U32_MAX) {
    throw new UsageError(`maxFrameBytes must be an integer in 1..${U32_MAX}, not ${maxFrameBytes}`);
  }
}

/** Options of a FrameDecoder. */
export interface FrameDecoderOptions {
  /** Largest payload accepted, in bytes (default DEFAULT_MAX_FRAME_BYTES). */
  readonly maxFrameBytes?: number;
}

/**
 * Splits a byte stream into frames (SECURITY.md §14.2).
 *
 * - Partial frames are kept across pushes as a list of the chunks received, so many small
 *   chunks cost O(total bytes), never a concatenation per push.
 * - The declared length is checked as soon as its 4 header bytes are in, before any payload
 *   byte is awaited or buffer allocated: a length over `maxFrameBytes` throws ProtocolError
 *   FRAME_TOO_LARGE, a zero length ProtocolError BAD_FRAME.
 * - A frame that lies inside one chunk is returned as a view of that chunk (no copy); a frame
 *   spread over several is copied once into a buffer of exactly its length. So `push` takes
 *   ownership of `chunk`: the caller must not modify it afterwards.
 * - After an error the stream cannot be resynchronised: every later `push` throws the same
 *   error, and the connection must be closed. Frames completed earlier in the failing chunk
 *   are dropped with it.
 */
export class FrameDecoder {
  /** Largest payload this decoder accepts. */
  readonly maxFrameBytes: number;
  /** Chunks holding unread bytes; those before `first` are consumed. */
  private chunks: Uint8Array[] = [];
  private first = 0;
  /** Read offset into chunks[first]. */
  private offset = 0;
  /** Unread bytes across all chunks. */
  private buffered = 0;
  /** Payload length of the frame whose header has been read, or -1 while awaiting a header. */
  private pending = -1;
  private failure: ProtocolError | undefined;

  /** Throws UsageError when maxFrameBytes is not an integer in 1..2^32−1. */
  constructor(options: FrameDecoderOptions = {}) {
    const maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    checkMaxFrameBytes(maxFrameBytes);
    this.maxFrameBytes = maxFrameBytes;
  }

  /** Bytes received but not yet returned in a frame (headers included). */
  get bufferedBytes(): number {
    return this.buffered + (this.pending >= 0 ? FRAME_HEADER_BYTES : 0);
  }

  /**
   * Adds the bytes of `chunk` and returns the payloads of the frames they complete, in order
   * (often none). Throws ProtocolError FRAME_TOO_LARGE or BAD_FRAME as described on the class.
   */
  push(chunk: Uint8Array): Uint8Array[] {
    if (this.failure !== undefined) throw this.failure;
    const frames: Uint8Array[] = [];
    if (chunk.length === 0) return frames;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.pending < 0) {
        if (this.buffered < FRAME_HEADER_BYTES) break;
        const length = this.readHeader();
        if (length === 0) this.fail(new ProtocolError("BAD_FRAME", "frame of length 0"));
        if (length > this.maxFrameBytes) {
          this.fail(
            new ProtocolError("FRAME_TOO_LARGE", `frame of ${length} bytes exceeds the limit of ${this.maxFrameBytes}`),
          );
        }
        this.pending = length;
      }
      if (this.buffered < this.pending) break;
      frames.push(this.take(this.pending));
      this.pending = -1;
    }
    this.compact();
    return frames;
  }

  private fail(error: ProtocolError): never {
    this.failure = error;
    this.chunks = [];
    this.first = 0;
    this.offset = 0;
    this.buffered = 0;
    throw error;
  }

  /** Consumes 4 bytes (callers checked they are buffered) as a u32be. */
  private readHeader(): number {
    let value = 0;
    for (let i = 0; i < FRAME_HEADER_BYTES; i++) {
      const chunk = this.chunks[this.first] as Uint8Array;
      value = value * 256 + (chunk[this.offset] as number);
      this.advance(1);
    }
    return value;
  }

  /** Consumes `n` buffered bytes (callers checked they are) and returns them. */
  private take(n: number): Uint8Array {
    const head = this.chunks[this.first] as Uint8Array;
    if (head.length - this.offset >= n) {
      const view = head.subarray(this.offset, this.offset + n);
      this.advance(n);
      return view;
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.chunks[this.first] as Uint8Array;
      const count = Math.min(chunk.length - this.offset, n - filled);
      out.set(chunk.subarray(this.offset, this.offset + count), filled);
      filled += count;
      this.advance(count);
    }
    return out;
  }

  /** Moves the read position `n` bytes on, within chunks[first] or to the start of the next. */
  private advance(n: number): void {
    this.offset += n;
    this.buffered -= n;
    const chunk = this.chunks[this.first] as Uint8Array;
    if (this.offset === chunk.length) {
      this.chunks[this.first] = EMPTY; // release it now
      this.first++;
      this.offset = 0;
    }
  }

  /** Drops consumed chunk slots, so the list never grows with the number of pushes. */
  private compact(): void {
    if (this.first === this.chunks.length) {
      this.chunks = [];
      this.first = 0;
    } else if (this.first > 64 && this.first * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.first);
      this.first = 0;
    }
  }
}

const EMPTY = new Uint8Array(0);

/**
 * Frames one payload: `u32be length || payload`, in a new array (SECURITY.md §14.2).
 * Throws UsageError when the payload is empty or longer than `maxFrameBytes`
 * (default DEFAULT_MAX_FRAME_BYTES): the receiving FrameDecoder would refuse it.
 */
export function encodeFrame(payload: Uint8Array, maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES): Uint8Array {
  checkMaxFrameBytes(maxFrameBytes);
  const length = payload.length;
  if (length === 0) throw new UsageError("cannot frame an empty payload");
  if (length > maxFrameBytes) {
    throw new UsageError(`payload of ${length} bytes exceeds the frame limit of ${maxFrameBytes}`);
  }
  const out = new Uint8Array(FRAME_HEADER_BYTES + length);
  new DataView(out.buffer).setUint32(0, length, false);
  out.set(payload, FRAME_HEADER_BYTES);
  return out;
}
