/**
 * link_open, link_post and link_close (SECURITY.md §17.8): the relay's side of linking a device
 * (§17.6) is a mailbox between two connections (relay/link-mailboxes.ts). A post from a
 * connection that is not the link's opener waits out and feeds the address's login backoff
 * (§14.7) when it names no link it may use, so link ids cannot be probed faster than logins.
 */
import type { ClientMessageOf } from "../../src/wire/index.js";
import { RelayError } from "../errors.js";
import { LINK_MAX_MESSAGES, LINK_MAX_PER_OPENER } from "../link-mailboxes.js";
import { backoffWait } from "./auth.js";
import type { HandlerConnection } from "./handler-connection.js";

export function handleLinkOpen(conn: HandlerConnection, msg: ClientMessageOf<"link_open">): void {
  const opened = conn.ctx.links.open(conn, msg.link);
  if (opened === "in_use") throw new RelayError("BAD_MESSAGE", "this link id is in use");
  if (opened === "too_many")
    throw new RelayError(
      "RATE_LIMITED",
      `too many device links are open (at most ${LINK_MAX_PER_OPENER} per device); close one or let it expire`,
    );
  conn.send({ t: "ok", id: msg.id });
}

export function handleLinkPost(conn: HandlerConnection, msg: ClientMessageOf<"link_post">): void {
  const { ctx } = conn;
  const addrKey = `addr:${conn.remoteAddress}`;
  backoffWait(conn, [addrKey]);
  const result = ctx.links.post(conn, msg.link, msg.message);
  if (result === "unknown") {
    ctx.backoff.fail(addrKey, ctx.now());
    throw new RelayError("LINK_UNKNOWN", "no such link, or it expired or ended");
  }
  if (result === "full") throw new RelayError("BAD_MESSAGE", `a link carries at most ${LINK_MAX_MESSAGES} messages`);
  if (result === "early") throw new RelayError("BAD_MESSAGE", "the new device has not posted to this link yet");
  conn.send({ t: "ok", id: msg.id });
}

export function handleLinkClose(conn: HandlerConnection, msg: ClientMessageOf<"link_close">): void {
  if (!conn.ctx.links.close(conn, msg.link))
    throw new RelayError("LINK_UNKNOWN", "no such link, or it expired or ended");
  conn.send({ t: "ok", id: msg.id });
}
