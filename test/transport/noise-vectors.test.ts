/**
 * The published cacophony Noise vectors (test/vectors/third-party/noise/, README.md there), run
 * unchanged: each vector drives an initiator and a responder HandshakeState talking to each
 * other, and every handshake ciphertext, both handshake hashes and every transport message
 * (alternating direction, initiator first, nonces from 0, empty AD) must match byte for byte.
 */
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, test } from "vitest";
import { fromHex, toHex } from "../../crypto/bytes.js";
import { x25519Base } from "../../crypto/primitives.js";
import { replayRng } from "../../crypto/rng.js";
import { HandshakeState, parseProtocolName, type CipherState } from "../../src/transport/index.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const vectorDir = path.resolve(repoRoot, "test/vectors/third-party/noise");

interface CacophonyVector {
  protocol_name: string;
  init_prologue: string;
  init_psks?: string[];
  init_static?: string;
  init_ephemeral: string;
  init_remote_static?: string;
  resp_prologue: string;
  resp_psks?: string[];
  resp_static?: string;
  resp_ephemeral: string;
  resp_remote_static?: string;
  handshake_hash: string;
  messages: { payload: string; ciphertext: string }[];
}

const files = readdirSync(vectorDir)
  .filter((f) => f.endsWith(".json"))
  .sort();
const loaded = files.map((file) => {
  const raw = readFileSync(path.join(vectorDir, file), "utf8");
  const vectors = (JSON.parse(raw) as { vectors: CacophonyVector[] }).vectors;
  // Count the vectors independently of the parsed array: every vector has exactly one protocol_name.
  const declared = (raw.match(/"protocol_name"\s*:/g) ?? []).length;
  return { file, vectors, declared };
});

const tally = { vectors: 0, handshake: 0, transport: 0, patterns: new Map<string, Set<string>>() };

/** "NK/IK/XX × BLAKE2b/SHA256" when every pattern ran with the same hashes, else each pattern with its hashes. */
function describeRun(patterns: string[]): string {
  const hashes = patterns.map((p) => [...tally.patterns.get(p)!].sort().join("/"));
  return hashes.every((h) => h === hashes[0])
    ? `${patterns.join("/")} × ${hashes[0]}`
    : patterns.map((p, i) => `${p}:${hashes[i]}`).join(", ");
}

afterAll(() => {
  const all = [...tally.patterns.keys()];
  const groups = [all.filter((p) => !p.includes("psk")), all.filter((p) => p.includes("psk"))].filter(
    (g) => g.length > 0,
  );
  console.log(
    `noise: ${tally.vectors} vectors (${groups.map(describeRun).join("; ")}), ` +
      `${tally.handshake + tally.transport} messages checked (${tally.handshake} handshake, ${tally.transport} transport)`,
  );
});

const hex = (h: string | undefined) => (h === undefined ? undefined : fromHex(h));

function runVector(v: CacophonyVector): void {
  const protocol = parseProtocolName(v.protocol_name);
  const initRng = replayRng([fromHex(v.init_ephemeral)]);
  const respRng = replayRng([fromHex(v.resp_ephemeral)]);
  const initiator = new HandshakeState({
    protocolName: v.protocol_name,
    initiator: true,
    prologue: fromHex(v.init_prologue),
    staticPrivateKey: hex(v.init_static),
    remoteStaticPublicKey: hex(v.init_remote_static),
    psks: v.init_psks?.map(fromHex),
    rng: initRng,
  });
  const responder = new HandshakeState({
    protocolName: v.protocol_name,
    initiator: false,
    prologue: fromHex(v.resp_prologue),
    staticPrivateKey: hex(v.resp_static),
    remoteStaticPublicKey: hex(v.resp_remote_static),
    psks: v.resp_psks?.map(fromHex),
    rng: respRng,
  });

  const handshakeCount = protocol.pattern.messages.length;
  expect(v.messages.length).toBeGreaterThan(handshakeCount);
  for (let i = 0; i < handshakeCount; i++) {
    const m = v.messages[i]!;
    const [writer, reader] = i % 2 === 0 ? [initiator, responder] : [responder, initiator];
    expect(writer.action).toBe("write");
    expect(reader.action).toBe("read");
    const wire = writer.writeMessage(fromHex(m.payload));
    expect(toHex(wire), `${v.protocol_name} handshake message ${i}`).toBe(m.ciphertext);
    expect(toHex(reader.readMessage(wire))).toBe(m.payload);
    tally.handshake++;
  }
  expect(initRng.remaining()).toBe(0);
  expect(respRng.remaining()).toBe(0);
  expect(toHex(initiator.handshakeHash)).toBe(v.handshake_hash);
  expect(toHex(responder.handshakeHash)).toBe(v.handshake_hash);
  expect(initiator.handshakeHash.length).toBe(protocol.hash.hashLen);

  // Both sides now know each other's static key, where the pattern has one.
  if (v.init_static !== undefined)
    expect(toHex(responder.remoteStatic!)).toBe(toHex(x25519Base(fromHex(v.init_static))));
  if (v.resp_static !== undefined)
    expect(toHex(initiator.remoteStatic!)).toBe(toHex(x25519Base(fromHex(v.resp_static))));

  const i = initiator.split();
  const r = responder.split();
  for (let n = handshakeCount; n < v.messages.length; n++) {
    const m = v.messages[n]!;
    const [send, recv]: [CipherState, CipherState] = n % 2 === 0 ? [i.send, r.recv] : [r.send, i.recv];
    const ct = send.encryptWithAd(new Uint8Array(0), fromHex(m.payload));
    expect(toHex(ct), `${v.protocol_name} transport message ${n}`).toBe(m.ciphertext);
    expect(toHex(recv.decryptWithAd(new Uint8Array(0), ct))).toBe(m.payload);
    tally.transport++;
  }
  tally.vectors++;
  const hashes = tally.patterns.get(protocol.pattern.name) ?? new Set<string>();
  tally.patterns.set(protocol.pattern.name, hashes.add(protocol.hash.name));
}

describe("cacophony Noise vectors", () => {
  test("the vector folder holds the two documented files", () => {
    expect(files).toEqual(["cacophony_25519_ChaChaPoly_NK_IK_XX.json", "cacophony_25519_ChaChaPoly_NK_IK_XX_psk.json"]);
    expect(loaded.map((f) => f.vectors.length)).toEqual([6, 10]);
  });

  for (const { file, vectors, declared } of loaded) {
    describe(file, () => {
      test("every vector in the file is run", () => {
        expect(vectors.length).toBe(declared);
      });
      test.each(vectors.map((v) => [v.protocol_name, v] as const))("%s", (_name, v) => {
        runVector(v);
      });
    });
  }
});
