/**
 * What the client commands print. Data goes to stdout: for people as plain lines, with `--json`
 * as JSON lines, each an object `{"v":1,"type":…}` (schema version 1; a new field may be added,
 * an existing one never changes meaning). Warnings and errors go to stderr. Text written by
 * other people is made harmless for a terminal before it is shown (`terminalSafe`).
 */
import type { AccountStateOmissions } from "../engine/account-state-snapshot.js";
import type { ChatEventEvent, DepartedEvent, DeviceListEvent, EngineEvent, GroupStateEvent } from "../engine/events.js";
import type { ListenStatus } from "../engine/listener.js";
import { displayText, senderLabel } from "../protocol/text-rules.js";
import type { MessageRecord } from "../store/index.js";

/** The version of every JSON line the client prints. */
export const JSON_SCHEMA_VERSION = 1;

/**
 * Every `type` a JSON line may have. README.md "JSON output (version 1)" documents each one
 * (test/client/json-schema.test.ts checks that the table lists exactly these).
 */
export const JSON_EVENT_TYPES = [
  // engine events (listen, interactive; eventJson)
  "message",
  "key_change",
  "gap",
  "undecryptable",
  "profile",
  "chat_event",
  "group_state",
  "departed",
  "device_list",
  // connection status (listen, interactive; statusJson)
  "listening",
  "disconnected",
  // command results
  "history_end",
  "sent",
  "open",
  "chat",
  "chat_left",
  "chat_closed",
  "chat_reopened",
  "member",
  "member_added",
  "member_removed",
  "safety_number",
  "joined",
  "logged_in",
  "whoami",
  "account_passphrase",
  "device",
  "device_removed",
  "device_link",
  "device_linked",
  "device_added",
  "imported",
  "exported",
  "vector_written",
  "vector_verified",
] as const;

/** The `type` of a JSON line. */
export type JsonEventType = (typeof JSON_EVENT_TYPES)[number];

