/** The fan-out header around application messages and the receiver's checks (SECURITY.md §17.5). */
import { describe, expect, test } from "vitest";
import { CodecError } from "../../../src/errors.js";
import { encodeAppMessage } from "../../../client/protocol/app-message.js";
import {
  type FanoutReceiver,
  checkFanout,
  fanoutHeader,
  splitPairwisePlaintext,
  wrapFanout,
} from "../../../client/protocol/fanout.js";

const app = encodeAppMessage({ v: 1, k: "text", chat: 7, seq: 1, ts: 0, body: "hi" });

/** alice's device 2 writes to bob (devices 1, 4, list v3); alice's list v5 holds 1, 2, 3. */
const header = fanoutHeader({
  myDevice: 2,
  own: { version: 5, devices: [3, 2, 1] },
  recipient: "bob",
  peer: { version: 3, devices: [4, 1] },
});

const bobAt = (device: number, version = 3): FanoutReceiver => ({
  me: "bob",
  myDevice: device,
  myListVersion: version,
  sender: "alice",
  senderDevice: 2,
  senderHasList: true,
});
const aliceAt = (device: number, version = 5): FanoutReceiver => ({
  me: "alice",
  myDevice: device,
  myListVersion: version,
  sender: "alice",
  senderDevice: 2,
  senderHasList: true,
});

describe("building", () => {
  test("one header for every copy: ascending ids, the sender left out of its own devices", () => {
    expect(header).toEqual({
      senderDevice: 2,
      recipient: "bob",
      recipientListVersion: 3,
      recipientDevices: [1, 4],
      senderListVersion: 5,
      ownDevices: [1, 3],
    });
  });

  test("a peer without a list: version 0 and no recipient devices (only our own devices get the header)", () => {
    const h = fanoutHeader({ myDevice: 1, own: { version: 2, devices: [1, 2] }, recipient: "carol", peer: null });
    expect(h.recipientListVersion).toBe(0);
    expect(h.recipientDevices).toEqual([]);
    expect(splitPairwisePlaintext(wrapFanout(h, app)).header).toEqual(h);
  });

  test("round trip, and a bare application message is told apart by its first byte", () => {
    const wrapped = wrapFanout(header, app);
    expect(splitPairwisePlaintext(wrapped)).toEqual({ header, app });
    expect(splitPairwisePlaintext(app)).toEqual({ header: null, app });
  });

  test("a fan-out plaintext the codec refuses is a CodecError", () => {
    const wrapped = wrapFanout(header, app);
    expect(() => splitPairwisePlaintext(wrapped.subarray(0, 12))).toThrow(CodecError);
  });
});

describe("receiving (§17.5)", () => {
  const p = splitPairwisePlaintext(wrapFanout(header, app));

  test("every listed device of the recipient takes it, from the peer", () => {
    for (const d of [1, 4])
      expect(checkFanout(p, bobAt(d))).toEqual({ ok: true, from: "peer", chatPeer: "alice", staleSender: false });
  });

  test("our other devices take it as our own, for the peer the header names", () => {
    for (const d of [1, 3])
      expect(checkFanout(p, aliceAt(d))).toEqual({ ok: true, from: "own", chatPeer: "bob", staleSender: false });
  });

  test("a device that is not listed drops it as misdirected", () => {
    expect(checkFanout(p, bobAt(2))).toEqual({ ok: false, reason: "misdirected" });
    expect(checkFanout(p, aliceAt(4))).toEqual({ ok: false, reason: "misdirected" });
    expect(checkFanout(p, { ...bobAt(1), me: "carol" })).toEqual({ ok: false, reason: "misdirected" });
  });

  test("a copy for our own devices with no recipient devices is misdirected at the recipient", () => {
    const h = fanoutHeader({ myDevice: 1, own: { version: 2, devices: [1, 2] }, recipient: "bob", peer: null });
    const q = splitPairwisePlaintext(wrapFanout(h, app));
    expect(checkFanout(q, { ...bobAt(1), sender: "alice", senderDevice: 1 })).toEqual({
      ok: false,
      reason: "misdirected",
    });
  });

  test("the header's sender device must be the session's", () => {
    expect(checkFanout(p, { ...bobAt(1), senderDevice: 3 })).toEqual({ ok: false, reason: "wrong_sender_device" });
  });

  test("a sender that used an older version of our list is stale; a newer or equal one is not", () => {
    expect(checkFanout(p, bobAt(1, 4))).toMatchObject({ ok: true, staleSender: true });
    expect(checkFanout(p, bobAt(1, 2))).toMatchObject({ ok: true, staleSender: false });
    expect(checkFanout(p, aliceAt(3, 6))).toMatchObject({ ok: true, from: "own", staleSender: true });
  });

  test("a bare message only from an account without a list, never from our own account", () => {
    const bare = splitPairwisePlaintext(app);
    expect(checkFanout(bare, { ...bobAt(1), senderDevice: 1, senderHasList: false })).toEqual({
      ok: true,
      from: "peer",
      chatPeer: "alice",
      staleSender: false,
    });
    expect(checkFanout(bare, bobAt(1))).toEqual({ ok: false, reason: "bare_from_listed" });
    expect(checkFanout(bare, { ...aliceAt(1), senderHasList: false })).toEqual({
      ok: false,
      reason: "bare_from_listed",
    });
  });
});
