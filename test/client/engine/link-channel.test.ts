/**
 * One link's mailbox (client/engine/link-channel.ts, SECURITY.md §17.6): the other side's
 * messages in order, only this link's; a message of another type or a failing tag ends the
 * link for good (queued messages included); the connection closing still lets what arrived be
 * read; the lifetime passing ends it; a post the relay does not know the link for is
 * LinkEndedError (exit 11).
 */
import { EventEmitter } from "node:events";
import { describe, expect, test } from "vitest";
import { exitCodeOf } from "../../../client/commands/exit.js";
import { LinkChannel, LinkEndedError } from "../../../client/engine/link-channel.js";
import { utf8 } from "../../../crypto/bytes.js";
import { LINK_MESSAGE, type LinkMessageType, sealLinkMessage } from "../../../crypto/device-link.js";
import { seededRng } from "../../../crypto/rng.js";
import { type ErrorCode, RemoteError } from "../../../src/errors.js";
import { EXIT } from "../../../src/exit-codes.js";

const rng = seededRng(utf8("link-channel test"));
const key = new Uint8Array(32).fill(5);
const linkId = new Uint8Array(16).fill(6);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** A connection that records requests and lets the test push link_msg and close it. */
function fakeRelay(refuse?: ErrorCode) {
  const requests: { t: string }[] = [];
  const relay = Object.assign(new EventEmitter(), {
    isClosed: false,
    request: async (msg: { t: string }) => {
      requests.push(msg);
      if (refuse && msg.t === "link_post") throw new RemoteError(refuse, "no such link");
      return { t: "ok" };
    },
  });
  const push = (type: LinkMessageType, body: string, opts: { link?: Uint8Array; key?: Uint8Array } = {}) => {
    const link = opts.link ?? linkId;
    relay.emit("link_msg", { link, message: sealLinkMessage(opts.key ?? key, link, type, utf8(body), rng) });
  };
  return { relay, push, requests };
}

describe("LinkChannel", () => {
  test("this link's messages in order, waiting for one that has not come yet", async () => {
    const { relay, push } = fakeRelay();
    const ch = new LinkChannel(relay as never, linkId, rng);
    push(LINK_MESSAGE.commit, "not ours", { link: new Uint8Array(16).fill(9) });
    push(LINK_MESSAGE.commit, "commit");
    expect(text(await ch.next(key, LINK_MESSAGE.commit))).toBe("commit");
    const waiting = ch.next(key, LINK_MESSAGE.newKey);
    push(LINK_MESSAGE.newKey, "key");
    expect(text(await waiting)).toBe("key");
    ch.dispose();
  });

  test("another type, or a tag that fails, ends the link for good, even for messages already queued", async () => {
    for (const bad of [{ type: LINK_MESSAGE.commit }, { type: LINK_MESSAGE.newKey, key: new Uint8Array(32).fill(1) }]) {
      const { relay, push } = fakeRelay();
      const ch = new LinkChannel(relay as never, linkId, rng);
      push(bad.type, "bad", bad.key ? { key: bad.key } : {});
      push(LINK_MESSAGE.newKey, "good");
      const err = await ch.next(key, LINK_MESSAGE.newKey).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LinkEndedError);
      expect((err as Error).message).toBe(
        "the device link ended: the other device sent a message that does not belong to this link; nothing was added or stored",
      );
      expect(exitCodeOf(err)).toBe(EXIT.inviteInvalid);
      await expect(ch.next(key, LINK_MESSAGE.newKey)).rejects.toBe(err);
      await expect(ch.post(key, LINK_MESSAGE.grant, utf8("x"))).rejects.toBe(err);
      ch.dispose();
    }
  });

  test("the connection closing: what arrived can still be read, then it is ended", async () => {
    const { relay, push } = fakeRelay();
    const ch = new LinkChannel(relay as never, linkId, rng);
    push(LINK_MESSAGE.grant, "grant");
    relay.emit("close", new Error("no login in time"));
    expect(text(await ch.next(key, LINK_MESSAGE.grant))).toBe("grant");
    await expect(ch.next(key, LINK_MESSAGE.grant)).rejects.toThrow(
      "the device link ended: the connection to the relay closed (no login in time); nothing was added or stored",
    );
    ch.dispose();
  });

  test("the lifetime passing ends a wait", async () => {
    const { relay } = fakeRelay();
    const ch = new LinkChannel(relay as never, linkId, rng, Date.now(), 50);
    await expect(ch.next(key, LINK_MESSAGE.commit)).rejects.toThrow(
      "the device link ended: its 5 minutes passed; nothing was added or stored",
    );
    ch.dispose();
  });

  test("a post to a link the relay does not know is LinkEndedError; close sends link_close and stops listening", async () => {
    const { relay, requests } = fakeRelay("LINK_UNKNOWN");
    const ch = new LinkChannel(relay as never, linkId, rng);
    const err = await ch.post(key, LINK_MESSAGE.commit, utf8("c")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LinkEndedError);
    expect(exitCodeOf(err)).toBe(EXIT.inviteInvalid);
    await ch.close();
    expect(requests.map((r) => r.t)).toEqual(["link_post", "link_close"]);
    expect(relay.listenerCount("link_msg")).toBe(0);
    expect(relay.listenerCount("close")).toBe(0);
  });
});
