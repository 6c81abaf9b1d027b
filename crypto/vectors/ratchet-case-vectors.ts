/**
 * test/vectors/ratchet-cases.json: the receiving rules of the Double Ratchet (SECURITY.md §6.7),
 * one Wycheproof-shaped case per rule: the skip to `pn` on a DH step, the deletion of skipped
 * keys after 10 steps, the cap of 2000 stored keys, MAX_SKIP and the LIMIT error, and the
 * rejections (tampering, wrong associated data, replay, reflection, malformed headers), each
 * followed by the genuine message to show the failure changed nothing.
 *
 * The case table (ids, comments, scripts) is part of the suite, like padding.json's unpad
 * table: a changed script or comment in the file is a mismatch, not a new case. The file's
 * inputs are each case's keys and the new ratchet keys drawn on DH steps.
 */
import { concat, toHex, utf8 } from "../bytes.js";
import { CodecError, SmsgError } from "../errors.js";
import { x25519Base } from "../primitives.js";
import {
  type RatchetRules,
  type RatchetState,
  type SkippedKey,
  kdfChain,
  ratchetDecryptUnderRules,
  ratchetEncrypt,
  ratchetInitInitiator,
  ratchetInitResponder,
} from "../ratchet.js";
import { type Rng, replayRng, seededRng } from "../rng.js";
import { Inputs, clamp } from "./inputs.js";
import { THIS_IMPLEMENTATION, type VectorImplementation, type VectorSuite } from "./suite.js";

const FILE = "ratchet-cases.json";
type Side = "alice" | "bob";

/** A change made to a message on its way (the result is output as `message`, so any implementation can feed it). */
type Modify =
  | { readonly xor: { readonly offset: number; readonly mask: number } }
  | { readonly truncate: number }
  | { readonly set: { readonly offset: number; readonly hex: string } };

type Step =
  | { readonly op: "send"; readonly from: Side; readonly plaintext: string; readonly count?: number }
  | { readonly op: "receive"; readonly to: Side; readonly message_index: number; readonly modify?: Modify };

interface Case {
  readonly id: string;
  readonly comment: string;
  /** The index (in `events`) of the receive the case is about; its result is the case's result. */
  readonly tested_event: number;
  /** Bob's associated data differs from Alice's in its last byte. */
  readonly bobAdDiffers?: boolean;
  readonly events: readonly Step[];
}

const send = (from: Side, plaintext: string, count?: number): Step => ({
  op: "send",
  from,
  plaintext,
  ...(count ? { count } : {}),
});
const recv = (to: Side, i: number, modify?: Modify): Step => ({
  op: "receive",
  to,
  message_index: i,
  ...(modify ? { modify } : {}),
});

/** `k` round trips after the first exchange: each makes Bob (and Alice) take one DH step. */
function roundTrips(k: number, firstIndex: number): Step[] {
  const out: Step[] = [];
  for (let j = 0; j < k; j++) {
    const b = firstIndex + 2 * j;
    out.push(send("bob", `b${j}`), recv("alice", b), send("alice", `a${j}`), recv("bob", b + 1));
  }
  return out;
}

/** Alice sends a0 and a1, Bob receives a0: the start of most rejection cases (a1 is message 1). */
const START: Step[] = [send("alice", "a0"), send("alice", "a1"), recv("bob", 0)];

function rejection(id: string, comment: string, modify: Modify): Case {
  return { id, comment, tested_event: 3, events: [...START, recv("bob", 1, modify), recv("bob", 1)] };
}

