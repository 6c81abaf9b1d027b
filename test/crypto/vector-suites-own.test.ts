/**
 * The padding, safety-number, sender-key, envelope, account-backup, login-proof, compact-frame and
 * account-state vector suites: deterministic, self-consistent, and sensitive to every output field
 * (so `smsg vectors verify` would catch any changed byte).
 */
import { describe, expect, it } from "vitest";
import { CodecError } from "../../crypto/errors.js";
import { safetyNumber } from "../../crypto/safety-number.js";
import { fromHex } from "../../crypto/bytes.js";
import { deviceLinkVectors } from "../../crypto/vectors/device-link-vectors.js";
import { decodeCompactClientFrame, decodeCompactRelayFrame } from "../../src/wire/index.js";
import { envelopeVectors } from "../../crypto/vectors/envelope-vectors.js";
import { paddingVectors } from "../../crypto/vectors/padding-vectors.js";
import { safetyNumberVectors } from "../../crypto/vectors/safety-number-vectors.js";
import { senderKeyVectors } from "../../crypto/vectors/sender-key-vectors.js";
import { accountBackupVectors } from "../../crypto/vectors/account-backup-vectors.js";
import { loginProofVectors } from "../../crypto/vectors/login-proof-vectors.js";
import type { VectorSuite } from "../../crypto/vectors/suite.js";
import { compactFrameVectors } from "../../src/wire/compact-frame-vectors.js";
import { accountStateVectors } from "../../client/protocol/account-state-vectors.js";

type Path = (string | number)[];
type Leaf = string | number | boolean | null;

/**
 * Field names each suite reads as inputs; every other leaf is an output. device-list.json and
 * device-fanout.json are not here: their outputs reuse input names (a list's `issued_ms`, a
 * decoded header's fields) and device-list.json recomputes too slowly for one run per field;
 * vectors-one-byte.test.ts changes bytes of both files and device-list.test.ts covers the rule.
 */
const SUITES: { suite: VectorSuite; name: string; inputs: ReadonlySet<string> }[] = [
  { suite: paddingVectors, name: "padding", inputs: new Set(["plaintext", "length"]) },
  {
    suite: safetyNumberVectors,
    name: "safety-number",
    inputs: new Set(["a_id", "a_identity_key", "b_id", "b_identity_key"]),
  },
  {
    suite: senderKeyVectors,
    name: "sender-keys",
    inputs: new Set(["group_id", "sender_id", "key_id", "chain_key", "signing_seed", "plaintext"]),
  },
  {
    suite: envelopeVectors,
    name: "envelopes",
    inputs: new Set([
      "alice_identity_signing_seed",
      "alice_identity_dh_private",
      "bob_identity_signing_seed",
      "bob_identity_dh_private",
      "bob_signed_prekey_id",
      "bob_signed_prekey_private",
      "bob_one_time_prekey_id",
      "bob_one_time_prekey_private",
      "alice_ephemeral_private_1",
      "alice_ratchet_private_1",
      "alice_ephemeral_private_2",
      "alice_ratchet_private_2",
      "bob_ratchet_private",
      "plaintext",
    ]),
  },
  {
    suite: deviceLinkVectors,
    name: "device-link",
    inputs: new Set([
      "username",
      "account_signing_seed",
      "account_dh_private",
      "device_signing_seed",
      "device_dh_private",
      "device_name",
      "device_id",
      "issued_ms",
      "link_id",
      "link_secret",
      "existing_link_private",
      "new_link_private",
      "nonce_1",
      "nonce_2",
      "nonce_3",
      "nonce_4",
      "nonce_5",
      "state",
    ]),
  },
  {
    suite: accountBackupVectors,
    name: "account-backup",
    inputs: new Set([
      "passphrase",
      "username",
      "relay_key",
      "salt",
      "t",
      "memKiB",
      "account_signing_seed",
      "account_dh_private",
      "state",
      "nonce",
    ]),
  },
  {
    suite: loginProofVectors,
    name: "login-proof",
    inputs: new Set(["login_seed", "username", "handshake_hash", "decoy_secret"]),
  },
  // The wire protocol's compact frames (SECURITY.md §14.9): only the envelopes are inputs.
  { suite: compactFrameVectors, name: "compact-frames", inputs: new Set(["envelope"]) },
  // The account-state snapshot (SECURITY.md §17.6.1): only the identities' secrets are inputs.
  { suite: accountStateVectors, name: "account-state", inputs: new Set(["signing_seed", "dh_private"]) },
];

function leaves(v: unknown, path: Path = []): [Path, Leaf][] {
  if (Array.isArray(v)) return v.flatMap((x, i) => leaves(x, [...path, i]));
  if (typeof v === "object" && v !== null) return Object.entries(v).flatMap(([k, x]) => leaves(x, [...path, k]));
  return [[path, v as Leaf]];
}

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

function setAt(root: unknown, path: Path, value: unknown): unknown {
  const out = clone(root);
  let cur = out as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) cur = cur[k] as Record<string | number, unknown>;
  cur[path[path.length - 1]!] = value;
  return out;
}

function deleteAt(root: unknown, path: Path): unknown {
  const out = clone(root);
  let cur = out as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) cur = cur[k] as Record<string | number, unknown>;
  delete cur[path[path.length - 1]!];
  return out;
}