/** Prints one JSON line `{"v":1,"type":type,...fields}` on stdout. */
export function printJson(type: JsonEventType, fields: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ v: JSON_SCHEMA_VERSION, type, ...fields })}\n`);
}

/** Prints one line on stdout. */
export function printLine(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Width of the sync progress bar, in characters. */
const BAR_WIDTH = 24;

/** A terminal stream a status line is drawn on: its width when known (`columns`). */
export type StatusStream = Pick<NodeJS.WriteStream, "isTTY" | "write"> & { readonly columns?: number | undefined };

/**
 * `text` cut to fit one row of `out` (its `columns`, else 80), ending in "…" when cut. A status
 * line redrawn with "\r" and erased with "\x1b[K" must never wrap: only its last row would be
 * erased, and the rest would stay on screen after the command ended.
 */
export function fitStatusLine(text: string, out: StatusStream): string {
  const width = Math.max(2, (out.columns ?? 80) - 1);
  const chars = [...text];
  return chars.length <= width ? text : `${chars.slice(0, width - 1).join("")}…`;
}

/**
 * A progress bar on stderr while a long sync runs (goOnline's onSyncProgress):
 * `syncing [#####·······] 500/1200 messages`, redrawn in place per page, or `syncing… N
 * messages` when the relay gave no total; `done()` erases it. Nothing with --json or when
 * stderr is not a terminal.
 */
export function syncProgress(
  json: boolean,
  out: StatusStream = process.stderr,
): { onSyncProgress(frames: number, total?: number): void; done(): void } {
  if (json || !out.isTTY) return { onSyncProgress: () => undefined, done: () => undefined };
  let shown = false;
  return {
    onSyncProgress: (frames, total) => {
      shown = true;
      if (total === undefined || total <= 0) {
        out.write(`\r\x1b[K${fitStatusLine(`syncing… ${frames} messages`, out)}`);
        return;
      }
      const shownTotal = Math.max(total, frames); // messages that arrived meanwhile
      const filled = Math.round((BAR_WIDTH * frames) / shownTotal);
      const bar = `[${"#".repeat(filled)}${"·".repeat(BAR_WIDTH - filled)}]`;
      out.write(`\r\x1b[K${fitStatusLine(`syncing ${bar} ${frames}/${shownTotal} messages`, out)}`);
    },
    done: () => {
      if (shown) out.write("\r\x1b[K");
      shown = false;
    },
  };
}

/** Prints `smsg: warning: …` on stderr. */
export function warn(message: string): void {
  process.stderr.write(`smsg: warning: ${message}\n`);
}

/**
 * `text` as it may reach a terminal (client/protocol/text-rules.ts displayText): no escape
 * sequences, C0/C1 controls or bidi overrides; line breaks kept. For display only: `--json`
 * output carries the text as it was sent (JSON escapes it).
 */
export function terminalSafe(text: string): string {
  return displayText(text);
}

/** A time for people: local `YYYY-MM-DD HH:MM`. */
export function shortTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** Beyond this distance the sender's clock and the relay's time of a message are both shown (SECURITY.md §15.5). */
export const CLOCK_SKEW_SHOWN_MS = 5 * 60_000;

/**
 * The time a message is shown with (SECURITY.md §15.5): the sender's clock, and the relay's
 * time beside it when the two are more than CLOCK_SKEW_SHOWN_MS apart (a wrong clock, or a
 * message that waited offline); the relay's time alone for rows without a sender clock.
 */
export function messageTime(
  senderTs: number | null,
  relayTs: number,
  format: (ms: number) => string = shortTime,
): string {
  if (senderTs === null) return format(relayTs);
  if (Math.abs(senderTs - relayTs) <= CLOCK_SKEW_SHOWN_MS) return format(senderTs);
  return `${format(senderTs)} (relay ${format(relayTs)})`;
}

/** The JSON fields of an engine event (snake_case, as the other JSON lines). */
export function eventJson(e: EngineEvent): Record<string, unknown> {
  switch (e.type) {
    case "message":
      return {
        chat: e.chat,
        id: e.id,
        relay_msg: e.relayMsg,
        from: e.from,
        ts: e.ts,
        sender_ts: e.senderTs,
        seq: e.seq,
        seq_status: e.seqStatus,
        body: e.body,
        key_changed: e.keyChanged,
        // Absent from journal entries an older version wrote: a contact's message from device 1.
        direction: e.own === true ? "out" : "in",
        from_device: e.fromDevice ?? 1,
        device_name: e.deviceName ?? null,
      };
    case "key_change":
      return { user: e.user, chat: e.chat };
    case "gap":
      return { chat: e.chat, from: e.from, missing_from: e.missingFrom, missing_to: e.missingTo };
    case "undecryptable":
      return { chat: e.chat, id: e.id, relay_msg: e.relayMsg, from: e.from, ts: e.ts, reason: e.reason };
    case "profile":
      return { user: e.user, display_name: e.displayName };
    case "chat_event":
      return { chat: e.chat, event: e.event, user: e.user, by: e.by };
    case "group_state":
      return {
        chat: e.chat,
        epoch: e.epoch,
        by: e.by,
        name: e.name,
        members: e.members,
        admins: e.admins,
        added: e.added,
        removed: e.removed,
        left: e.left ?? [], // absent from journal entries an older version wrote
        promoted: e.promoted,
        renamed: e.renamed,
        bootstrap: e.bootstrap,
      };
    case "departed":
      return { chat: e.chat, name: e.name, how: e.how, by: e.by };
    case "device_list":
      return {
        user: e.user,
        own: e.own,
        outcome: e.outcome,
        devices: e.devices,
        names: e.names,
        version: e.version,
        accepted_version: e.acceptedVersion,
      };
  }
}

/** A user's display name, if known (contacts), for sender labels. */
export type DisplayNameOf = (username: string) => string | null | undefined;

/** How a sender is shown (SECURITY.md §15.5): `Display Name (@username)`, or `@username`. */
export function sender(username: string, nameOf?: DisplayNameOf): string {
  return senderLabel(username, nameOf?.(username) ?? undefined);
}

/** The line shown where a sender's numbers jump (SECURITY.md §15.3.2). */
export function gapLine(from: string, missingFrom: number, missingTo: number, nameOf?: DisplayNameOf): string {
  const n = missingTo - missingFrom + 1;
  const [s, verb, pronoun] = n === 1 ? ["", "is", "it"] : ["s", "are", "them"];
  return (
    `⚠ ${n} message${s} from ${sender(from, nameOf)} ${verb} missing ` +
    `(the relay did not deliver ${pronoun}; numbers ${missingFrom}–${missingTo})`
  );
}

/** An engine event as one line for people. */
export function eventLine(e: EngineEvent, nameOf?: DisplayNameOf): string {
  switch (e.type) {
    case "message":
      return (
        `[chat ${e.chat}] ${messageTime(e.senderTs, e.ts)} ${sender(e.from, nameOf)}: ${terminalSafe(e.body)}` +
        (e.own === true ? `  (${sentFrom(e.fromDevice ?? 1, e.deviceName ?? null)})` : "") +
        (e.keyChanged ? "  (⚠ sent with an unverified new key)" : "") +
        seqNote(e.seqStatus, e.from)
      );
    case "key_change":
      return `⚠ ${e.user}'s identity key changed: nothing is sent to them until you check it (smsg verify ${e.user})`;
    case "gap":
      return `[chat ${e.chat}] ${gapLine(e.from, e.missingFrom, e.missingTo, nameOf)}`;
    case "undecryptable":
      return `⚠ [chat ${e.chat}] a message from ${e.from} could not be read: ${e.reason}`;
    case "profile":
      return `${e.user} is now called ${e.displayName === null ? "(no display name)" : terminalSafe(e.displayName)}`;
    case "chat_event":
      return `[chat ${e.chat}] relay: ${chatEventText(e)}`;
    case "group_state":
      return `[chat ${e.chat}] ${groupStateText(e, nameOf)}`;
    case "departed":
      return `[chat ${e.chat}] ${departedText(e)}`;
    case "device_list":
      return deviceListText(e);
  }
}

/** A device list event in the words of SECURITY.md §17.4's table. */
export function deviceListText(e: DeviceListEvent): string {
  const named = e.devices.map((d, i) => {
    const name = e.names[i];
    return name ? `${terminalSafe(name)}, device ${d}` : `device ${d}`;
  });
  const which = named.length > 0 ? ` (${named.join("; ")})` : "";
  const plural = e.devices.length > 1 ? "devices" : "a device";
  switch (e.outcome) {
    case "added":
      return e.own ? `a device was added to your account${which}` : `${e.user} added ${plural}${which}`;
    case "removed":
      return e.own ? `a device was removed from your account${which}` : `${e.user} removed ${plural}${which}`;
    case "rolled_back":
      return `⚠ the relay served an older device list of ${e.user} (version ${e.version ?? "?"}, you have ${e.acceptedVersion ?? "?"})`;
    case "refused":
      return (
        `⚠ a device list for ${e.user} that ${e.user}'s account did not sign was refused; ` +
        `messages go only to ${e.user}'s verified devices`
      );
    case "conflict":
      return (
        `⚠ two different device lists of ${e.user} were signed with version ${e.version ?? "?"}: ` +
        `ask ${e.user}; ${e.user}'s account key may be in someone else's hands`
      );
    case "returned":
      return (
        `⚠ a device list for ${e.user} tried to bring back a removed device ` +
        `(or change a device's key) and was refused`
      );
    case "unlisted_device": {
      const which = e.devices.length > 0 ? `device ${e.devices.join(", ")}` : "device";
      return `⚠ a message from ${e.user}'s ${which}, which is not in ${e.user}'s device list, could not be accepted`;
    }
    case "this_device_removed":
      return "⚠ this device was removed from your account: it receives nothing more and can no longer log in";
  }
}

/**
 * What an account-state snapshot left out to fit a grant or a backup (SECURITY.md §17.6.1
 * "Building, and what does not fit"), in words, or null when nothing was.
 */
export function omissionText(o: AccountStateOmissions): string | null {
  const parts: string[] = [];
  if (o.departedChats.length > 0) parts.push(`the groups you left (chats ${o.departedChats.join(", ")})`);
  if (o.closedGroupStates.length > 0)
    parts.push(
      `the group states of closed chats ${o.closedGroupStates.join(", ")} (reopened there, they start unverified)`,
    );
  return parts.length > 0 ? parts.join(" and ") : null;
}

/** "sent from Laptop (device 2)", or "sent from device 2" while its name is not known (SECURITY.md §17.5, §17.7). */
export function sentFrom(device: number, name: string | null): string {
  return name ? `sent from ${terminalSafe(name)} (device ${device})` : `sent from device ${device}`;
}

/** We left or were removed, in words (client/engine/group/departure.ts says the same in errors). */
export function departedText(e: DepartedEvent): string {
  const group = e.name !== null ? terminalSafe(e.name) : `chat ${e.chat}`;
  if (e.how === "left") return `you left ${group}`;
  return e.by !== null
    ? `you were removed from ${group} by ${e.by}`
    : `you were removed from ${group} (the relay no longer lists you in it)`;
}

/**
 * A chat event in words. Shown after "relay:": unlike a group_state, nobody signed it (the
 * relay says so), and in a group only a signed state changes who gets keys.
 */
export function chatEventText(e: ChatEventEvent): string {
  const user = e.user ?? "someone";
  switch (e.event) {
    case "added":
      return `${e.by} added ${user}`;
    case "removed":
      return `${e.by} removed ${user}`;
    case "left":
      return `${user} left`;
    case "closed":
      return `${e.by} closed the chat`;
    case "reopened":
      return `${e.by} reopened the chat`;
  }
}

/** What an accepted group state changed, in the words of SECURITY.md §15.4.2. */
export function groupStateText(e: GroupStateEvent, nameOf?: DisplayNameOf): string {
  const who = (users: readonly string[]) => users.map((u) => sender(u, nameOf)).join(", ");
  const by = sender(e.by, nameOf);
  if (e.bootstrap) {
    return `membership of "${terminalSafe(e.name)}" announced by ${by} (first seen; not verified before): ${who(e.members)}`;
  }
  const parts: string[] = [];
  if (e.added.length > 0) parts.push(`${by} added ${who(e.added)}`);
  const left = e.left ?? [];
  const removed = e.removed.filter((u) => u !== e.by && !left.includes(u));
  if (e.removed.includes(e.by)) parts.push(`${by} left`);
  if (left.length > 0) parts.push(`${who(left)} left (signed by ${by})`);
  if (removed.length > 0) parts.push(`${by} removed ${who(removed)}`);
  if (e.renamed) parts.push(`${by} renamed the group to "${terminalSafe(e.name)}"`);
  if (e.promoted.length > 0)
    parts.push(`${who(e.promoted)} ${e.promoted.length === 1 ? "is an admin" : "are admins"} now`);
  if (parts.length === 0) parts.push(`${by} changed the admins: ${who(e.admins)}`);
  return parts.join("; ");
}

function seqNote(s: string, from: string): string {
  if (s === "late") return "  (arrived late)";
  if (s === "duplicate") return `  (⚠ ${from} reused a message number)`;
  if (s === "stale") return "  (⚠ out of order)";
  return "";
}

/**
 * Where a stored message came from, for the history (SECURITY.md §17.5): for our own message
 * written on another device of our account, that device (`name`: its name when known), else null.
 */
export interface OtherDevice {
  readonly device: number;
  readonly name: string | null;
}

/** The JSON fields of a stored message (history). `from`: the other device of ours it was written on, if any. */
export function messageJson(
  m: MessageRecord,
  keyChanged: boolean,
  from: OtherDevice | null = null,
): Record<string, unknown> {
  return {
    chat: m.chatId,
    id: m.id,
    relay_msg: m.relayMsgId,
    from: m.sender,
    direction: m.direction,
    status: m.status,
    ts: m.sentAt,
    sender_ts: m.senderTs,
    seq: m.senderSeq,
    body: m.body,
    key_changed: keyChanged,
    from_device: m.senderDevice,
    device_name: from?.name ?? null,
  };
}

/**
 * A stored message as one line for people: `#ID TIME SENDER: TEXT` and its status; for our own
 * message written on another device of ours (`from`), which one.
 */
export function messageLine(
  m: MessageRecord,
  keyChanged: boolean,
  nameOf?: DisplayNameOf,
  from: OtherDevice | null = null,
): string {
  const head = `#${m.id} ${messageTime(m.senderTs, m.sentAt)} ${sender(m.sender, nameOf)}:`;
  if (m.status === "undecryptable") return `${head} ⚠ (this message could not be decrypted)`;
  const body = terminalSafe(m.body ?? "");
  const status =
    m.status === "pending" ? "  (not sent yet)" : m.status === "failed" ? "  (⚠ failed: not delivered)" : "";
  const device = from ? `  (${sentFrom(from.device, from.name)})` : "";
  return `${head} ${body}${status}${device}${keyChanged ? "  (⚠ sent with an unverified new key)" : ""}`;
}

/** A listener status as a JSON line's fields. */
export function statusJson(s: ListenStatus): [type: JsonEventType, fields: Record<string, unknown>] {
  return s.state === "listening" ? ["listening", {}] : ["disconnected", { reason: s.reason, retry_in_ms: s.retryInMs }];
}
