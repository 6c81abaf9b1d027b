/**
 * `smsg history CHAT [--limit N] [--before ID] [--offline]`: a page of a chat's history, oldest
 * first. It first fetches what is waiting on the relay (unless --offline), so a message someone
 * just sent shows at once; it marks what it shows as read.
 */
import type { Argv } from "yargs";
import { UsageError } from "../../src/errors.js";
import { findChat } from "../engine/chats.js";
import { isControlRow } from "../engine/inbox.js";
import type { Account } from "../engine/open-account.js";
import { type ChatRecord, MAX_HISTORY_PAGE, type MessageRecord } from "../store/index.js";
import { type ProfileArgs, displayNameOf, withAccount, withOfflineOption, withProfileOptions } from "./common.js";
import { runCommand } from "./exit.js";
import { type OtherDevice, gapLine, messageJson, messageLine, printJson, printLine } from "./output.js";

/** One page of what the history shows (control rows left out): oldest first, and whether older ones exist. */
export function visibleHistory(
  acct: Account,
  chatId: number,
  limit: number,
  beforeId?: number,
): { messages: MessageRecord[]; more: boolean } {
  const out: MessageRecord[] = [];
  let before = beforeId;
  for (;;) {
    const page = acct.store.messages.history(chatId, {
      limit: MAX_HISTORY_PAGE,
      ...(before !== undefined ? { beforeId: before } : {}),
    });
    const shown = page.messages.filter((m) => !isControlRow(m));
    out.unshift(...shown);
    const first = page.messages[0];
    if (out.length >= limit || !page.more || first === undefined) {
      return { messages: out.slice(-limit), more: out.length > limit || page.more };
    }
    before = first.id;
  }
}

/**
 * Whether an incoming message is to be flagged as sent with an unverified new key: the peer's
 * key change is still pending and the message was stored after the change was seen. (The store
 * keeps no per-message flag yet, so this is by time; `listen` flags each message exactly.)
 */
export function flaggedByKeyChange(acct: Account, chat: ChatRecord, m: MessageRecord): boolean {
  if (m.direction !== "in" || chat.peer === null) return false;
  const c = acct.store.contacts.get(chat.peer);
  return c !== undefined && c.keyChanged && c.keyChangedAt !== null && m.storedAt >= c.keyChangedAt;
}

/** Where a chat's sequence numbers are counted from (SECURITY.md §15.3.1). */
export interface SequenceAnchor {
  /** Numbers count from 1 at the start of the chat (a direct chat); false: from each sender's first message (a group). */
  readonly fromOne: boolean;
  /** Our current membership starts after this local message id: counting starts again there (ChatRecord.memberSince). */
  readonly restartAfter: number;
}

/** The anchor of `chat`: a group is counted from the point we could read, never from before we joined. */
export function sequenceAnchor(chat: ChatRecord, deviceId = 1): SequenceAnchor {
  // A device added later counts a 1:1 sender from its first message here (§17.6), as sequence-check.ts.
  return { fromOne: (chat.kind === "direct" && deviceId === 1) || chat.seqFromOne, restartAfter: chat.memberSince };
}

/**
 * For our own message written on another device of our account (SECURITY.md §17.5: filed as
 * ours, "sent from Laptop"), that device and its name when known; null for every other message.
 */
export function otherDeviceOf(acct: Account, m: MessageRecord): OtherDevice | null {
  if (m.direction !== "out" || m.senderDevice === acct.deviceId) return null;
  return { device: m.senderDevice, name: acct.store.deviceLists.device(acct.username, m.senderDevice)?.name ?? null };
}

/** True for a message whose number another device counted: a contact's, or ours from another of our devices (§17.5). */
function countedElsewhere(m: MessageRecord, myDevice: number): boolean {
  return m.senderSeq !== null && (m.direction === "in" || m.senderDevice !== myDevice);
}

/**
 * The sequence numbers missing before each message of a page, by message id: for each sender
 * device (numbers are per (sender account, sender device), §17.5; our own other devices count too),
 * the numbers between the previous one shown and this one that appear nowhere in the page.
 * Before a sender's first message in the page only when `fromStart` (the page starts the chat)
 * and numbers count from 1 there (`anchor.fromOne`); after `anchor.restartAfter`, each
 * sender's first message starts the count again (a group we were added back to).
 */