/** A different value of the same kind: one hex digit changed, a number + 1, and so on. */
function mutate(v: Leaf): Leaf {
  if (v === null) return "00";
  if (typeof v === "boolean") return !v;
  if (typeof v === "number") return v + 1;
  if (v === "") return "00";
  if (/^[0-9a-f]+$/.test(v)) return v.slice(0, -1) + (v.endsWith("0") ? "1" : "0");
  return v + "x";
}

const isHex = (v: Leaf): v is string =>
  typeof v === "string" && v.length > 0 && v.length % 2 === 0 && /^[0-9a-f]+$/.test(v);

describe.each(SUITES)("vector suite $name", ({ suite, inputs }) => {
  const generated = suite.generate();
  const all = leaves(generated);
  const isInput = (p: Path) => inputs.has(String(p[p.length - 1]));

  it("names its file and is deterministic", () => {
    expect(suite.file).toMatch(/^[a-z-]+\.json$/);
    expect(JSON.stringify(suite.generate(), null, 2)).toBe(JSON.stringify(generated, null, 2));
  });

  it("starts with suite, description and spec, and uses lowercase hex", () => {
    expect(Object.keys(generated as object).slice(0, 3)).toEqual(["suite", "description", "spec"]);
    for (const [, v] of all) if (typeof v === "string" && /^[0-9a-fA-F]{8,}$/.test(v)) expect(v).toBe(v.toLowerCase());
  });

  it("recompute(generate()) equals generate(), also through JSON", () => {
    expect(suite.recompute(generated)).toEqual(generated);
    const viaJson = suite.recompute(JSON.parse(JSON.stringify(generated, null, 2)));
    expect(JSON.stringify(viaJson, null, 2)).toBe(JSON.stringify(generated, null, 2));
  });

  it("changing any single output field makes recompute differ from the file", () => {
    const outputs = all.filter(([p]) => !isInput(p));
    expect(outputs.length).toBeGreaterThan(3);
    for (const [path, value] of outputs) {
      const changed = setAt(generated, path, mutate(value));
      const again = suite.recompute(changed);
      expect({ path, differs: JSON.stringify(again) !== JSON.stringify(changed) }).toEqual({ path, differs: true });
      expect(again).toEqual(generated);
    }
  });

  it("a missing input field is a CodecError naming it; a malformed hex input too", () => {
    const inputLeaves = all.filter(([p]) => isInput(p));
    expect(inputLeaves.length).toBeGreaterThan(0);
    for (const [path, value] of inputLeaves) {
      const key = String(path[path.length - 1]);
      expect(() => suite.recompute(deleteAt(generated, path)), path.join(".")).toThrow(CodecError);
      try {
        suite.recompute(deleteAt(generated, path));
      } catch (e) {
        expect((e as Error).message).toContain(key);
      }
      if (isHex(value)) {
        expect(() => suite.recompute(setAt(generated, path, value.slice(0, -1))), path.join(".")).toThrow(CodecError);
        expect(() => suite.recompute(setAt(generated, path, "zz" + value.slice(2))), path.join(".")).toThrow(
          CodecError,
        );
      }
    }
    expect(() => suite.recompute(null)).toThrow(CodecError);
    expect(() => suite.recompute([])).toThrow(CodecError);
  });
});

describe("vector contents", () => {
  it("compact-frames.json: every malformed payload is refused, every frame decodes to its fields", () => {
    type Frame = { frame: string; bytes: string } & Record<string, unknown>;
    const f = compactFrameVectors.generate() as { frames: Frame[]; malformed: { code: string | null }[] };
    expect(f.malformed.every((m) => m.code !== null)).toBe(true);
    for (const c of f.frames) {
      const payload = fromHex(c.bytes).subarray(4);
      const m = (c.frame === "send" || c.frame === "ack" ? decodeCompactClientFrame : decodeCompactRelayFrame)(payload);
      expect(m.t).toBe(c.frame);
      for (const k of ["id", "chat", "msg", "ts", "upto", "from", "to", "duplicate"])
        if (k in c) expect((m as Record<string, unknown>)[k]).toEqual(c[k]);
    }
  });

  it("padding.json covers the required edge lengths", () => {
    const f = paddingVectors.generate() as { cases: { length?: number; plaintext?: string }[] };
    const lengths = new Set(f.cases.map((c) => c.length ?? c.plaintext!.length / 2));
    for (const l of [0, 1, 30, 31, 32, 33, 100, 1000, 65536]) expect(lengths.has(l)).toBe(true);
  });

  it("safety-number.json agrees with safetyNumber()", () => {
    type Case = { a_id: string; a_identity_key: string; b_id: string; b_identity_key: string; safety_number: string };
    const f = safetyNumberVectors.generate() as { cases: Case[] };
    for (const c of f.cases) {
      const a = { id: c.a_id, identityKey: fromHex(c.a_identity_key) };
      const b = { id: c.b_id, identityKey: fromHex(c.b_identity_key) };
      expect(safetyNumber(a, b)).toBe(c.safety_number);
    }
  });

  it("sender-keys.json includes a rotation to a new key id", () => {
    const f = senderKeyVectors.generate() as { keys: { key_id: number; messages: unknown[] }[] };
    expect(f.keys).toHaveLength(2);
    expect(f.keys[0]!.key_id).not.toBe(f.keys[1]!.key_id);
    expect(f.keys.every((k) => k.messages.length >= 2)).toBe(true);
  });
});