const CASES: readonly Case[] = [
  {
    id: "pn-skip-stores-old-chain-keys",
    comment:
      "§6.7 step 4: on a DH step the receiver first skips its old receiving chain to header.pn, storing those keys, " +
      "so a1 and a2, sent before Alice's DH step and delivered after it, still decrypt (stored keys (A1, 1) and (A1, 2))",
    tested_event: 8,
    events: [
      send("alice", "a0"),
      send("alice", "a1: delivered after Alice's next DH step"),
      send("alice", "a2"),
      recv("bob", 0),
      send("bob", "b0"),
      recv("alice", 3),
      send("alice", "a3: new chain, pn = 3"),
      recv("bob", 4),
      recv("bob", 1),
      recv("bob", 2),
    ],
  },
  {
    id: "pn-skip-at-max-skip",
    comment:
      "§6.7 step 6: the skip to header.pn may store exactly MAX_SKIP = 1000 keys (pn − Nr = 1000); the last of them then decrypts",
    tested_event: 6,
    events: [
      send("alice", "a0"),
      recv("bob", 0),
      send("bob", "b0"),
      send("alice", "", 1000),
      recv("alice", 1),
      send("alice", "c0: pn = 1001"),
      recv("bob", 1002),
      recv("bob", 1001),
    ],
  },
  {
    id: "pn-skip-over-max-skip-is-limit",
    comment:
      "§6.7 steps 4 and 6: a DH step whose pn is more than MAX_SKIP = 1000 past the old receiving count fails with the LIMIT " +
      "error before any AEAD, and changes nothing: the old chain's next message still decrypts",
    tested_event: 6,
    events: [
      send("alice", "a0"),
      recv("bob", 0),
      send("bob", "b0"),
      send("alice", "", 1002),
      recv("alice", 1),
      send("alice", "c0: pn = 1003"),
      recv("bob", 1004),
      recv("bob", 2),
    ],
  },
  {
    id: "n-skip-over-max-skip-is-limit",
    comment:
      "§6.7 step 6: a message more than MAX_SKIP = 1000 ahead in its chain (n − Nr = 1001) fails with LIMIT and changes " +
      "nothing; n − Nr = 1000 then decrypts (storing 1000 keys), and a skipped one after it",
    tested_event: 1,
    events: [send("alice", "", 1002), recv("bob", 1001), recv("bob", 1000), recv("bob", 0)],
  },
  {
    id: "skipped-key-kept-for-ten-steps",
    comment:
      "§6.7 step 4: a skipped key survives while step − key.step ≤ 10: stored at Bob's step 1, it still decrypts at step 11",
    tested_event: 43,
    events: [
      send("alice", "a0: delivered last"),
      send("alice", "a1"),
      recv("bob", 1),
      ...roundTrips(10, 2),
      recv("bob", 0),
    ],
  },
  {
    id: "skipped-key-deleted-after-ten-steps",
    comment:
      "§6.7 step 4: a skipped key is deleted on the DH step where step − key.step exceeds 10: stored at Bob's step 1, " +
      "deleted at step 12, so its message is rejected",
    tested_event: 47,
    events: [
      send("alice", "a0: delivered last"),
      send("alice", "a1"),
      recv("bob", 1),
      ...roundTrips(11, 2),
      recv("bob", 0),
    ],
  },
  {
    id: "skipped-key-cap-evicts-oldest",
    comment:
      "§6.7 step 6: at most 2000 skipped keys are stored, the oldest stored evicted first: A1's keys 1..999 are stored " +
      "before A2's 0..999, so the 2001st key evicts (A1, 1), not a key with a lower n; (A1, 1) is then rejected while " +
      "(A1, 2), (A2, 0) and (A3, 0) still decrypt",
    tested_event: 11,
    events: [
      send("alice", "", 1001),
      recv("bob", 0),
      recv("bob", 1000),
      send("bob", "b0"),
      recv("alice", 1001),
      send("alice", "", 1001),
      recv("bob", 2002),
      send("bob", "b1"),
      recv("alice", 2003),
      send("alice", "", 3),
      recv("bob", 2006),
      recv("bob", 1),
      recv("bob", 2),
      recv("bob", 1002),
      recv("bob", 2004),
    ],
  },
  rejection("tampered-header-pn", "§6.4, §6.7: the header is associated data; a changed pn fails the AEAD", {
    xor: { offset: 36, mask: 1 },
  }),
  rejection(
    "tampered-header-n",
    "§6.7 step 6 and 'only if decryption succeeds': n changed from 1 to 3 makes the receiver derive two skipped keys, " +
      "then the AEAD fails and none is stored",
    { xor: { offset: 40, mask: 2 } },
  ),
  rejection(
    "tampered-header-ratchet-key",
    "§6.7 step 4: a changed ratchet key starts a DH step on a key the sender does not hold; the AEAD fails and the step is undone",
    { xor: { offset: 1, mask: 1 } },
  ),
  rejection("tampered-ciphertext", "§6.4: a changed ciphertext byte fails the AEAD", {
    xor: { offset: 41, mask: 0x80 },
  }),
  rejection("tampered-tag", "§6.4: a changed tag byte fails the AEAD", { xor: { offset: -1, mask: 1 } }),
  rejection("truncated-header", "§6.7 step 1: a message shorter than the 41-byte header is rejected", { truncate: 40 }),
  rejection("wrong-header-version", "§6.7 step 1: a header whose first byte is not 0x01 is rejected", {
    set: { offset: 0, hex: "02" },
  }),
  rejection(
    "header-n-max",
    "§6.7 step 1: header.n = 2^32 − 1 is rejected (could not decrypt) before the skip bound is looked at, so it is not LIMIT",
    { set: { offset: 37, hex: "ffffffff" } },
  ),
  rejection(
    "low-order-ratchet-key",
    "§2, §6.7 step 4: a new ratchet key of low order (here the all-zero key) makes X25519 output zeros, which rejects",
    { set: { offset: 1, hex: "00".repeat(32) } },
  ),
  {
    id: "wrong-associated-data",
    comment: "§6.4: the AEAD covers AD || header; a receiver whose AD differs (in its last byte) rejects the message",
    tested_event: 1,
    bobAdDiffers: true,
    events: [send("alice", "a0"), recv("bob", 0)],
  },
  {
    id: "replay-in-chain",
    comment: "§6.7 step 5: a message below the receiving count whose key is not stored is a replay",
    tested_event: 2,
    events: [send("alice", "a0"), recv("bob", 0), recv("bob", 0)],
  },
  {
    id: "replay-of-skipped-key",
    comment: "§6.7 step 3: a stored key decrypts once and is removed; the same message again is rejected",
    tested_event: 4,
    events: [send("alice", "a0"), send("alice", "a1"), recv("bob", 1), recv("bob", 0), recv("bob", 0)],
  },
  {
    id: "reflection",
    comment: "§6.7 step 2: a message under the receiver's own ratchet key is its own, reflected back: rejected",
    tested_event: 1,
    events: [send("alice", "a0"), recv("alice", 0)],
  },
];

