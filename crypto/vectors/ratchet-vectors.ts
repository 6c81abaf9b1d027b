/**
 * test/vectors/ratchet.json: one Double Ratchet conversation from a given X3DH result, with
 * every intermediate value (SECURITY.md §6). Messages go both ways, some out of order, and
 * the file ends with a replay and a reflection that must be rejected.
 */
import { toHex, utf8 } from "../bytes.js";
import { CodecError, SmsgError } from "../errors.js";
import { x25519Base } from "../primitives.js";
import {
  type DecryptTrace,
  type RatchetState,
  type RootStepTrace,
  ratchetDecrypt,
  ratchetEncrypt,
  ratchetInitInitiator,
  ratchetInitResponder,
} from "../ratchet.js";
import { type Rng, replayRng, seededRng } from "../rng.js";
import { Inputs, clamp } from "./inputs.js";
import type { VectorSuite } from "./suite.js";

type Side = "alice" | "bob";

const DESCRIPTION =
  "A Double Ratchet conversation. Inputs: the X3DH shared secret and associated data, Bob's signed prekey " +
  "(his first ratchet key), Alice's first ratchet key, and per event the plaintext or the index of the sent " +
  "message delivered, plus the new ratchet private key whenever a received message starts a DH ratchet step. " +
  "Outputs: every DH output, root, chain and message key, AEAD key, nonce, header, associated data and ciphertext.";

const root = (r: RootStepTrace) => ({
  dh_output: toHex(r.dhOutput),
  root_key: toHex(r.rootKey),
  chain_key: toHex(r.chainKey),
});

function receiveOutputs(t: DecryptTrace) {
  return {
    ...(t.dhRatchet
      ? {
          dh_ratchet: {
            receiving: root(t.dhRatchet.receive),
            new_ratchet_public: toHex(t.dhRatchet.newDhSelf.publicKey),
            sending: root(t.dhRatchet.send),
          },
        }
      : {}),
    stored_skipped_keys: t.storedSkipped.map((s) => ({ ratchet_public: toHex(s.dh), n: s.n })),
    used_skipped_key: t.usedSkippedKey,
    ...(t.keys.chainKey ? { chain_key: toHex(t.keys.chainKey) } : {}),
    message_key: toHex(t.keys.messageKey),
    ...(t.keys.nextChainKey ? { next_chain_key: toHex(t.keys.nextChainKey) } : {}),
    aead_key: toHex(t.keys.aeadKey),
    nonce: toHex(t.keys.nonce),
    header: toHex(t.header),
    associated_data: toHex(t.associatedData),
  };
}

/** Runs a conversation. `rngFor(eventIndex)` supplies a receive event's randomness. */
function run(f: Inputs, rngFor: (i: number, e: Inputs) => Rng) {
  const sk = f.hex("shared_secret", 32);
  const ad = f.hex("associated_data");
  const bobPrivate = f.x25519Private("bob_ratchet_private");
  const alicePrivate = f.x25519Private("alice_ratchet_private");
  const bobPair = { privateKey: bobPrivate, publicKey: x25519Base(bobPrivate) };
  const init = ratchetInitInitiator(replayRng([alicePrivate]), sk, ad, bobPair.publicKey);
  const state: Record<Side, RatchetState> = { alice: init.state, bob: ratchetInitResponder(sk, ad, bobPair) };
  const sent: { from: Side; bytes: Uint8Array }[] = [];
  const events = f.list("events").map((e, i) => {
    const op = e.string("op");
    if (op === "send") {
      const from = side(e.string("from"));
      const plaintext = e.hex("plaintext");
      const enc = ratchetEncrypt(state[from], plaintext);
      state[from] = enc.state;
      sent.push({ from, bytes: enc.message });
      const t = enc.trace;
      return {
        op,
        from,
        plaintext: toHex(plaintext),
        message_index: sent.length - 1,
        chain_key: toHex(t.chainKey),
        message_key: toHex(t.messageKey),
        next_chain_key: toHex(t.nextChainKey),
        aead_key: toHex(t.aeadKey),
        nonce: toHex(t.nonce),
        header: toHex(t.header),
        associated_data: toHex(t.associatedData),
        message: toHex(enc.message),
      };
    }
    if (op !== "receive") throw new CodecError(`ratchet.json: events[${i}].op: must be "send" or "receive"`);
    const to = side(e.string("to"));
    const index = e.u32("message_index");
    const msg = sent[index];
    if (!msg) throw new CodecError(`ratchet.json: events[${i}].message_index: no such message`);
    const rng = rngFor(i, e);
    const common = { op, to, message_index: index };
    try {
      const dec = ratchetDecrypt(rng, state[to], msg.bytes);
      state[to] = dec.state;
      const newPrivate = dec.trace.dhRatchet
        ? { new_ratchet_private: toHex(dec.trace.dhRatchet.newDhSelf.privateKey) }
        : {};
      return {
        ...common,
        ...newPrivate,
        result: "decrypted",
        ...receiveOutputs(dec.trace),
        plaintext: toHex(dec.plaintext),
      };
    } catch (err) {
      // Only the protocol's own rejections belong in a vector; anything else is a bug or a broken file.
      if (!(err instanceof SmsgError) || err.code === "USAGE" || err.code === "CODEC") throw err;
      return { ...common, result: "rejected", error: err.code };
    }
  });
  return {
    suite: "ratchet",
    description: DESCRIPTION,
    spec: "SECURITY.md §6 (Double Ratchet)",
    shared_secret: toHex(sk),
    associated_data: toHex(ad),
    bob_ratchet_private: toHex(bobPrivate),
    bob_ratchet_public: toHex(bobPair.publicKey),
    alice_ratchet_private: toHex(alicePrivate),
    alice_init: { ratchet_public: toHex(init.trace.dhSelf.publicKey), ...root(init.trace.root) },
    events,
  };
}

