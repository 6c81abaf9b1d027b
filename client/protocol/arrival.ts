/**
 * Where each kind of application message may arrive (SECURITY.md §15.2.5). The relay
 * routes envelopes and could move one: deliver a pairwise message into a group chat, or a
 * message meant for one chat into another. The `chat` inside the encrypted message, and the
 * channel a kind must use, let the receiver notice.
 */
import type { AppMessage } from "./app-message.js";

/** How an envelope arrived. */
export interface Arrival {
  /** The relay chat id the envelope arrived in. */
  readonly chat: number;
  /** The kind of that chat, as the relay reports it. */
  readonly chatKind: "direct" | "group";
  /** `pairwise`: decrypted with a 1:1 session (SECURITY.md §6); `group`: with a sender key (§7). */
  readonly channel: "pairwise" | "group";
}

/** Whether a message may be used as it arrived. */
export type ArrivalVerdict =
  | { readonly ok: true }
  /** `wrong_chat`: its `chat` is not the chat it arrived in; `wrong_channel`: this kind may not arrive this way. */
  | { readonly ok: false; readonly reason: "wrong_chat" | "wrong_channel" };

const OK: ArrivalVerdict = Object.freeze({ ok: true });

/**
 * Checks a decoded message against how it arrived (SECURITY.md §15.2.5):
 * - `text`: in a direct chat over the pairwise session, in a group over the sender key;
 * - `sender_key`: in a group chat, over the pairwise session only (it holds a chain key);
 * - `group_state`: in a group chat, over either channel (it is signed);
 * - `profile`: anywhere;
 * - `device_list`: in any chat, over the pairwise session only (SECURITY.md §17.7).
 * Every kind with a `chat` field must name the chat it arrived in. A refused message is
 * dropped and the user warned: its authenticated sender (or the relay moving it) misbehaved.
 */
export function checkArrival(message: AppMessage, arrival: Arrival): ArrivalVerdict {
  if (message.k === "profile") return OK;
  if (message.k === "device_list") return arrival.channel === "pairwise" ? OK : { ok: false, reason: "wrong_channel" };
  const channelOk =
    message.k === "text"
      ? arrival.channel === (arrival.chatKind === "direct" ? "pairwise" : "group")
      : arrival.chatKind === "group" && (message.k === "group_state" || arrival.channel === "pairwise");
  if (!channelOk) return { ok: false, reason: "wrong_channel" };
  if (message.chat !== arrival.chat) return { ok: false, reason: "wrong_chat" };
  return OK;
}
