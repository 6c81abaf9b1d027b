/**
 * Chats, by the relay's chat id. A chat's name is sealed (row key [id]); `name_tag` is a keyed
 * hash of its folded form (NFC, lower case) so `resolve` finds a chat by name without names in
 * clear (sealed.ts). Names are set by members end to end, so two chats may share one.
 */
import { UsageError } from "../../src/errors.js";
import { tryNormalizeUsername } from "../../src/wire/username.js";
import { type StoreContext, bit } from "./context.js";
import { AmbiguousChatError, ChatNotFoundError } from "./errors.js";
import { blobOrNull } from "./sqlite.js";
import type { ChatInput, ChatListItem, ChatRecord, Departure } from "./types.js";

interface Row {
  id: number;
  kind: "direct" | "group";
  peer: string | null;
  name: Uint8Array | null;
  closed: number;
  my_role: "admin" | "member";
  created_at: number;
  last_read_msg: number;
  departure: Departure | null;
  departed_by: string | null;
  member_since: number;
  seq_from_one: number;
}

interface ListRow extends Row {
  unread: number;
  last_message_id: number | null;
}

/** The form of a name that lookups compare: Unicode NFC, lower case, trimmed. */
export function foldChatName(name: string): string {
  return name.normalize("NFC").trim().toLowerCase();
}

function checkChatId(id: number): void {
  if (!Number.isSafeInteger(id) || id < 0) throw new UsageError("a chat id is a non-negative integer");
}

/** Chats (store.chats). */
export class ChatsTable {
  constructor(private readonly ctx: StoreContext) {}

  private record(r: Row): ChatRecord {
    const name = blobOrNull(r.name);
    return {
      id: r.id,
      kind: r.kind,
      peer: r.peer,
      name: name === null ? null : this.ctx.sealer.openText("chats", "name", [r.id], name),
      closed: r.closed === 1,
      myRole: r.my_role,
      createdAt: r.created_at,
      lastReadMsg: r.last_read_msg,
      departure: r.departure,
      departedBy: r.departed_by,
      memberSince: r.member_since,
      seqFromOne: r.seq_from_one === 1,
    };
  }

  /** The sealed name and its tag, or nulls. Throws UsageError for an empty name. */
  private sealName(id: number, name: string | null): [Uint8Array | null, Uint8Array | null] {
    if (name === null) return [null, null];
    if (foldChatName(name) === "") throw new UsageError("a chat name cannot be empty");
    return [this.ctx.sealer.sealText("chats", "name", [id], name), this.ctx.sealer.nameTag(foldChatName(name))];
  }

