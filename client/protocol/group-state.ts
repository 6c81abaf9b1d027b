/**
 * Signed group state (SECURITY.md §15.4): a group's members, admins and name, as announced
 * end to end by an admin and signed with the admin's identity key. The relay decides who
 * receives a group's messages; these states decide whom a member's client gives its sender key
 * to and whose sender keys it takes. A member the relay lists but no accepted state announced
 * gets no keys, and the user is warned (docs/ARCHITECTURE.md §3.3).
 *
 * Acceptance, in short: a state is for this chat, its epoch is strictly greater than the
 * accepted one, and its signer was an admin of the accepted state (or, before any state was
 * accepted, is one of the bootstrap signers the relay reported: the creator of a new group, the
 * admins of a group the user was added to).
 */
import { LABELS } from "../../crypto/labels.js";
import type { IdentityKeyPair } from "../../crypto/identity.js";
import { ed25519Sign, ed25519Verify } from "../../crypto/primitives.js";
import { groupStateSignedBytes } from "../../crypto/signed-messages.js";
import { ProtocolError, UsageError } from "../../src/errors.js";
import {
  type GroupStateMessage,
  type SenderKeyMessage,
  groupStateMessageSchema,
  senderKeyMessageSchema,
} from "./app-message.js";

/** The Ed25519 signed-message prefix of a group state (crypto/labels.ts, SECURITY.md §15.4). */
export const GROUP_STATE_LABEL = LABELS.groupState;

/** A group state before it is signed: a group_state message without v, k and signature. */
export type GroupState = Omit<GroupStateMessage, "v" | "k" | "signature">;

/** Anything with a member list: a group state, or the set of users holding a sender key. */
export interface HasMembers {
  readonly members: readonly string[];
}

/**
 * The bytes an admin signs (SECURITY.md §15.4.1), built in crypto/signed-messages.ts with the
 * other signed messages of the protocol.
 */
export { groupStateSignedBytes };

/** `schema.parse(value, what)`, with a refusal turned into a UsageError (the caller passed it). */
function checked<T>(schema: { parse(value: unknown, path: string): T }, value: unknown, what: string): T {
  try {
    return schema.parse(value, what);
  } catch (e) {
    if (e instanceof ProtocolError) throw new UsageError(`invalid ${e.message}`);
    throw e;
  }
}

/** Parses `value` with the group_state schema; throws UsageError naming what is wrong. */
function checkedGroupState(value: unknown, what: string): GroupStateMessage {
  return checked(groupStateMessageSchema, value, what);
}

/**
 * Signs a group state with the signer's identity key (SECURITY.md §15.4.1) and returns the
 * group_state message. `members` and `admins` are sorted here; `state.by` must be the signer's
 * username (the receiver checks the signature under `by`'s pinned key). Throws UsageError for
 * a state a receiver would refuse: duplicate names, an admin who is not a member, a field out
 * of bounds.
 */
export function signGroupState(identity: Pick<IdentityKeyPair, "signing">, state: GroupState): GroupStateMessage {
  const sorted: GroupState = {
    chat: state.chat,
    epoch: state.epoch,
    name: state.name,
    members: [...state.members].sort(),
    admins: [...state.admins].sort(),
    by: state.by,
    ts: state.ts,
  };
  // Validate with a placeholder signature first, so a bad state never gets signed.
  checkedGroupState({ v: 1, k: "group_state", ...sorted, signature: new Uint8Array(64) }, "group state");
  const signature = ed25519Sign(identity.signing.privateKey, groupStateSignedBytes(sorted));
  return { v: 1, k: "group_state", ...sorted, signature };
}

/**
 * True when `message.signature` is a valid Ed25519 signature (strict verification, SECURITY.md
 * §2) of its signed bytes under `signingKey`, the pinned identity signing key (32 bytes) of
 * `message.by`. Checks nothing else; acceptGroupState applies the rules. False for a key of the
 * wrong length; UsageError for an integer field out of range (decode the message first).
 */
export function verifyGroupState(signingKey: Uint8Array, message: GroupStateMessage): boolean {
  return ed25519Verify(signingKey, groupStateSignedBytes(message), message.signature);
}

// ---------------------------------------------------------------------------------------------
// Acceptance (SECURITY.md §15.4.2)

