/**
 * The fan-out header on a group's pairwise copies (client/engine/group/fanout.ts, SECURITY.md
 * §17.5 "Groups"): each account's copies name that account, our own devices' copies name our
 * own account; a receiving device refuses a copy that names another account or device, another
 * sending device, or comes bare from an account with a list. Only the device lists of the store
 * are read, so a store stand-in holding them is enough.
 */
import { describe, expect, test } from "vitest";
import { checkGroupCopy, groupCopyHeader } from "../../../client/engine/group/fanout.js";
import type { Account } from "../../../client/engine/open-account.js";
import type { FanoutHeader } from "../../../crypto/device-fanout.js";

/** An account stand-in: `me`'s device `device`, with accepted lists of the given versions and device ids. */
function device(me: string, id: number, lists: Record<string, { version: number; devices: number[] }>): Account {
  const deviceLists = {
    get: (u: string) => {
      const l = lists[u];
      return l && { list: { version: l.version, devices: l.devices.map((d) => ({ id: d })) } };
    },
  };
  return { username: me, deviceId: id, store: { deviceLists } } as unknown as Account;
}

const lists = {
  alice: { version: 3, devices: [1, 2] },
  bob: { version: 5, devices: [1, 4] },
};

describe("the header of a group hand-over", () => {
  const sender = device("alice", 1, lists);
  const batch = [
    { user: "bob", device: 1 },
    { user: "bob", device: 4 },
    { user: "alice", device: 2 },
    { user: "carol", device: 1 },
  ];

  test("a member's copies name the member and its devices; our own devices' copies name our account", () => {
    expect(groupCopyHeader(sender, batch[0]!, batch.slice(0, 3))).toEqual({
      senderDevice: 1,
      recipient: "bob",
      recipientListVersion: 5,
      recipientDevices: [1, 4],
      senderListVersion: 3,
      ownDevices: [2],
    });
    expect(groupCopyHeader(sender, batch[2]!, batch.slice(0, 3))).toEqual({
      senderDevice: 1,
      recipient: "alice",
      recipientListVersion: 3,
      recipientDevices: [2],
      senderListVersion: 3,
      ownDevices: [2],
    });
  });

  test("an account without a list gets no header (it is sent bare)", () => {
    expect(() => groupCopyHeader(sender, batch[3]!, batch)).toThrow(/without a list/);
  });
});

describe("a receiving device's checks", () => {
  const header = (h: Partial<FanoutHeader>): FanoutHeader => ({
    senderDevice: 1,
    recipient: "bob",
    recipientListVersion: 5,
    recipientDevices: [1, 4],
    senderListVersion: 3,
    ownDevices: [],
    ...h,
  });
  const app = new Uint8Array([0x80]);
  const bob4 = device("bob", 4, lists);

  test("a copy for our account that lists our device, from the session's device, is taken", () => {
    expect(checkGroupCopy(bob4, { header: header({}), app }, "alice", 1)).toBeUndefined();
  });

  test("another sending device, another account, or not our device: refused", () => {
    expect(checkGroupCopy(bob4, { header: header({}), app }, "alice", 2)).toBe("wrong_sender_device");
    expect(checkGroupCopy(bob4, { header: header({ recipient: "carol" }), app }, "alice", 1)).toBe("misdirected");
    expect(checkGroupCopy(bob4, { header: header({ recipientDevices: [1] }), app }, "alice", 1)).toBe("misdirected");
  });

  test("bare: only from an account we hold no list for, never from our own", () => {
    expect(checkGroupCopy(bob4, { header: null, app }, "alice", 1)).toBe("bare_from_listed");
    expect(checkGroupCopy(bob4, { header: null, app }, "dave", 1)).toBeUndefined();
    expect(checkGroupCopy(device("bob", 1, {}), { header: null, app }, "bob", 4)).toBe("bare_from_listed");
  });

  test("from our own other device: our account as recipient, our device among recipients and own devices", () => {
    const own = header({ senderDevice: 1, recipient: "bob", recipientDevices: [4], ownDevices: [4] });
    expect(checkGroupCopy(bob4, { header: own, app }, "bob", 1)).toBeUndefined();
    expect(checkGroupCopy(bob4, { header: { ...own, ownDevices: [] }, app }, "bob", 1)).toBe("misdirected");
    expect(checkGroupCopy(bob4, { header: { ...own, recipient: "alice" }, app }, "bob", 1)).toBe("misdirected");
  });
});
