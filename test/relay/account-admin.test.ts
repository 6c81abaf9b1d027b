/**
 * The operator's account administration as run from the command line (issue 12; issue 9 item
 * 12): `relay accounts` with last seen and prekeys left, `enable`, `promote`, `delete` (with
 * its confirmation), and the audit line every change writes, without secrets, whether the
 * relay ran or not.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, test } from "vitest";
import { RelayClient, loginSignature } from "../../client/relay-client.js";
import { encodeIdentityPublic, generateIdentity } from "../../crypto/identity.js";
import { generateOneTimePrekeys, generateSignedPrekey } from "../../crypto/prekeys.js";
import { parseInviteLink } from "../../src/invite-link.js";
import { systemRng } from "../../src/system-rng.js";
import type { RelayMessageOf } from "../../src/wire/index.js";
import { CLI, freePort, startRelayProcess } from "../../bench/relay-process.js";

const run = promisify(execFile);
const smsg = (...args: string[]) =>
  run(process.execPath, [CLI, ...args], { env: { ...process.env, SMSG_LOG_LEVEL: "silent" } });
const fails = (...args: string[]) =>
  smsg(...args).then(
    (r) => ({ code: 0, stderr: r.stderr }),
    (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
  );

async function joinWith(port: number, link: string, username: string, opks = 0) {
  const { relayKey, code } = parseInviteLink(link);
  const identity = generateIdentity(systemRng);
  const spk = generateSignedPrekey(systemRng, identity, 1);
  const credential = systemRng(32);
  const c = await RelayClient.connect({ host: "127.0.0.1", port, relayKey, rng: systemRng });
  await c.request<"join">({
    t: "join",
    invite: code,
    username,
    credential,
    identity: encodeIdentityPublic(identity.publicKey),
    signed_prekey: { key_id: 1, public_key: spk.keyPair.publicKey, signature: spk.signature },
    one_time_prekeys: generateOneTimePrekeys(systemRng, 1, opks).map((k) => ({
      key_id: k.id,
      public_key: k.keyPair.publicKey,
    })),
    signature: loginSignature(identity, c.handshakeHash),
  });
  return { c, relayKey, credential, identity, username };
}

interface Account {
  username: string;
  is_admin: boolean;
  disabled: boolean;
  deleted: boolean;
  last_seen: string | null;
  online: boolean | null;
  signed_prekey: boolean;
  one_time_prekeys: number;
}

async function accounts(data: string): Promise<Map<string, Account>> {
  const out = (await smsg("relay", "accounts", "--data", data, "--json")).stdout.trim().split("\n");
  return new Map(out.map((l) => JSON.parse(l) as Account).map((a) => [a.username, a]));
}

function auditLines(data: string): Record<string, unknown>[] {
  return readFileSync(join(data, "audit.log"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe("relay account administration", () => {
  test("accounts, promote, delete with confirmation, enable; each change audited without secrets", async () => {
    const data = mkdtempSync(join(tmpdir(), "smsg-relay-admin-"));
    const port = await freePort();
    const relay = await startRelayProcess(data, port);
    try {
      const root = await joinWith(port, /smsg:\/\/\S+/.exec(relay.stdout.join("\n"))![0], "root");
      const inv = JSON.parse((await smsg("relay", "invite", "--data", data, "--uses", "3", "--json")).stdout) as {
        link: string;
      };
      const bob = await joinWith(port, inv.link, "bob", 7);
      const carol = await joinWith(port, inv.link, "carol", 3);

      let list = await accounts(data);
      expect(list.get("bob")).toMatchObject({
        online: true,
        signed_prekey: true,
        one_time_prekeys: 7,
        is_admin: false,
      });
      expect(list.get("carol")?.last_seen).not.toBeNull();
      expect(list.get("root")).toMatchObject({ is_admin: true, one_time_prekeys: 0 });
      const human = (await smsg("relay", "accounts", "--data", data)).stdout;
      expect(human).toMatch(/^root\s+admin\s+active\s+online now\s+0 one-time \(signed prekey only\)$/m);
      expect(human).toMatch(/^bob\s+member\s+active\s+online now\s+7 one-time$/m);

      await smsg("relay", "promote", "bob", "--data", data);
      expect((await accounts(data)).get("bob")?.is_admin).toBe(true);
      expect(await fails("relay", "promote", "nobody1", "--data", data)).toMatchObject({
        code: 13,
        stderr: "smsg: no user named nobody1\n",
      });

      // Carol is in a group with bob and root, and has messages from bob waiting in their direct chat.
      const team = (await root.c.request<"create_group">({ t: "create_group", members: ["bob", "carol"] })).chat.id;
      const direct = (await bob.c.request<"open_direct">({ t: "open_direct", username: "carol" })).chat.id;
      carol.c.close();
      await new Promise((r) => carol.c.once("close", r));
      for (let i = 0; i < 3; i++)
        await bob.c.request<"send">({ t: "send", chat: direct, idem: systemRng(16), envelope: new Uint8Array([i]) });

      // No terminal and no --yes: refused, nothing changed.
      const refused = await fails("relay", "delete", "carol", "--data", data);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain("relay delete carol needs a confirmation: run it on a terminal, or pass --yes");
      expect((await accounts(data)).get("carol")?.deleted).toBe(false);

      const left = new Promise<RelayMessageOf<"chat_event">>((resolve) =>
        bob.c.on("chat_event", (e) => e.event === "left" && resolve(e)),
      );
      const deleted = JSON.parse(
        (await smsg("relay", "delete", "carol", "--yes", "--data", data, "--json")).stdout,
      ) as {
        type: string;
        messages_removed: number;
        prekeys_removed: number;
        groups_left: number;
        direct_chats_closed: number;
      };
      expect(deleted).toMatchObject({
        type: "account_deleted",
        messages_removed: 3,
        prekeys_removed: 4,
        groups_left: 1,
        direct_chats_closed: 1,
      });
      expect(await left).toMatchObject({ chat: team, user: "carol" });
      list = await accounts(data);
      expect(list.get("carol")).toMatchObject({
        deleted: true,
        disabled: true,
        signed_prekey: false,
        one_time_prekeys: 0,
      });
      const members = await root.c.request<"list_members">({ t: "list_members", chat: team });
      expect(members.members.map((m) => m.username).sort()).toEqual(["bob", "root"]);
      // The direct chat is closed; carol can no longer log in, nor can anyone take her name.
      await expect(
        bob.c.request<"send">({ t: "send", chat: direct, idem: systemRng(16), envelope: new Uint8Array([9]) }),
      ).rejects.toMatchObject({ code: "CHAT_CLOSED" });
      const again = await RelayClient.connect({ host: "127.0.0.1", port, relayKey: carol.relayKey, rng: systemRng });
      await expect(again.login("carol", carol.credential, carol.identity)).rejects.toMatchObject({
        code: "AUTH_FAILED",
      });
      again.close();
      const inv2 = JSON.parse((await smsg("relay", "invite", "--data", data, "--json")).stdout) as { link: string };
      await expect(joinWith(port, inv2.link, "carol")).rejects.toMatchObject({ code: "USERNAME_TAKEN" });
      expect((await fails("relay", "enable", "carol", "--data", data)).stderr).toContain(
        "carol was deleted: it cannot be enabled again",
      );
      expect((await fails("relay", "delete", "carol", "--yes", "--data", data)).stderr).toContain("already deleted");
      root.c.close();
      bob.c.close();

      await smsg("relay", "disable", "bob", "--data", data);
      await smsg("relay", "enable", "bob", "--data", data);
      expect((await accounts(data)).get("bob")?.disabled).toBe(false);
      expect(statSync(join(data, "audit.log")).mode & 0o777).toBe(0o600);
      const text = readFileSync(join(data, "audit.log"), "utf8");
      // The invite links (their codes) never reach the audit log.
      for (const link of [inv.link, inv2.link]) expect(text).not.toContain(link.split("/").pop()!);
    } finally {
      relay.child.kill("SIGTERM");
      expect(await relay.exited).toBe(0);
    }
    // With the relay stopped, the change goes straight to the database, and is audited the same.
    await smsg("relay", "disable", "bob", "--data", data);
    const lines = auditLines(data);
    expect(lines.map((l) => [l["action"], l["username"] ?? null, l["via"]])).toEqual([
      ["invite_created", null, "admin.sock"],
      ["account_promoted", "bob", "admin.sock"],
      ["account_deleted", "carol", "admin.sock"],
      ["invite_created", null, "admin.sock"],
      ["account_disabled", "bob", "admin.sock"],
      ["account_enabled", "bob", "admin.sock"],
      ["account_disabled", "bob", "database"],
    ]);
    for (const l of lines) {
      expect(typeof l["ts"]).toBe("string");
      expect(typeof l["operator"]).toBe("string");
    }
    expect(lines[0]).toMatchObject({ uses: 3, admin: false });
  }, 120_000);
});