/** What acceptGroupState needs besides the two states. */
export interface GroupStateContext {
  /** The relay chat the state arrived for (a group chat). */
  readonly chat: number;
  /**
   * The Ed25519 identity signing key (32 bytes) pinned for a username, or undefined when there
   * is none or its key changed and the user has not accepted the new one.
   */
  readonly signingKeyOf: (username: string) => Uint8Array | undefined;
  /**
   * Who may sign the first state this client accepts for the chat (used only when nothing was
   * accepted yet): for a group the user saw created, its creator as the relay reported it; for
   * a group the user was added to, the admins the relay lists. Trust on first use, like pinned
   * identity keys.
   */
  readonly bootstrapSigners: readonly string[];
}

/** Why a group state was refused. */
export type GroupStateRejection =
  /** Signed for another chat. */
  | "wrong_chat"
  /** Its epoch is below the accepted one. */
  | "stale_epoch"
  /** No pinned (and accepted) identity key for `by`. */
  | "unknown_signer"
  /** The signature does not verify under `by`'s pinned key. */
  | "bad_signature"
  /** `by` was not an admin of the accepted state (or, with none accepted, not a bootstrap signer and admin of the state). */
  | "not_admin"
  /** A different, validly signed state with the same epoch as the accepted one: two admins, or a removed admin and the relay, disagree. */
  | "conflict";

/** The outcome of acceptGroupState. */
export type GroupStateVerdict =
  | {
      readonly verdict: "accepted";
      /** The new accepted state: store it (encoded with encodeAppMessage) in place of the old one. */
      readonly state: GroupStateMessage;
      /** True when nothing was accepted before (trust on first use): shown to the user. */
      readonly bootstrap: boolean;
      /** Members in the new state and not in the old one (all of them on bootstrap), ascending. */
      readonly added: readonly string[];
      /** Members of the old state missing from the new one, ascending. */
      readonly removed: readonly string[];
      /** needsRotation(old, new): the client rotates its own sender key before sending again. */
      readonly rotate: boolean;
    }
  /** The same state as the accepted one (same epoch, same content): nothing to do. */
  | { readonly verdict: "duplicate" }
  /** Refused: the accepted state stays; the client warns the user (except for stale_epoch). */
  | { readonly verdict: "rejected"; readonly reason: GroupStateRejection };

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Members of `a` that are not in `b`, ascending. */
function minus(a: readonly string[], b: readonly string[]): string[] {
  const set = new Set(b);
  return [...new Set(a)].filter((x) => !set.has(x)).sort();
}

/**
 * Decides whether `incoming` replaces `accepted` (undefined: nothing accepted yet) as this
 * chat's group state (SECURITY.md §15.4.2), in this order:
 * 1. `incoming.chat` ≠ `ctx.chat` → wrong_chat.
 * 2. An accepted state exists and `incoming.epoch` < its epoch → stale_epoch; equal epoch and
 *    equal signed content → duplicate.
 * 3. No pinned key for `incoming.by` → unknown_signer; the signature fails → bad_signature.
 * 4. Equal epoch (different content) → conflict.
 * 5. Authority: `by` is an admin of `accepted`; with nothing accepted, `by` is one of
 *    `ctx.bootstrapSigners` and an admin of `incoming` itself. Otherwise not_admin.
 * 6. Accepted.
 * Epochs only need to increase, not by exactly one: states are full snapshots, so a member who
 * missed one (the relay dropped it) still follows. Pure; throws UsageError only when
 * `accepted` or `incoming` is not a valid group_state message (decode them first) or
 * `accepted` belongs to another chat.
 */
export function acceptGroupState(
  accepted: GroupStateMessage | undefined,
  incoming: GroupStateMessage,
  ctx: GroupStateContext,
): GroupStateVerdict {
  const next = checkedGroupState(incoming, "incoming");
  const prev = accepted === undefined ? undefined : checkedGroupState(accepted, "accepted");
  if (prev !== undefined && prev.chat !== ctx.chat)
    throw new UsageError("the accepted group state belongs to another chat");
  if (next.chat !== ctx.chat) return { verdict: "rejected", reason: "wrong_chat" };
  const content = groupStateSignedBytes(next);
  if (prev !== undefined) {
    if (next.epoch < prev.epoch) return { verdict: "rejected", reason: "stale_epoch" };
    if (next.epoch === prev.epoch && sameBytes(content, groupStateSignedBytes(prev))) return { verdict: "duplicate" };
  }
  const key = ctx.signingKeyOf(next.by);
  if (key === undefined) return { verdict: "rejected", reason: "unknown_signer" };
  if (!ed25519Verify(key, content, next.signature)) return { verdict: "rejected", reason: "bad_signature" };
  if (prev !== undefined && next.epoch === prev.epoch) return { verdict: "rejected", reason: "conflict" };
  const authorised =
    prev !== undefined
      ? prev.admins.includes(next.by)
      : ctx.bootstrapSigners.includes(next.by) && next.admins.includes(next.by);
  if (!authorised) return { verdict: "rejected", reason: "not_admin" };
  return {
    verdict: "accepted",
    state: next,
    bootstrap: prev === undefined,
    added: minus(next.members, prev?.members ?? []),
    removed: minus(prev?.members ?? [], next.members),
    rotate: prev !== undefined && needsRotation(prev, next),
  };
}