const DESCRIPTION =
  "The Double Ratchet's receiving rules, one case per rule (SECURITY.md §6.7). Each case is a short conversation from " +
  "its own shared_secret, associated_data and first ratchet keys; events are sends (count > 1 sends that many messages " +
  "with the same plaintext) and receives of a sent message, optionally modified on its way (the delivered bytes are " +
  "`message`). A receive that takes a DH step gives the drawn `new_ratchet_private`. Every receive has `result` " +
  "(valid or invalid) and, when invalid, `error` (CRYPTO_VERIFICATION or LIMIT); a valid one gives `plaintext`, " +
  "`used_skipped_key`, `stored_skipped` and `deleted_skipped` (runs of (ratchet_public, n) that this message made the " +
  "receiver store or delete) and `skipped_after`, the number of keys the receiver then holds. The case's `result` is " +
  "that of its `tested_event`.";

/** Runs of consecutive n under one ratchet key. */
function runs(keys: readonly { dh: Uint8Array; n: number }[]) {
  const out: { ratchet_public: string; first_n: number; last_n: number }[] = [];
  for (const k of keys) {
    const last = out[out.length - 1];
    const hex = toHex(k.dh);
    if (last && last.ratchet_public === hex && last.last_n + 1 === k.n) last.last_n = k.n;
    else out.push({ ratchet_public: hex, first_n: k.n, last_n: k.n });
  }
  return out;
}

