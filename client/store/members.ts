/** Members of each chat as last seen (`chat_members`). No sealed column. */
import { type StoreContext, bit } from "./context.js";
import type { ChatRole, MemberInput, MemberRecord } from "./types.js";

interface Row {
  username: string;
  role: ChatRole;
  announced: number;
}

function record(r: Row): MemberRecord {
  return { username: r.username, role: r.role, announced: r.announced === 1 };
}

/** Chat members (store.members). */
export class MembersTable {
  constructor(private readonly ctx: StoreContext) {}

  /**
   * Replaces the member list of a chat with `members` (the relay's list), in one transaction:
   * members not listed are removed, listed ones inserted or updated. A member's `announced`
   * flag is kept when the input leaves it undefined (false for a new member).
   */
  set(chatId: number, members: readonly MemberInput[]): void {
    this.ctx.tx(() => {
      const keep = new Set(members.map((m) => m.username));
      for (const old of this.list(chatId)) {
        if (!keep.has(old.username)) this.remove(chatId, old.username);
      }
      for (const m of members) this.upsert(chatId, m);
    });
  }

  /** Inserts or updates one member (see `set` for `announced`). */
  upsert(chatId: number, m: MemberInput): void {
    this.ctx
      .stmt(
        `INSERT INTO chat_members (chat_id, username, role, announced) VALUES (?, ?, ?, ?)
         ON CONFLICT (chat_id, username) DO UPDATE SET role = excluded.role,
           announced = CASE WHEN ? IS NULL THEN chat_members.announced ELSE excluded.announced END`,
      )
      .run(chatId, m.username, m.role, bit(m.announced ?? false), m.announced === undefined ? null : 1);
  }

  /** Removes one member. Returns whether they were listed. */
  remove(chatId: number, username: string): boolean {
    return (
      this.ctx.stmt("DELETE FROM chat_members WHERE chat_id = ? AND username = ?").run(chatId, username).changes > 0
    );
  }

  /** The members of a chat, by username. */
  list(chatId: number): MemberRecord[] {
    const rows = this.ctx
      .stmt("SELECT username, role, announced FROM chat_members WHERE chat_id = ? ORDER BY username")
      .all(chatId);
    return (rows as Row[]).map(record);
  }

  /** One member, or undefined. */
  get(chatId: number, username: string): MemberRecord | undefined {
    const r = this.ctx
      .stmt("SELECT username, role, announced FROM chat_members WHERE chat_id = ? AND username = ?")
      .get(chatId, username) as Row | undefined;
    return r && record(r);
  }

  /** Records whether an admin's signed announcement of this member was seen. Returns whether they are listed. */
  setAnnounced(chatId: number, username: string, announced: boolean): boolean {
    const res = this.ctx
      .stmt("UPDATE chat_members SET announced = ? WHERE chat_id = ? AND username = ?")
      .run(bit(announced), chatId, username);
    return res.changes > 0;
  }
}
