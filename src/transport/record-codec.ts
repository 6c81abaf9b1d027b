/**
 * Record framing of the relay transport on TCP (SECURITY.md §10.2; the convention of
 * Noise §13): every Noise message, handshake or transport, travels as
 * `u16be length || message`. Sans-I/O: `RecordDecoder.push(chunk)` takes whatever bytes the
 * socket delivered and returns the whole records they complete; `encodeRecord` frames one.
 */
import { CodecError, UsageError } from "../../crypto/errors.js";
import { NOISE_MAX_MESSAGE_BYTES, NOISE_TAG_BYTES } from "./noise-cipher-state.js";

/** The length prefix: a 16-bit big-endian integer. */
export const RECORD_HEADER_BYTES = 2;
/** The shortest valid record body: a transport message with an empty payload is its 16-byte tag. */
export const RECORD_MIN_BYTES = NOISE_TAG_BYTES;
/** The longest record body: a Noise message is at most 65535 bytes (Noise §3). */
export const RECORD_MAX_BYTES = NOISE_MAX_MESSAGE_BYTES;

/**
 * Frames one Noise message as `u16be length || message` (a new array).
 * Throws UsageError when the message is shorter than RECORD_MIN_BYTES or longer than
 * RECORD_MAX_BYTES: the decoder on the other side would refuse it.
 */
export function encodeRecord(message: Uint8Array): Uint8Array {
  const len = message.length;
  if (len < RECORD_MIN_BYTES || len > RECORD_MAX_BYTES) {
    throw new UsageError(`a Noise record must be ${RECORD_MIN_BYTES}..${RECORD_MAX_BYTES} bytes, not ${len}`);
  }
  const out = new Uint8Array(RECORD_HEADER_BYTES + len);
  out[0] = len >>> 8;
  out[1] = len & 0xff;
  out.set(message, RECORD_HEADER_BYTES);
  return out;
}

/**
 * Splits a byte stream into records (SECURITY.md §10.2). Keeps a partial record across
 * pushes, never more than one: when a record's length is known but its bytes have not all
 * arrived, it allocates exactly that record (at most 65535 bytes) and fills it; a record that
 * lies whole inside a chunk is returned as a view of the chunk without copying. An idle
 * decoder holds no buffer. A declared length below RECORD_MIN_BYTES is refused as soon as the
 * two length bytes are in, before anything is allocated.
 *
 * After it throws, the decoder is dead: every later `push` throws UsageError.
 */
export class RecordDecoder {
  /** The first length byte, when only one of the two has arrived; -1 otherwise. */
  private head = -1;
  /** The record being assembled across pushes. */
  private partial: Uint8Array | undefined;
  private filled = 0;
  private failed = false;

  /**
   * Takes the next bytes of the stream, in order, and returns the record bodies (without the
   * length prefix) they complete, in order; possibly none. A returned body may be a view of
   * `chunk`: use it before mutating `chunk`.
   * Throws CodecError for a record whose declared length is below RECORD_MIN_BYTES (the
   * records completed earlier in the same chunk are dropped with it: the stream is broken);
   * UsageError if the decoder already failed.
   */
  push(chunk: Uint8Array): Uint8Array[] {
    if (this.failed) throw new UsageError("the record decoder failed earlier");
    const out: Uint8Array[] = [];
    const end = chunk.length;
    let off = 0;
    while (off < end) {
      const partial = this.partial;
      if (partial !== undefined) {
        const take = Math.min(partial.length - this.filled, end - off);
        partial.set(chunk.subarray(off, off + take), this.filled);
        this.filled += take;
        off += take;
        if (this.filled === partial.length) {
          out.push(partial);
          this.partial = undefined;
          this.filled = 0;
        }
        continue;
      }
      let len: number;
      if (this.head >= 0) {
        len = (this.head << 8) | chunk[off]!;
        this.head = -1;
        off += 1;
      } else if (end - off >= RECORD_HEADER_BYTES) {
        len = (chunk[off]! << 8) | chunk[off + 1]!;
        off += RECORD_HEADER_BYTES;
      } else {
        this.head = chunk[off]!; // the rest of the chunk is this one byte
        break;
      }
      if (len < RECORD_MIN_BYTES) {
        this.failed = true;
        this.partial = undefined;
        throw new CodecError(`malformed Noise record: ${len} bytes, the minimum is ${RECORD_MIN_BYTES}`);
      }
      if (end - off >= len) {
        out.push(chunk.subarray(off, off + len));
        off += len;
      } else {
        this.partial = new Uint8Array(len);
        this.filled = 0;
      }
    }
    return out;
  }

  /** Bytes of an incomplete record held (0..65536): nonzero means the stream stopped mid-record. */
  get bufferedBytes(): number {
    if (this.partial !== undefined) return RECORD_HEADER_BYTES + this.filled;
    return this.head >= 0 ? 1 : 0;
  }
}
