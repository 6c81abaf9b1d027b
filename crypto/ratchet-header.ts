/** The Double Ratchet message header (SECURITY.md §6.4), 41 bytes, sent in clear and authenticated as AD. */
import { Reader, concat, u32be } from "./bytes.js";
import { CodecError } from "./errors.js";

export const HEADER_VERSION = 0x01;
export const HEADER_BYTES = 41;

/** Signal Double Ratchet §3.1 HEADER(dh_pair, pn, n). */
export interface RatchetHeader {
  /** The sender's current ratchet public key. */
  readonly dh: Uint8Array;
  /** Number of messages in the sender's previous sending chain. */
  readonly pn: number;
  /** Message number in the current sending chain. */
  readonly n: number;
}

/** 0x01 || dh (32) || u32be(pn) || u32be(n). */
export function encodeHeader(h: RatchetHeader): Uint8Array {
  return concat(new Uint8Array([HEADER_VERSION]), h.dh, u32be(h.pn), u32be(h.n));
}

/** Reads a header from the first 41 bytes of `bytes`. Throws CodecError on a short input or unknown version. */
export function decodeHeader(bytes: Uint8Array): RatchetHeader {
  const r = new Reader(bytes.subarray(0, HEADER_BYTES), "ratchet header");
  if (r.u8() !== HEADER_VERSION) throw new CodecError("ratchet header: unknown version");
  const dh = r.bytes(32);
  const pn = r.u32();
  const n = r.u32();
  r.end();
  return { dh, pn, n };
}