function side(s: string): Side {
  if (s !== "alice" && s !== "bob") throw new CodecError(`ratchet.json: "${s}" is not a side`);
  return s;
}

/** The script: [op, side, plaintext text | message index]. 12 messages, both ways, some reordered, one replay, one reflection. */
const SCRIPT: (["send", Side, string] | ["receive", Side, number])[] = [
  ["send", "alice", "a0: first message"],
  ["send", "alice", "a1: overtaken by a2"],
  ["send", "alice", "a2"],
  ["receive", "bob", 0],
  ["receive", "bob", 2],
  ["send", "bob", "b3: arrives after b4"],
  ["send", "bob", "b4"],
  ["receive", "alice", 4],
  ["receive", "alice", 3],
  ["receive", "bob", 1],
  ["send", "alice", "a5: delayed past a DH step"],
  ["send", "alice", "a6"],
  ["receive", "bob", 6],
  ["send", "bob", "b7"],
  ["receive", "alice", 7],
  ["send", "alice", "a8"],
  ["receive", "bob", 8],
  ["receive", "bob", 5],
  ["send", "bob", "b9"],
  ["receive", "alice", 9],
  ["send", "alice", "a10"],
  ["send", "alice", "a11"],
  ["receive", "bob", 11],
  ["receive", "bob", 10],
  ["receive", "bob", 10],
  ["receive", "alice", 11],
];

export const ratchetVectors: VectorSuite = {
  file: "ratchet.json",
  recompute(file: unknown) {
    const f = new Inputs(file, "ratchet.json");
    return run(f, (i, e) => {
      const given = e.optionalX25519Private("new_ratchet_private");
      const rng = replayRng(given ? [given] : []);
      // A key the file gives that the protocol does not draw is caught by the comparison:
      // the recomputed event has no new_ratchet_private field.
      return (n: number) => {
        if (rng.remaining() === 0) throw new CodecError(`ratchet.json: events[${i}].new_ratchet_private: missing`);
        return rng(n);
      };
    });
  },
  generate() {
    const rng = seededRng(utf8("SMSG-v1 vectors ratchet"));
    const inputs = {
      shared_secret: toHex(rng(32)),
      associated_data: toHex(rng(128)),
      bob_ratchet_private: toHex(clamp(rng(32))),
      alice_ratchet_private: toHex(clamp(rng(32))),
      events: SCRIPT.map(([op, s, x]) =>
        op === "send"
          ? { op, from: s, plaintext: toHex(utf8(x as string)) }
          : { op, to: s, message_index: x as number },
      ),
    };
    // First pass draws ratchet keys from the seeded RNG; the recorded keys become inputs.
    const clamped = (n: number) => clamp(rng(n));
    const first = run(new Inputs(inputs, "ratchet.json"), () => clamped) as { events: Record<string, unknown>[] };
    inputs.events.forEach((e, i) => {
      const k = first.events[i]?.["new_ratchet_private"];
      if (typeof k === "string") (e as Record<string, unknown>)["new_ratchet_private"] = k;
    });
    return this.recompute(inputs);
  },
};
