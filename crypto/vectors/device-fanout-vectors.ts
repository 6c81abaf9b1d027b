/**
 * test/vectors/device-fanout.json: the fan-out header (SECURITY.md §17.5). `encode[i]` gives a
 * header's fields and an application message (inputs) and the plaintext bytes (output);
 * `decode[i]` is a table of plaintexts fixed by the suite, like padding's unpad table, with the
 * parsed header or the error `CODEC`.
 */
import { toHex } from "../bytes.js";
import { type FanoutHeader, decodeFanoutPlaintext, encodeFanoutPlaintext } from "../device-fanout.js";
import { CodecError, SmsgError } from "../errors.js";
import { Inputs } from "./inputs.js";
import type { VectorSuite } from "./suite.js";

const FILE = "device-fanout.json";

const DESCRIPTION =
  "Fan-out header inside every pairwise plaintext between §17 devices: 0x01 || u32be(sender device) || u8 len(recipient) || recipient || " +
  "u32be(recipient list version) || u8 n || n × u32be(recipient device) || " +
  "u32be(sender list version) || u8 m || m × u32be(own device) || app.";

function headerJson(h: FanoutHeader): Record<string, unknown> {
  return {
    sender_device: h.senderDevice,
    recipient: h.recipient,
    recipient_list_version: h.recipientListVersion,
    recipient_devices: [...h.recipientDevices],
    sender_list_version: h.senderListVersion,
    own_devices: [...h.ownDevices],
  };
}

function encodeCase(c: Inputs): Record<string, unknown> {
  const header: FanoutHeader = {
    senderDevice: c.u32("sender_device"),
    recipient: c.string("recipient"),
    recipientListVersion: c.u32("recipient_list_version"),
    recipientDevices: c.u32List("recipient_devices"),
    senderListVersion: c.u32("sender_list_version"),
    ownDevices: c.u32List("own_devices"),
  };
  const app = c.hex("app");
  let plaintext: Uint8Array;
  try {
    plaintext = encodeFanoutPlaintext({ header, app });
  } catch (e) {
    if (e instanceof SmsgError) throw new CodecError(`${FILE}: ${e.message}`);
    throw e;
  }
  return { ...headerJson(header), app: toHex(app), plaintext: toHex(plaintext) };
}

const h = (s: string) => Uint8Array.from(Buffer.from(s.replace(/ /g, ""), "hex"));
const BOB = "03 626f62";
/** [comment, plaintext]: the decode table. */
const DECODE: [string, Uint8Array][] = [
  [
    "valid: two recipient devices, one own device",
    h(`01 00000001 ${BOB} 00000003 02 00000001 00000002 00000005 01 00000002 80`),
  ],
  [
    "valid: a recipient without a device list (version 0, no devices)",
    h(`01 00000001 ${BOB} 00000000 00 00000001 00 80`),
  ],
  ["another format byte", h(`02 00000001 ${BOB} 00000003 01 00000001 00000001 00 80`)],
  ["sender device 0", h(`01 00000000 ${BOB} 00000003 01 00000001 00000001 00 80`)],
  ["recipient devices not ascending", h(`01 00000001 ${BOB} 00000003 02 00000002 00000001 00000001 00 80`)],
  ["a duplicate recipient device", h(`01 00000001 ${BOB} 00000003 02 00000002 00000002 00000001 00 80`)],
  ["the sender among its own devices", h(`01 00000002 ${BOB} 00000003 01 00000001 00000005 01 00000002 80`)],
  ["sender list version 0", h(`01 00000001 ${BOB} 00000003 01 00000001 00000000 00 80`)],
  ["recipient version 0 with a device", h(`01 00000001 ${BOB} 00000000 01 00000001 00000001 00 80`)],
  ["recipient devices without a version", h(`01 00000001 ${BOB} 00000003 00 00000001 00 80`)],
  ["17 recipient devices", h(`01 00000001 ${BOB} 00000003 11 ${"00000001".repeat(17)} 00000001 00 80`)],
  ["an uppercase recipient name", h(`01 00000001 03 426f62 00000003 01 00000001 00000001 00 80`)],
  ["no application message", h(`01 00000001 ${BOB} 00000003 01 00000001 00000001 00`)],
  ["truncated in the own devices", h(`01 00000001 ${BOB} 00000003 01 00000001 00000001 01 0000`)],
];

function decodeCase([comment, plaintext]: [string, Uint8Array], i: number): Record<string, unknown> {
  try {
    const p = decodeFanoutPlaintext(plaintext);
    return {
      id: i + 1,
      comment,
      plaintext: toHex(plaintext),
      result: "valid",
      ...headerJson(p.header),
      app: toHex(p.app),
    };
  } catch (e) {
    if (e instanceof CodecError)
      return { id: i + 1, comment, plaintext: toHex(plaintext), result: "invalid", error: e.code };
    throw e;
  }
}

/** The fan-out header vector suite (SECURITY.md §17.5). */
export const deviceFanoutVectors: VectorSuite = {
  file: FILE,
  recompute(file: unknown) {
    const f = new Inputs(file, FILE);
    return {
      suite: "device-fanout",
      description: DESCRIPTION,
      spec: "SECURITY.md §17.5 (fan-out)",
      encode: f.list("encode").map(encodeCase),
      decode: DECODE.map(decodeCase),
    };
  },
  /** Fixed inputs: a text message (§15.2.6's example) to bob's devices 1 and 2, copied to the sender's device 3. */
  generate() {
    const text = "86a176 01 a16b a474657874 a463686174 07 a3736571 01 a27473 d30000018bcfe56800 a4626f6479 a26869";
    return this.recompute({
      encode: [
        {
          sender_device: 2,
          recipient: "bob",
          recipient_list_version: 4,
          recipient_devices: [1, 2],
          sender_list_version: 7,
          own_devices: [1, 3],
          app: toHex(h(text)),
        },
        {
          sender_device: 1,
          recipient: "carol",
          recipient_list_version: 0,
          recipient_devices: [],
          sender_list_version: 1,
          own_devices: [],
          app: "80",
        },
      ],
    });
  },
};