  /**
   * Inserts a chat or updates what the relay says about it (kind, peer, closed, role). `name`
   * undefined keeps the stored name (none for a new chat), null removes it; `closed` undefined
   * keeps the stored flag (open for a new chat). A direct chat needs `peer`; a group has none.
   */
  upsert(c: ChatInput): ChatRecord {
    checkChatId(c.id);
    const peer = c.peer ?? null;
    if ((c.kind === "direct") !== (peer !== null)) throw new UsageError("a direct chat has a peer, a group has none");
    return this.ctx.tx(() => {
      const old = this.ctx.stmt("SELECT closed FROM chats WHERE id = ?").get(c.id) as { closed: number } | undefined;
      if (!old) {
        const [name, tag] = this.sealName(c.id, c.name ?? null);
        this.ctx
          .stmt(
            `INSERT INTO chats (id, kind, peer, name, name_tag, closed, my_role, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(c.id, c.kind, peer, name, tag, bit(c.closed ?? false), c.myRole, c.createdAt ?? this.ctx.now());
      } else {
        this.ctx
          .stmt("UPDATE chats SET kind = ?, peer = ?, closed = ?, my_role = ? WHERE id = ?")
          .run(c.kind, peer, c.closed === undefined ? old.closed : bit(c.closed), c.myRole, c.id);
        if (c.name !== undefined) this.setName(c.id, c.name);
      }
      return this.get(c.id)!;
    });
  }

  /** The chat with this id, or undefined. */
  get(id: number): ChatRecord | undefined {
    // Kept for the transaction (StoreContext.cached): a sync page reads its chat for every frame.
    return this.ctx.cached("chats", String(id), () => {
      const r = this.ctx.stmt("SELECT * FROM chats WHERE id = ?").get(id) as Row | undefined;
      return r && this.record(r);
    });
  }

  /** Every chat whose name folds (foldChatName) to the same as `name`, by id. */
  findByName(name: string): ChatRecord[] {
    const folded = foldChatName(name);
    if (folded === "") return [];
    const rows = this.ctx
      .stmt("SELECT * FROM chats WHERE name_tag = ? ORDER BY id")
      .all(this.ctx.sealer.nameTag(folded)) as Row[];
    return rows.map((r) => this.record(r));
  }

  /**
   * The direct chat with `username` (canonical), or undefined. Should the relay ever have given
   * several, the open one with the highest id wins.
   */
  directWith(username: string): ChatRecord | undefined {
    const r = this.ctx
      .stmt("SELECT * FROM chats WHERE kind = 'direct' AND peer = ? ORDER BY closed ASC, id DESC LIMIT 1")
      .get(username) as Row | undefined;
    return r && this.record(r);
  }

  /**
   * Every chat by id, without the counts of list(): for the account-state snapshot
   * (client/engine/account-state-snapshot.ts), which a device builds after every online command
   * to see whether its passphrase backup is current (SECURITY.md §18.6 "Update"), so it must not
   * cost a scan of the messages.
   */
  all(): ChatRecord[] {
    return (this.ctx.stmt("SELECT * FROM chats ORDER BY id").all() as Row[]).map((r) => this.record(r));
  }

  /**
   * Every chat with its unread count (incoming messages above lastReadMsg), the chat with the
   * newest message first, chats without messages last by id. `includeClosed` defaults to true.
   */
  list(opts: { includeClosed?: boolean } = {}): ChatListItem[] {
    const rows = this.ctx
      .stmt(
        `SELECT c.*,
           (SELECT count(*) FROM messages m
             WHERE m.chat_id = c.id AND m.direction = 'in' AND m.relay_msg_id > c.last_read_msg) AS unread,
           (SELECT max(m.id) FROM messages m WHERE m.chat_id = c.id) AS last_message_id
         FROM chats c
         WHERE ? OR c.closed = 0
         ORDER BY last_message_id DESC NULLS LAST, c.id`,
      )
      .all(bit(opts.includeClosed ?? true)) as ListRow[];
    return rows.map((r) => ({ ...this.record(r), unread: r.unread, lastMessageId: r.last_message_id }));
  }

  /**
   * The chat a CHAT argument names: a chat id (digits), else a chat name (compared folded), or
   * the other member of a direct chat (a username, any ASCII case). An id that exists wins
   * outright; otherwise a name and a username that point at different chats are ambiguous.
   * Throws ChatNotFoundError or AmbiguousChatError (which lists the ids to choose from).
   */
  resolve(arg: string): ChatRecord {
    const a = arg.trim();
    if (/^[0-9]+$/.test(a)) {
      const id = Number(a);
      if (Number.isSafeInteger(id)) {
        const c = this.get(id);
        if (c) return c;
      }
    }
    const found = new Map<number, ChatRecord>();
    for (const c of this.findByName(a)) found.set(c.id, c);
    const user = tryNormalizeUsername(a);
    const direct = user === undefined ? undefined : this.directWith(user);
    if (direct) found.set(direct.id, direct);
    const all = [...found.values()];
    if (all.length === 0) throw new ChatNotFoundError(a);
    if (all.length > 1)
      throw new AmbiguousChatError(
        a,
        all.map((c) => c.id).sort((x, y) => x - y),
      );
    return all[0]!;
  }

  /** Sets or removes a chat's name (sealed). Throws UsageError for an unknown chat or an empty name. */
  setName(id: number, name: string | null): void {
    const [sealed, tag] = this.sealName(id, name);
    const res = this.ctx.stmt("UPDATE chats SET name = ?, name_tag = ? WHERE id = ?").run(sealed, tag, id);
    if (res.changes === 0) throw new UsageError(`unknown chat ${id}`);
  }

  /** Marks a chat closed or open. Returns whether it exists. */
  setClosed(id: number, closed: boolean): boolean {
    return this.ctx.stmt("UPDATE chats SET closed = ? WHERE id = ?").run(bit(closed), id).changes > 0;
  }

  /**
   * Records that we are no longer a member of a group (`how`, and who removed us when known), or
   * with null that we are one again. Returns whether it exists.
   */
  setDeparture(id: number, how: Departure | null, by: string | null = null): boolean {
    return (
      this.ctx
        .stmt("UPDATE chats SET departure = ?, departed_by = ? WHERE id = ?")
        .run(how, how === null ? null : by, id).changes > 0
    );
  }

  /**
   * Our membership of a group starts (again) after local message id `afterId`; `fromOne`: it
   * started with the group's first state (numbers count from 1). Returns whether it exists.
   */
  setMemberSince(id: number, afterId: number, fromOne = false): boolean {
    return (
      this.ctx.stmt("UPDATE chats SET member_since = ?, seq_from_one = ? WHERE id = ?").run(afterId, bit(fromOne), id)
        .changes > 0
    );
  }

  /** Sets our role in a chat. Returns whether it exists. */
  setMyRole(id: number, role: "admin" | "member"): boolean {
    return this.ctx.stmt("UPDATE chats SET my_role = ? WHERE id = ?").run(role, id).changes > 0;
  }

  /** Marks messages up to relay id `upto` read; never moves backwards. Returns whether the chat exists. */
  markRead(id: number, upto: number): boolean {
    return (
      this.ctx.stmt("UPDATE chats SET last_read_msg = max(last_read_msg, ?) WHERE id = ?").run(upto, id).changes > 0
    );
  }

  /**
   * Deletes a chat and everything of it (members, messages, outbox, sender keys, cursor) in one
   * transaction (foreign keys cascade). Returns whether it existed.
   */
  delete(id: number): boolean {
    return this.ctx.stmt("DELETE FROM chats WHERE id = ?").run(id).changes > 0;
  }
}
