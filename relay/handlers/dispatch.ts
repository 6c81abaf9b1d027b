/**
 * Routes a validated message to its handler, after checking it is allowed in the
 * connection's phase: hello first, then join, login or register_device, then everything else
 * (or, after passphrase_login, only what SECURITY.md §18.6 allows: passphrase-phase.ts).
 */
import type { ClientMessage } from "../../src/wire/index.js";
import { RelayError } from "../errors.js";
import type { HandlerConnection } from "./handler-connection.js";
import { handleJoin, handleLogin, handleRegisterDevice } from "./auth.js";
import {
  handleAddMember,
  handleCreateGroup,
  handleListChats,
  handleListMembers,
  handleOpenDirect,
  handleRemoveMember,
  handleSetClosed,
  handleLeave,
} from "./chats.js";
import { handleLinkClose, handleLinkOpen, handleLinkPost } from "./device-link.js";
import { handleFetchDeviceList, handleFetchDeviceListVersions, handlePublishDeviceList } from "./devices.js";
import { handleFetchBundle, handleLookupUser, handleUploadPrekeys } from "./keys.js";
import { handleAck, handleHistory, handleSend, handleSendCopies, handleSync } from "./messages.js";
import {
  handleBackupGet,
  handleBackupPut,
  handleBackupUpdate,
  handlePassphraseLogin,
  handlePassphraseRemove,
  handlePassphraseSalt,
  handlePassphraseSet,
} from "./passphrase.js";
import { dispatchPassphrasePhase } from "./passphrase-phase.js";

export async function dispatch(conn: HandlerConnection, msg: ClientMessage): Promise<void> {
  if (msg.t === "ping") return conn.send({ t: "pong", n: msg.n });
  if (msg.t === "pong") return; // lastSeen was updated when the frame arrived
  if (conn.phase === "hello") {
    if (msg.t !== "hello") {
      conn.fail("UNEXPECTED_MESSAGE", "the first message must be hello");
      return;
    }
    conn.phase = "login";
    // The connection speaks the version hello asked for (the decoder refused any other, and
    // the connection switched its decoding when it read the hello: SECURITY.md §14.9).
    conn.send({ t: "welcome", v: msg.v, relay: conn.ctx.relayName });
    return;
  }
  if (msg.t === "hello") throw new RelayError("UNEXPECTED_MESSAGE", "hello was already sent");
  if (conn.phase === "login") {
    if (msg.t === "join") return handleJoin(conn, msg);
    if (msg.t === "login") return handleLogin(conn, msg);
    if (msg.t === "register_device") return handleRegisterDevice(conn, msg);
    if (msg.t === "passphrase_salt") return handlePassphraseSalt(conn, msg);
    if (msg.t === "passphrase_login") return handlePassphraseLogin(conn, msg);
    if (msg.t === "link_post") return handleLinkPost(conn, msg);
    if (msg.t === "link_close") return handleLinkClose(conn, msg);
    throw new RelayError("NOT_AUTHENTICATED", "log in or join first");
  }
  if (conn.phase === "passphrase") return dispatchPassphrasePhase(conn, msg);
  const account = conn.account;
  if (!account) throw new RelayError("NOT_AUTHENTICATED", "log in or join first");
  switch (msg.t) {
    case "join":
    case "login":
    case "register_device":
    case "passphrase_salt":
    case "passphrase_login":
      throw new RelayError("UNEXPECTED_MESSAGE", "already logged in");
    case "upload_prekeys":
      return handleUploadPrekeys(conn, account, msg);
    case "fetch_bundle":
      return handleFetchBundle(conn, msg);
    case "lookup_user":
      return handleLookupUser(conn, msg);
    case "open_direct":
      return handleOpenDirect(conn, account, msg);
    case "create_group":
      return handleCreateGroup(conn, account, msg);
    case "add_member":
      return handleAddMember(conn, account, msg);
    case "remove_member":
      return handleRemoveMember(conn, account, msg);
    case "leave_chat":
      return handleLeave(conn, account, msg);
    case "close_chat":
      return handleSetClosed(conn, account, msg, true);
    case "reopen_chat":
      return handleSetClosed(conn, account, msg, false);
    case "list_chats":
      return handleListChats(conn, account, msg);
    case "list_members":
      return handleListMembers(conn, account, msg);
    case "send":
      return handleSend(conn, account, msg);
    case "send_copies":
      return handleSendCopies(conn, account, msg);
    case "sync":
      return handleSync(conn, account, msg);
    case "ack":
      return handleAck(conn, account, msg);
    case "history":
      return handleHistory(conn, account, msg);
    case "publish_device_list":
      return handlePublishDeviceList(conn, account, msg);
    case "fetch_device_list":
      return handleFetchDeviceList(conn, account, msg);
    case "fetch_device_list_versions":
      return handleFetchDeviceListVersions(conn, msg);
    case "backup_get":
      return handleBackupGet(conn, msg);
    case "backup_put":
      return handleBackupPut(conn, msg);
    case "passphrase_set":
      return handlePassphraseSet(conn, account, msg);
    case "backup_update":
      return handleBackupUpdate(conn, account, msg);
    case "passphrase_remove":
      return handlePassphraseRemove(conn, account, msg);
    case "link_open":
      return handleLinkOpen(conn, msg);
    case "link_post":
      return handleLinkPost(conn, msg);
    case "link_close":
      return handleLinkClose(conn, msg);
    default: {
      // Every type of the catalogue is served (this does not compile when one is not): a type
      // added to the catalogue without a handler must get an answer, never silence.
      const unserved: never = msg;
      throw new RelayError("UNKNOWN_TYPE", `${(unserved as ClientMessage).t} is not supported by this relay`);
    }
  }
}
