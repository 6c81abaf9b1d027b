/**
 * Every place the protocol checks an Ed25519 signature uses the same strict verification
 * (SECURITY.md §2): each case of test/vectors/signatures.json, run through that place's own
 * code — the identity check (§4.1, also on a PREKEY envelope's sender), the bundle check
 * (§4.2), sender-key receiving (§7.5), group-state acceptance (§15.4.2) and the relay's login
 * check (§10.4) — gets the case's result.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";
import { acceptGroupState } from "../../client/protocol/group-state.js";
import { concat, fromHex } from "../../crypto/bytes.js";
import { CryptoVerificationError } from "../../crypto/errors.js";
import { verifyIdentityPublic } from "../../crypto/identity.js";
import { signedPrekeyValid } from "../../crypto/prekeys.js";
import { senderDecrypt } from "../../crypto/sender-keys.js";
import { parseEnvelope } from "../../crypto/session.js";
import { SIGNATURE_KINDS } from "../../crypto/vectors/signature-vectors.js";
import { loginSignatureValid } from "../../relay/handlers/auth.js";

const file = JSON.parse(
  readFileSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../vectors/signatures.json"), "utf8"),
) as {
  places: Record<string, unknown>[];
  cases: {
    id: string;
    place: string;
    kind: string;
    public_key: string;
    signature: string;
    message?: string;
    plaintext?: string;
    result: string;
  }[];
};
const place = (name: string) => file.places.find((p) => p["place"] === name)! as Record<string, unknown>;
const names = (v: unknown) => (v as { name: string }[]).map((x) => x.name);

/** Whether the place's own code accepts the signature. */
const ACCEPTS: Record<string, (pk: Uint8Array, sig: Uint8Array, c: (typeof file.cases)[number]) => boolean> = {
  identity: (pk, sig) => {
    const dhKey = fromHex(place("identity")["dh_key"] as string);
    try {
      verifyIdentityPublic({ signingKey: pk, dhKey, dhKeySignature: sig });
      return true;
    } catch (e) {
      expect(e).toBeInstanceOf(CryptoVerificationError);
      return false;
    }
  },
  signed_prekey: (pk, sig) => {
    const p = place("signed_prekey");
    return signedPrekeyValid(pk, {
      id: p["prekey_id"] as number,
      publicKey: fromHex(p["prekey_public"] as string),
      signature: sig,
    });
  },
  sender_key_message: (pk, _sig, c) => {
    const p = place("sender_key_message");
    const receiver = {
      kind: "receiver" as const,
      keyId: p["key_id"] as number,
      iteration: 0,
      chainKey: fromHex(p["chain_key"] as string),
      signingPublic: pk,
      skipped: new Map<number, Uint8Array>(),
    };
    const context = { groupId: fromHex(p["group_id"] as string), senderId: p["sender_id"] as string };
    try {
      const out = senderDecrypt(receiver, context, fromHex(c.message!));
      expect(Buffer.from(out.plaintext).toString("hex")).toBe(c.plaintext);
      return true;
    } catch (e) {
      expect(e).toBeInstanceOf(CryptoVerificationError);
      return false;
    }
  },
  group_state: (pk, sig) => {
    const p = place("group_state");
    const state = {
      v: 1 as const,
      k: "group_state" as const,
      chat: p["chat"] as number,
      epoch: p["epoch"] as number,
      name: p["name"] as string,
      members: names(p["members"]),
      admins: names(p["admins"]),
      by: p["by"] as string,
      ts: p["ts"] as number,
      signature: sig,
    };
    const verdict = acceptGroupState(undefined, state, {
      chat: state.chat,
      signingKeyOf: (u) => (u === state.by ? pk : undefined),
      bootstrapSigners: [state.by],
    });
    if (verdict.verdict === "accepted") return true;
    expect(verdict).toEqual({ verdict: "rejected", reason: "bad_signature" });
    return false;
  },
  relay_login: (pk, sig) => {
    const hash = fromHex(place("relay_login")["handshake_hash"] as string);
    // Only the signing key is used; the dh half of the identity plays no part in the login check.
    return loginSignatureValid(
      { signingKey: pk, dhKey: new Uint8Array(32), dhKeySignature: new Uint8Array(64) },
      hash,
      sig,
    );
  },
};

describe("every signature place refuses what strict verification refuses", () => {
  test("the file has every place × kind, with the kind's expected result", () => {
    expect(file.cases.map((c) => c.id)).toEqual(
      Object.keys(ACCEPTS).flatMap((p) => SIGNATURE_KINDS.map((k) => `${p}/${k.kind}`)),
    );
    for (const c of file.cases) expect(c.result, c.id).toBe(SIGNATURE_KINDS.find((k) => k.kind === c.kind)!.result);
  });

  test.each(file.cases.map((c) => [c.id, c] as const))("%s", (_id, c) => {
    const accepted = ACCEPTS[c.place]!(fromHex(c.public_key), fromHex(c.signature), c);
    expect(accepted).toBe(c.result === "valid");
  });

  test("a PREKEY envelope's carried identity goes through the same check (§6.5)", () => {
    const dhKey = fromHex(place("identity")["dh_key"] as string);
    const envelope = (c: (typeof file.cases)[number]) =>
      concat(
        new Uint8Array([2]),
        fromHex(c.public_key),
        dhKey,
        fromHex(c.signature),
        new Uint8Array(32).fill(9), // EK
        new Uint8Array([0, 0, 0, 1, 0]), // signed prekey id 1, has_opk 0
        new Uint8Array(41 + 16).fill(1), // a message of the minimum length
      );
    for (const c of file.cases.filter((x) => x.place === "identity")) {
      if (c.result === "valid") expect(parseEnvelope(envelope(c)).type, c.id).toBe("prekey");
      else expect(() => parseEnvelope(envelope(c)), c.id).toThrow(CryptoVerificationError);
    }
  });
});