export function gapsBefore(
  messages: readonly MessageRecord[],
  fromStart: boolean,
  anchor: SequenceAnchor = { fromOne: true, restartAfter: 0 },
  myDevice = 1,
): Map<number, [from: number, to: number]> {
  const key = (m: MessageRecord) => `${m.sender}\u0000${m.senderDevice}`;
  const seen = new Map<string, Set<number>>();
  for (const m of messages) {
    if (!countedElsewhere(m, myDevice)) continue;
    const s = seen.get(key(m)) ?? new Set<number>();
    s.add(m.senderSeq!);
    seen.set(key(m), s);
  }
  const last = new Map<string, number>();
  const out = new Map<number, [number, number]>();
  let restarted = false;
  for (const m of messages) {
    if (!countedElsewhere(m, myDevice) || m.senderSeq === null) continue;
    if (!restarted && anchor.restartAfter > 0 && m.id > anchor.restartAfter) {
      last.clear();
      restarted = true;
    }
    const prev = last.get(key(m)) ?? (fromStart && anchor.fromOne ? 0 : undefined);
    if (prev !== undefined && m.senderSeq > prev + 1) {
      const all = seen.get(key(m))!;
      let from = prev + 1;
      while (from < m.senderSeq && all.has(from)) from++;
      let to = m.senderSeq - 1;
      while (to > from && all.has(to)) to--;
      if (from <= to && !all.has(from)) out.set(m.id, [from, to]);
    }
    if (prev === undefined || m.senderSeq > prev) last.set(key(m), m.senderSeq);
  }
  return out;
}

function show(
  acct: Account,
  chat: ChatRecord,
  argv: ProfileArgs & { limit: number; before?: number | undefined },
): void {
  if (!Number.isInteger(argv.limit) || argv.limit < 1 || argv.limit > MAX_HISTORY_PAGE)
    throw new UsageError(`--limit must be 1..${MAX_HISTORY_PAGE}`);
  if (argv.before !== undefined && (!Number.isSafeInteger(argv.before) || argv.before < 1))
    throw new UsageError("--before takes a message id (#N)");
  const page = visibleHistory(acct, chat.id, argv.limit, argv.before);
  const gaps = gapsBefore(page.messages, !page.more, sequenceAnchor(chat, acct.deviceId), acct.deviceId);
  const names = displayNameOf(acct);
  for (const m of page.messages) {
    const gap = gaps.get(m.id);
    if (gap) {
      const [from, to] = gap;
      if (argv.json)
        printJson("gap", { chat: chat.id, from: m.sender, missing_from: from, missing_to: to, before_id: m.id });
      else printLine(gapLine(m.sender, from, to, names));
    }
    const flagged = flaggedByKeyChange(acct, chat, m);
    const from = otherDeviceOf(acct, m);
    if (argv.json) printJson("message", messageJson(m, flagged, from));
    else printLine(messageLine(m, flagged, names, from));
  }
  const first = page.messages[0];
  if (argv.json)
    printJson("history_end", { chat: chat.id, more: page.more, ...(page.more && first ? { before: first.id } : {}) });
  else if (page.messages.length === 0) printLine("(no messages)");
  else if (page.more && first) printLine(`(older messages: smsg history ${chat.id} --before ${first.id})`);
  const newestIn = Math.max(
    0,
    ...page.messages.filter((m) => m.direction === "in" && m.relayMsgId !== null).map((m) => m.relayMsgId!),
  );
  if (newestIn > 0) acct.store.chats.markRead(chat.id, newestIn);
}

/** Mounts `history`. */
export function historyCommand<T extends { json: boolean }>(y: Argv<T>): Argv<T> {
  return y.command(
    "history <chat>",
    "Show a chat's messages, oldest first (fetches new ones first)",
    (a) =>
      withOfflineOption(withProfileOptions(a))
        .positional("chat", {
          type: "string",
          demandOption: true,
          describe: "Chat id, chat name, or the other member of a direct chat",
        })
        .option("limit", { type: "number", default: 50, describe: `How many messages (1..${MAX_HISTORY_PAGE})` })
        .option("before", { type: "number", describe: "Only messages older than this id (#N)" }),
    (argv) =>
      runCommand(async () => {
        const args = argv as ProfileArgs & typeof argv;
        await withAccount(args, async (acct, online) => {
          show(acct, online ? await findChat(acct, online.relay, args.chat) : acct.store.resolveChat(args.chat), args);
        });
      }),
  );
}
