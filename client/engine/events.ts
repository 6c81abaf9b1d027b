/**
 * What the engine reports while it receives: the events `smsg listen --json` prints, one JSON
 * line each (client/commands/output.ts), and the one-shot commands report as warnings.
 */
import type { ChatEventKind } from "../../src/wire/messages.js";

/** Where a text message's sequence number stands (client/protocol/sequence.ts). */
export type SeqStatus = "ok" | "gap" | "late" | "duplicate" | "stale";

/** A text message received and stored. */
export interface MessageEvent {
  readonly type: "message";
  readonly chat: number;
  /** Local message id (what `history --before` takes). */
  readonly id: number;
  /** The relay's message id. */
  readonly relayMsg: number;
  readonly from: string;
  /** The relay's time of the message, ms since the epoch. */
  readonly ts: number;
  /** The sender's clock when it wrote the message (inside the encryption: the relay cannot change it, the sender can). */
  readonly senderTs: number;
  /** The sender's sequence number in this chat. */
  readonly seq: number;
  readonly seqStatus: SeqStatus;
  readonly body: string;
  /**
   * It came on a session whose identity is not the pinned one: the relay may be impersonating
   * the sender. Shown flagged until the user verifies or accepts the key.
   */
  readonly keyChanged: boolean;
  /**
   * Our own text, sent from another device of our account (SECURITY.md §17.5 "sent by you on
   * another device"): filed as outgoing in the direct chat with the peer it was for. Absent
   * (journal entries of an older version) means false.
   */
  readonly own?: boolean;
  /** The sending device (absent: device 1). */
  readonly fromDevice?: number;
  /** That device's name when its account told us (§17.7), else null (absent: null). */
  readonly deviceName?: string | null;
}

/** A contact's identity key changed (seen in a first message, a bundle or a lookup). */
export interface KeyChangeEvent {
  readonly type: "key_change";
  readonly user: string;
  readonly chat: number | null;
}

/** Sequence numbers from a sender that never arrived (the relay dropped or still holds them). */
export interface GapEvent {
  readonly type: "gap";
  readonly chat: number;
  readonly from: string;
  readonly missingFrom: number;
  readonly missingTo: number;
}

/** A message that could not be decrypted: stored as such, never dropped. */
export interface UndecryptableEvent {
  readonly type: "undecryptable";
  readonly chat: number;
  readonly id: number;
  readonly relayMsg: number;
  readonly from: string;
  readonly ts: number;
  /** Why, in words that reveal nothing secret ("could not decrypt", "sent by a newer version", …). */
  readonly reason: string;
}

/** A contact announced a display name. */
export interface ProfileEvent {
  readonly type: "profile";
  readonly user: string;
  readonly displayName: string | null;
}

/** A chat changed on the relay (closed, reopened, member added, removed, left). */
export interface ChatEventEvent {
  readonly type: "chat_event";
  readonly chat: number;
  readonly event: ChatEventKind;
  readonly user: string | null;
  readonly by: string;
}

/**
 * A group's admin-signed membership was accepted (SECURITY.md §15.4.2): who signed it and what
 * changed. Refused states are UndecryptableEvents saying why.
 */
export interface GroupStateEvent {
  readonly type: "group_state";
  readonly chat: number;
  readonly epoch: number;
  /** The admin who signed it. */
  readonly by: string;
  readonly name: string;
  readonly members: readonly string[];
  readonly admins: readonly string[];
  /** Members new in this state (every member on bootstrap). */
  readonly added: readonly string[];
  readonly removed: readonly string[];
  /** Of `removed`, those we had already seen leave the chat at the relay (reported then): they left, the admin signed it. */
  readonly left: readonly string[];
  /** Admins new in this state (every admin on bootstrap): an admin leaving names one this way. */
  readonly promoted: readonly string[];
  /** The group's name differs from the one accepted before. */
  readonly renamed: boolean;
  /** The first state seen for this group: trusted because the relay names its signer an admin (§15.4.5). */
  readonly bootstrap: boolean;
}

/**
 * We are no longer a member of a group (SECURITY.md §15.4.6): we left it, or were removed; `by`
 * is who removed us when an admin's signed state or the relay's event said so, else null.
 */
export interface DepartedEvent {
  readonly type: "departed";
  readonly chat: number;
  readonly name: string | null;
  readonly how: "left" | "removed";
  readonly by: string | null;
}

/**
 * What happened to a device list (SECURITY.md §17.4's table): `added` / `removed` (accepted),
 * `rolled_back` (the relay served an older list), `refused` (a list the account did not sign,
 * malformed or of another account), `conflict` (two lists with one version), `returned` (a
 * removed device brought back or a device's key changed), `unlisted_device` (a message from a
 * device not in the accepted list was refused, §17.4 last paragraph), `this_device_removed` (our
 * own account's accepted list no longer holds the device running this client, §17.7: it receives
 * nothing more and can no longer log in).
 */
export type DeviceListOutcome =
  "added" | "removed" | "rolled_back" | "refused" | "conflict" | "returned" | "unlisted_device" | "this_device_removed";

/** A device list was accepted or refused, or a message from an unlisted device refused (SECURITY.md §17.4). */
export interface DeviceListEvent {
  readonly type: "device_list";
  /** The account whose list it is (our own included). */
  readonly user: string;
  /** It is our own account. */
  readonly own: boolean;
  readonly outcome: DeviceListOutcome;
  /** The device ids concerned: added, removed, brought back, or the sending device refused. */
  readonly devices: readonly number[];
  /** The names of `devices` where known (§17.7), else null each. */
  readonly names: readonly (string | null)[];
  /** The version of the list concerned, and for rolled_back the version we hold. */
  readonly version: number | null;
  readonly acceptedVersion: number | null;
}

/** Any engine event. */
export type EngineEvent =
  | MessageEvent
  | KeyChangeEvent
  | GapEvent
  | UndecryptableEvent
  | ProfileEvent
  | ChatEventEvent
  | GroupStateEvent
  | DepartedEvent
  | DeviceListEvent;

/** Receives engine events. */
export type EventSink = (event: EngineEvent) => void;

/** What processing one incoming frame did (client/engine/inbox.ts). */
export interface Received {
  /** False when (chat, relay id) was already stored: nothing happened. */
  readonly stored: boolean;
  readonly events: readonly EngineEvent[];
  /**
   * A device that sent from an older version of our own device list than we accepted
   * (SECURITY.md §17.5): the receiver's caller sends it our current list (absent: none).
   */
  readonly staleSender?: StaleSender;
}

/** A sending device that used an older version of our own device list (Received.staleSender). */
export interface StaleSender {
  readonly chat: number;
  readonly user: string;
  readonly device: number;
}