function modified(message: Uint8Array, m: Modify | undefined): Uint8Array {
  if (!m) return message;
  if ("truncate" in m) return message.slice(0, m.truncate);
  const out = message.slice();
  if ("xor" in m) {
    const at = m.xor.offset < 0 ? out.length + m.xor.offset : m.xor.offset;
    out[at]! ^= m.xor.mask;
    return out;
  }
  const bytes = Uint8Array.from(m.set.hex.match(/../g)!.map((h) => parseInt(h, 16)));
  out.set(bytes, m.set.offset);
  return out;
}

/** A skipped key's (ratchet_public, n) as one string, to look keys up in a Set. */
const keyName = (k: SkippedKey) => `${toHex(k.dh)}:${k.n}`;

/** The indices of the messages a case outputs: each one received, and the last of each send. */
function shownMessages(c: Case): Set<number> {
  const shown = new Set<number>();
  let count = 0;
  for (const e of c.events) {
    if (e.op === "receive") shown.add(e.message_index);
    else {
      count += e.count ?? 1;
      shown.add(count - 1);
    }
  }
  return shown;
}

/** A key the protocol may draw on a DH step that is then rejected: no output depends on it. */
const UNUSED_KEY = clamp(new Uint8Array(32).fill(0x55));

function runCase(c: Case, f: Inputs, rules: RatchetRules, drawn: ((n: number) => Uint8Array) | undefined) {
  const sk = f.hex("shared_secret", 32);
  const ad = f.hex("associated_data");
  const bobAd = c.bobAdDiffers ? concat(ad.slice(0, -1), new Uint8Array([ad[ad.length - 1]! ^ 1])) : ad;
  const bobPrivate = f.x25519Private("bob_ratchet_private");
  const alicePrivate = f.x25519Private("alice_ratchet_private");
  const bobPair = { privateKey: bobPrivate, publicKey: x25519Base(bobPrivate) };
  const state: Record<Side, RatchetState> = {
    alice: ratchetInitInitiator(replayRng([alicePrivate]), sk, ad, bobPair.publicKey).state,
    bob: ratchetInitResponder(sk, bobAd, bobPair),
  };
  const fileEvents = f.list("events");
  if (fileEvents.length !== c.events.length)
    throw new CodecError(`${FILE}: case ${c.id}: events: expected ${c.events.length}`);
  const sent: Uint8Array[] = [];
  const shown = shownMessages(c);
  const events = c.events.map((e, i) => {
    if (e.op === "send") {
      const first = sent.length;
      const plaintext = utf8(e.plaintext);
      for (let j = 0; j < (e.count ?? 1); j++) {
        const from = state[e.from];
        if (!shown.has(sent.length) && from.sendChain) {
          // A message no event shows or receives is not encrypted: the sending chain just steps
          // (§6.2), as ratchetEncrypt steps it. Encrypting the thousands of the skip and cap
          // cases made this file the slowest to verify.
          state[e.from] = { ...from, sendChain: kdfChain(from.sendChain).nextChainKey, sendN: from.sendN + 1 };
          sent.push(new Uint8Array(0));
          continue;
        }
        try {
          const enc = ratchetEncrypt(state[e.from], plaintext);
          state[e.from] = enc.state;
          sent.push(enc.message);
        } catch (err) {
          // Only under a wrong implementation (a side that could not receive cannot send): an
          // empty message keeps the indices, and the comparison names the first difference.
          if (!(err instanceof SmsgError)) throw err;
          sent.push(new Uint8Array(0));
        }
      }
      const last = toHex(sent[sent.length - 1]!);
      return {
        ...e,
        plaintext: toHex(plaintext),
        message_index: first,
        ...(e.count ? { last_message: last } : { message: last }),
      };
    }
    const original = sent[e.message_index];
    if (!original) throw new CodecError(`${FILE}: case ${c.id}: events[${i}]: no message ${e.message_index}`);
    const message = modified(original, e.modify);
    const given = drawn ? undefined : fileEvents[i]!.optionalX25519Private("new_ratchet_private");
    let usedGiven = false;
    const rng: Rng = (n) => {
      if (drawn) return drawn(n);
      if (given && !usedGiven) {
        usedGiven = true;
        return replayRng([given])(n);
      }
      return UNUSED_KEY.slice(0, n);
    };
    const before = state[e.to];
    const common = { op: e.op, to: e.to, message_index: e.message_index, ...(e.modify ? { modify: e.modify } : {}) };
    try {
      const dec = ratchetDecryptUnderRules(rules, rng, before, message);
      // A DH step whose key the file does not give got UNUSED_KEY; the comparison then names the missing input.
      const step = dec.trace.dhRatchet;
      state[e.to] = dec.state;
      // A Set, not a search of the list per key: the cap cases hold 2000 keys (a quadratic
      // comparison made this file the slowest to verify).
      const kept = new Set(dec.state.skipped.map(keyName));
      const usedKey = dec.trace.usedSkippedKey ? before.skipped.find((k) => !kept.has(keyName(k))) : undefined;
      const deleted = before.skipped.filter((k) => k !== usedKey && !kept.has(keyName(k)));
      return {
        ...common,
        message: toHex(message),
        ...(step ? { new_ratchet_private: toHex(step.newDhSelf.privateKey) } : {}),
        result: "valid",
        plaintext: toHex(dec.plaintext),
        used_skipped_key: dec.trace.usedSkippedKey,
        stored_skipped: runs(dec.trace.storedSkipped),
        deleted_skipped: runs(deleted),
        skipped_after: dec.state.skipped.length,
      };
    } catch (err) {
      // Only the protocol's own refusals belong in a vector; anything else is a bug or a broken file.
      if (!(err instanceof SmsgError) || err.code === "USAGE" || err.code === "CODEC") throw err;
      return {
        ...common,
        message: toHex(message),
        result: "invalid",
        error: err.code,
        skipped_after: before.skipped.length,
      };
    }
  });
  const tested = events[c.tested_event] as { result?: string; error?: string };
  return {
    id: c.id,
    comment: c.comment,
    shared_secret: toHex(sk),
    associated_data: toHex(ad),
    ...(c.bobAdDiffers ? { bob_associated_data: toHex(bobAd) } : {}),
    bob_ratchet_private: toHex(bobPrivate),
    bob_ratchet_public: toHex(bobPair.publicKey),
    alice_ratchet_private: toHex(alicePrivate),
    events,
    tested_event: c.tested_event,
    result: tested.result,
    ...(tested.error ? { error: tested.error } : {}),
  };
}