// ---------------------------------------------------------------------------------------------
// Reconciling with the relay (SECURITY.md §15.4.3)

/** The accepted state compared with the relay's member list. Each list ascending. */
export interface Reconciliation {
  /** In both: the members the client gives its sender key to and takes sender keys from. */
  readonly confirmed: readonly string[];
  /** Listed by the relay, announced by no accepted state: no sender keys either way; the user is warned. */
  readonly unannounced: readonly string[];
  /** In the accepted state but gone at the relay (left, or removed before an admin announced it): no new keys; rotate. */
  readonly departed: readonly string[];
}

/**
 * Compares the accepted group state (undefined: none yet, so every relay member is
 * unannounced) with the members the relay lists for the chat (SECURITY.md §15.4.3).
 * Usernames compare as canonical strings; duplicates in `relayMembers` count once.
 */
export function reconcile(accepted: HasMembers | undefined, relayMembers: readonly string[]): Reconciliation {
  const signed = accepted?.members ?? [];
  const relay = new Set(relayMembers);
  return {
    confirmed: [...new Set(signed)].filter((m) => relay.has(m)).sort(),
    unannounced: minus(relayMembers, signed),
    departed: minus(signed, relayMembers),
  };
}

/**
 * True when someone in `prev` is not in `next`: a member left or was removed, so every
 * remaining member must rotate its sender key before sending again (SECURITY.md §7.6). Use it
 * between two accepted states, and between the users who hold the client's current sender key
 * and the confirmed members now (a relay-reported departure also calls for rotation). Adding
 * members never does.
 */
export function needsRotation(prev: HasMembers, next: HasMembers): boolean {
  const after = new Set(next.members);
  return prev.members.some((m) => !after.has(m));
}

// ---------------------------------------------------------------------------------------------
// Taking a sender key (SECURITY.md §15.4.4)

/** The outcome of senderKeyVerdict. */
export type SenderKeyVerdict =
  /** Store the distribution as `from`'s receiver state for the chat (keyed by its key id). */
  | { readonly verdict: "accept" }
  /** Sent at an epoch this client has not accepted yet: keep it (the latest per sender) and decide again after the next accepted state. */
  | { readonly verdict: "pending" }
  /** Refused: `wrong_chat`, or `from` is not a confirmed member (unannounced, departed, or a stranger). */
  | { readonly verdict: "rejected"; readonly reason: "wrong_chat" | "not_member" };

/**
 * Decides whether to take the sender key `message` that `from` (the authenticated peer of the
 * pairwise session it arrived on) sent for chat `chat` (SECURITY.md §15.4.4): only from a
 * confirmed member, and only once the client has accepted a state at least as new as the one
 * the sender had. Throws UsageError for an invalid message (decode it first) or an accepted
 * state of another chat.
 */
export function senderKeyVerdict(
  accepted: GroupStateMessage | undefined,
  relayMembers: readonly string[],
  chat: number,
  from: string,
  message: SenderKeyMessage,
): SenderKeyVerdict {
  checked(senderKeyMessageSchema, message, "sender_key");
  if (accepted !== undefined && checkedGroupState(accepted, "accepted").chat !== chat) {
    throw new UsageError("the accepted group state belongs to another chat");
  }
  if (message.chat !== chat) return { verdict: "rejected", reason: "wrong_chat" };
  if (accepted === undefined || message.epoch > accepted.epoch) return { verdict: "pending" };
  if (!reconcile(accepted, relayMembers).confirmed.includes(from)) return { verdict: "rejected", reason: "not_member" };
  return { verdict: "accept" };
}
