/**
 * Pinned contact identities (docs/ARCHITECTURE.md §3.5; SECURITY.md §1: the relay can
 * substitute bundles, so a client pins each contact's identity on first use and refuses to
 * send after a change until the user verifies or accepts it). Row key of the sealed
 * `display_name` column: [username].
 */
import { bytesEqual } from "../../crypto/bytes.js";
import { UsageError } from "../../src/errors.js";
import { type StoreContext } from "./context.js";
import { blob, blobOrNull } from "./sqlite.js";
import type { ContactRecord, PinResult } from "./types.js";

const IDENTITY_BYTES = 128;

interface Row {
  username: string;
  identity: Uint8Array;
  first_seen: number;
  verified: number;
  pending_identity: Uint8Array | null;
  key_changed_at: number | null;
  display_name: Uint8Array | null;
}

function checkIdentity(identity: Uint8Array): void {
  if (identity.length !== IDENTITY_BYTES)
    throw new UsageError(`an identity is ${IDENTITY_BYTES} bytes (IdentityPublic)`);
}

/** Contacts and their pinned identities (store.contacts). */
export class ContactsTable {
  constructor(private readonly ctx: StoreContext) {}

  private record(r: Row): ContactRecord {
    const pending = blobOrNull(r.pending_identity);
    const dn = blobOrNull(r.display_name);
    return {
      username: r.username,
      identity: blob(r.identity).slice(),
      firstSeen: r.first_seen,
      verified: r.verified === 1,
      keyChanged: pending !== null,
      pendingIdentity: pending && pending.slice(),
      keyChangedAt: r.key_changed_at,
      displayName: dn === null ? null : this.ctx.sealer.openText("contacts", "display_name", [r.username], dn),
    };
  }

  /** The contact, or undefined. */
  get(username: string): ContactRecord | undefined {
    // Kept for the transaction (StoreContext.cached): a sync page reads each sender's for every frame.
    return this.ctx.cached("contacts", username, () => {
      const r = this.ctx.stmt("SELECT * FROM contacts WHERE username = ?").get(username) as Row | undefined;
      return r && this.record(r);
    });
  }

  /** Every contact, by username. */
  list(): ContactRecord[] {
    return (this.ctx.stmt("SELECT * FROM contacts ORDER BY username").all() as Row[]).map((r) => this.record(r));
  }

  /**
   * Trust on first use. An unknown contact is pinned with `identity` ("pinned"). A known one
   * whose pinned identity equals `identity`, with no change pending, gives "same". Any other
   * identity is recorded as pending and gives "changed"; so does a contact whose change is
   * still pending, whatever `identity` is now. Verification state is kept: it concerns the
   * pinned key, which does not change until accepted.
   */
  pin(username: string, identity: Uint8Array): PinResult {
    checkIdentity(identity);
    return this.ctx.tx(() => {
      const c = this.get(username);
      if (!c) {
        this.ctx
          .stmt("INSERT INTO contacts (username, identity, first_seen) VALUES (?, ?, ?)")
          .run(username, identity, this.ctx.now());
        return "pinned";
      }
      if (bytesEqual(c.identity, identity)) return c.keyChanged ? "changed" : "same";
      this.markChanged(username, identity);
      return "changed";
    });
  }

  /**
   * Records that the relay now presents `newIdentity` for a known contact: it becomes the
   * pending identity (replacing an earlier pending one). Throws UsageError for an unknown
   * contact or when `newIdentity` is the pinned one.
   */
  markChanged(username: string, newIdentity: Uint8Array): void {
    checkIdentity(newIdentity);
    this.ctx.tx(() => {
      const c = this.get(username);
      if (!c) throw new UsageError(`unknown contact ${username}`);
      if (bytesEqual(c.identity, newIdentity)) throw new UsageError("the new identity is the pinned one");
      if (c.pendingIdentity && bytesEqual(c.pendingIdentity, newIdentity)) return;
      this.ctx
        .stmt("UPDATE contacts SET pending_identity = ?, key_changed_at = ? WHERE username = ?")
        .run(newIdentity, this.ctx.now(), username);
    });
  }

  /**
   * The user accepts the pending identity without comparing safety numbers: it becomes the
   * pinned one, unverified. Sessions made with the old key are the caller's to delete (in the
   * same transaction). Throws UsageError when no change is pending.
   */
  acceptChange(username: string): void {
    const res = this.ctx
      .stmt(
        `UPDATE contacts SET identity = pending_identity, pending_identity = NULL, verified = 0
         WHERE username = ? AND pending_identity IS NOT NULL`,
      )
      .run(username);
    if (res.changes === 0) throw new UsageError(`no pending key change for ${username}`);
    this.dropDeviceList(username);
  }

  /** A new account key discards the device-list state verified under the old one (SECURITY.md §17.4). */
  private dropDeviceList(username: string): void {
    this.ctx.stmt("DELETE FROM device_lists WHERE username = ?").run(username);
  }

  /**
   * The user compared safety numbers computed from `identity` and they matched. If `identity`
   * is the pinned key it becomes verified; if it is the pending key it is pinned, verified, and
   * the change is resolved. Any other identity throws UsageError (the user checked a key we do
   * not have), as does an unknown contact.
   */
  verify(username: string, identity: Uint8Array): void {
    this.ctx.tx(() => {
      const c = this.get(username);
      if (!c) throw new UsageError(`unknown contact ${username}`);
      if (bytesEqual(c.identity, identity)) {
        this.ctx.stmt("UPDATE contacts SET verified = 1 WHERE username = ?").run(username);
      } else if (c.pendingIdentity && bytesEqual(c.pendingIdentity, identity)) {
        this.ctx
          .stmt(
            "UPDATE contacts SET identity = pending_identity, pending_identity = NULL, verified = 1 WHERE username = ?",
          )
          .run(username);
        this.dropDeviceList(username);
      } else {
        throw new UsageError(`that is not ${username}'s pinned or pending identity`);
      }
    });
  }

  /** Clears the verified mark. Returns whether the contact exists. */
  unverify(username: string): boolean {
    return this.ctx.stmt("UPDATE contacts SET verified = 0 WHERE username = ?").run(username).changes > 0;
  }

  /** Sets or clears a contact's display name (sealed). Returns whether the contact exists. */
  setDisplayName(username: string, name: string | null): boolean {
    const sealed = name === null ? null : this.ctx.sealer.sealText("contacts", "display_name", [username], name);
    return this.ctx.stmt("UPDATE contacts SET display_name = ? WHERE username = ?").run(sealed, username).changes > 0;
  }
}