function build(file: unknown, impl: VectorImplementation, drawn?: (n: number) => Uint8Array) {
  const f = new Inputs(file, FILE);
  const given = f.list("cases");
  if (given.length !== CASES.length) throw new CodecError(`${FILE}: cases: expected ${CASES.length}`);
  return {
    suite: "ratchet-cases",
    description: DESCRIPTION,
    spec: "SECURITY.md §6.7 (decrypting, limits and failures)",
    cases: CASES.map((c, i) => {
      const g = given[i]!;
      if (g.string("id") !== c.id) throw new CodecError(`${FILE}: cases[${i}].id: expected "${c.id}"`);
      return runCase(c, g, impl.ratchetRules, drawn);
    }),
  };
}

export const ratchetCaseVectors: VectorSuite = {
  file: FILE,
  recompute(file: unknown, impl: VectorImplementation = THIS_IMPLEMENTATION) {
    return build(file, impl);
  },
  generate() {
    const rng = seededRng(utf8("SMSG-v1 vectors ratchet cases"));
    const cases = CASES.map((c) => ({
      id: c.id,
      shared_secret: toHex(rng(32)),
      associated_data: toHex(rng(128)),
      bob_ratchet_private: toHex(clamp(rng(32))),
      alice_ratchet_private: toHex(clamp(rng(32))),
      events: c.events.map(() => ({})),
    }));
    // First pass draws the DH steps' ratchet keys from the seeded RNG; the recorded keys become inputs.
    const first = build({ cases }, THIS_IMPLEMENTATION, (n) => clamp(rng(n)));
    first.cases.forEach((c, i) =>
      c.events.forEach((e, j) => {
        const k = (e as { new_ratchet_private?: string }).new_ratchet_private;
        if (k) (cases[i]!.events[j] as Record<string, string>)["new_ratchet_private"] = k;
      }),
    );
    return this.recompute({ cases });
  },
};
