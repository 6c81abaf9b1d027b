/**
 * The `msg` frame of a message for one device, in the form its connection reads: the compact
 * frame on a version-2 connection (SECURITY.md §14.9), the msgpack map otherwise, and the map
 * on every connection when the message carries `from_device` (a device other than 1), which
 * compact frames have no field for (§17.8). Encoded at most once per form.
 */
import { type RelayMessageOf, encodeCompactMsgFrame, encodeMessageFrame, encodeMsgFrame } from "../src/wire/index.js";

export type MsgFields = Omit<RelayMessageOf<"msg">, "t">;

/** A function giving the frame for a connection (`compact`: it speaks version 2), encoding lazily. */
export function msgFrameEncoder(fields: MsgFields): (compact: boolean) => Uint8Array {
  let map: Uint8Array | undefined;
  let compactFrame: Uint8Array | undefined;
  const mapForm = (): Uint8Array =>
    (map ??= fields.from_device === undefined ? encodeMsgFrame(fields) : encodeMessageFrame({ t: "msg", ...fields }));
  return (compact) => {
    if (!compact || fields.from_device !== undefined) return mapForm();
    return (compactFrame ??= encodeCompactMsgFrame(fields));
  };
}
