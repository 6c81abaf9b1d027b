/**
 * test/vectors/sender-key-cases.json: the receiving side of sender keys (SECURITY.md §7.5), one
 * Wycheproof-shaped case per rule: out-of-order delivery and skipped keys, replay, messages from
 * before the distribution, a wrong key id, MAX_SENDER_SKIP and the LIMIT error, the cap of 2000
 * stored keys, and the rejections (tampered signature or ciphertext, wrong group or sender,
 * malformed headers, the last iteration).
 *
 * The case table (ids, comments, deliveries) is part of the suite; the file's inputs are each
 * case's group id, sender id and sender key (key id, chain key, signing seed).
 */
import { concat, toHex, utf8 } from "../bytes.js";
import { CodecError, SmsgError } from "../errors.js";
import { ED25519_SIGNATURE_BYTES, ed25519Sign } from "../primitives.js";
import { replayRng, seededRng } from "../rng.js";
import {
  SENDER_HEADER_BYTES,
  type SenderKeyContext,
  type SenderKeyOwnState,
  type SenderKeyReceiverState,
  createSenderKey,
  distributionMessage,
  parseDistribution,
  senderDecryptUnderRules,
  senderEncrypt,
  senderMessageAd,
  senderMessageHeader,
  senderChainStep,
  senderSignatureInput,
} from "../sender-keys.js";
import { Inputs } from "./inputs.js";
import { THIS_IMPLEMENTATION, type VectorImplementation, type VectorSuite } from "./suite.js";

const FILE = "sender-key-cases.json";

/** How a delivered message differs from the one sent (the delivered bytes are output as `message`). */
type Modify =
  | { readonly xor: { readonly offset: number; readonly mask: number } }
  | { readonly truncate: number }
  /** The sender signs, with its own key, a message whose header claims this iteration (the ciphertext is kept). */
  | { readonly resign_iteration: number };

interface Delivery {
  readonly message_index: number;
  readonly modify?: Modify;
  /** The receiver's context differs from the sender's: "group" (last byte of the group id flipped) or "sender" ("mallory"). */
  readonly wrong_context?: "group" | "sender";
}

interface Case {
  readonly id: string;
  readonly comment: string;
  /** How many messages the sender sends (iterations 0 .. sent − 1). */
  readonly sent: number;
  /** The receiver's state comes from the distribution message taken after this many messages. */
  readonly distribution_at: number;
  /** The receiver's distribution names key id + 1 (same chain and signing key): the messages carry another key id. */
  readonly receiver_key_id_differs?: boolean;
  readonly tested_delivery: number;
  readonly deliveries: readonly Delivery[];
}

const d = (message_index: number, extra: Omit<Delivery, "message_index"> = {}): Delivery => ({
  message_index,
  ...extra,
});

/** Deliver 0 changed, then 0 as sent: the change is rejected and changes nothing. */
function rejection(id: string, comment: string, extra: Omit<Delivery, "message_index">): Case {
  return { id, comment, sent: 1, distribution_at: 0, tested_delivery: 0, deliveries: [d(0, extra), d(0)] };
}

const CASES: readonly Case[] = [
  {
    id: "out-of-order-uses-skipped-keys",
    comment:
      "§7.5 steps 5 and 6: iteration 2 first stores the keys of 0 and 1, which then decrypt (each removed when used), " +
      "then 3 moves the chain",
    sent: 4,
    distribution_at: 0,
    tested_delivery: 1,
    deliveries: [d(2), d(0), d(3), d(1)],
  },
  {
    id: "replay-in-chain",
    comment: "§7.5 step 5: an iteration below the chain whose key is not stored is rejected (a replay)",
    sent: 1,
    distribution_at: 0,
    tested_delivery: 1,
    deliveries: [d(0), d(0)],
  },
  {
    id: "replay-of-skipped-key",
    comment: "§7.5 step 5: a stored key decrypts once and is removed; the same message again is rejected",
    sent: 2,
    distribution_at: 0,
    tested_delivery: 2,
    deliveries: [d(1), d(0), d(0)],
  },
  {
    id: "before-distribution",
    comment: "§7.3, §7.5 step 5: a message from before the distribution's iteration (here 2) cannot be read",
    sent: 3,
    distribution_at: 2,
    tested_delivery: 0,
    deliveries: [d(1), d(2)],
  },
  {
    id: "wrong-key-id",
    comment:
      "§7.5 step 2: a message whose key id is not the receiver's is rejected, even though the signing key and chain key " +
      "are the same (so the signature and the AEAD would pass)",
    sent: 1,
    distribution_at: 0,
    receiver_key_id_differs: true,
    tested_delivery: 0,
    deliveries: [d(0)],
  },
  {
    id: "skip-over-limit-is-limit",
    comment:
      "§7.5 step 6: an authentic message more than MAX_SENDER_SKIP = 2000 ahead (i − n = 2001) fails with LIMIT and changes " +
      "nothing; i − n = 2000 then decrypts, storing 2000 keys, and a skipped one after it",
    sent: 2002,
    distribution_at: 0,
    tested_delivery: 0,
    deliveries: [d(2001), d(2000), d(0)],
  },
  {
    id: "skipped-key-cap-evicts-lowest",
    comment:
      "§7.5 step 6: at most MAX_SENDER_SKIPPED_KEYS = 2000 keys are kept; storing 4 more evicts the 4 lowest iterations " +
      "(0..3), so iteration 3 is rejected and 4 still decrypts",
    sent: 2006,
    distribution_at: 0,
    tested_delivery: 2,
    deliveries: [d(2000), d(2005), d(3), d(4)],
  },
  rejection("tampered-signature", "§7.5 step 3: a changed signature byte fails verification", {
    modify: { xor: { offset: -1, mask: 1 } },
  }),
  rejection("tampered-ciphertext", "§7.5 step 3: the signature covers the ciphertext; a changed byte fails it", {
    modify: { xor: { offset: 9, mask: 0x80 } },
  }),
  rejection("tampered-iteration", "§7.5 step 3: the signature covers the header; a changed iteration fails it", {
    modify: { xor: { offset: 8, mask: 1 } },
  }),
  rejection("wrong-group", "§7.4, §7.5 step 3: the signed associated data names the group; another group rejects", {
    wrong_context: "group",
  }),
  rejection("wrong-sender", "§7.4, §7.5 step 3: the signed associated data names the sender; another sender rejects", {
    wrong_context: "sender",
  }),
  rejection("truncated", "§7.5 step 1: a message shorter than 89 bytes is rejected", { modify: { truncate: 88 } }),
  rejection("wrong-version", "§7.5 step 1: a first byte other than 0x01 is rejected", {
    modify: { xor: { offset: 0, mask: 3 } },
  }),
  rejection(
    "last-iteration",
    "§7.5 step 4: iteration 2^32 − 1, even with a valid signature, is rejected (could not decrypt) before the skip bound, so not LIMIT",
    { modify: { resign_iteration: 0xffffffff } },
  ),
];

const DESCRIPTION =
  "The sender-key receiving rules, one case per rule (SECURITY.md §7.5). Each case has its own group_id, sender_id and " +
  "sender key (key_id, chain_key, signing_seed, at iteration 0); the sender sends `sent` messages, iteration i with " +
  'plaintext "m<i>" (unpadded), and the receiver starts from `distribution`, taken after `distribution_at` messages. ' +
  "Each delivery names a sent message, optionally modified or received in another context; it gives the delivered " +
  "`message`, `result` (valid or invalid), the `error` (CRYPTO_VERIFICATION or LIMIT) or the `plaintext`, and the " +
  "receiver's `iteration_after` and `skipped_after` (runs of iterations whose keys it holds). The case's `result` is " +
  "that of its `tested_delivery`.";

function runsOf(iterations: number[]): [number, number][] {
  const out: [number, number][] = [];
  for (const i of [...iterations].sort((a, b) => a - b)) {
    const last = out[out.length - 1];
    if (last && last[1] + 1 === i) last[1] = i;
    else out.push([i, i]);
  }
  return out;
}

function modified(message: Uint8Array, m: Modify | undefined, own: SenderKeyOwnState, context: SenderKeyContext) {
  if (!m) return message;
  if ("truncate" in m) return message.slice(0, m.truncate);
  if ("xor" in m) {
    const out = message.slice();
    out[m.xor.offset < 0 ? out.length + m.xor.offset : m.xor.offset]! ^= m.xor.mask;
    return out;
  }
  const header = senderMessageHeader(own.keyId, m.resign_iteration);
  const ciphertext = message.slice(SENDER_HEADER_BYTES, message.length - ED25519_SIGNATURE_BYTES);
  const signature = ed25519Sign(
    own.signing.privateKey,
    senderSignatureInput(senderMessageAd(context, header), ciphertext),
  );
  return concat(header, ciphertext, signature);
}

function runCase(c: Case, f: Inputs, impl: VectorImplementation) {
  const groupId = f.hex("group_id");
  const senderId = f.string("sender_id");
  const keyId = f.u32("key_id");
  const chainKey = f.hex("chain_key", 32);
  const signingSeed = f.hex("signing_seed", 32);
  const context: SenderKeyContext = { groupId, senderId };
  let own = createSenderKey(replayRng([chainKey, signingSeed]), keyId);
  const messages: Uint8Array[] = [];
  let distribution = distributionMessage(own);
  // Only the messages a delivery names are encrypted and signed; for the others the chain just
  // steps (§7.2), as senderEncrypt steps it. No output shows them, and signing the 2000 or so
  // of the cap cases made this file the slowest to verify.
  const delivered = new Set(c.deliveries.map((dv) => dv.message_index));
  for (let i = 0; i < c.sent; i++) {
    if (i === c.distribution_at) distribution = distributionMessage(own);
    if (delivered.has(i)) {
      const { state, message } = senderEncrypt(own, context, utf8(`m${i}`));
      own = state;
      messages[i] = message;
    } else {
      own = Object.freeze({
        ...own,
        iteration: own.iteration + 1,
        chainKey: senderChainStep(own.chainKey).nextChainKey,
      });
    }
  }
  if (c.distribution_at === c.sent) distribution = distributionMessage(own);
  if (c.receiver_key_id_differs) {
    distribution = distribution.slice();
    new DataView(distribution.buffer).setUint32(1, (keyId + 1) >>> 0);
  }
  const signer = createSenderKey(replayRng([chainKey, signingSeed]), keyId);
  let receiver: SenderKeyReceiverState = parseDistribution(distribution);
  const deliveries = c.deliveries.map((dv, i) => {
    const sent = messages[dv.message_index];
    if (!sent) throw new CodecError(`${FILE}: case ${c.id}: deliveries[${i}]: no message ${dv.message_index}`);
    const message = modified(sent, dv.modify, signer, context);
    const rcv: SenderKeyContext =
      dv.wrong_context === "group"
        ? { groupId: concat(groupId.slice(0, -1), new Uint8Array([groupId[groupId.length - 1]! ^ 1])), senderId }
        : dv.wrong_context === "sender"
          ? { groupId, senderId: "mallory" }
          : context;
    const common = {
      message_index: dv.message_index,
      ...(dv.modify ? { modify: dv.modify } : {}),
      ...(dv.wrong_context ? { wrong_context: dv.wrong_context } : {}),
      message: toHex(message),
    };
    const held = () => ({ iteration_after: receiver.iteration, skipped_after: runsOf([...receiver.skipped.keys()]) });
    try {
      const out = senderDecryptUnderRules(impl.senderKeyRules, receiver, rcv, message);
      receiver = out.state;
      return { ...common, result: "valid", plaintext: toHex(out.plaintext), ...held() };
    } catch (err) {
      if (!(err instanceof SmsgError) || err.code === "USAGE" || err.code === "CODEC") throw err;
      return { ...common, result: "invalid", error: err.code, ...held() };
    }
  });
  const tested = deliveries[c.tested_delivery]! as { result: string; error?: string };
  return {
    id: c.id,
    comment: c.comment,
    group_id: toHex(groupId),
    sender_id: senderId,
    key_id: keyId,
    chain_key: toHex(chainKey),
    signing_seed: toHex(signingSeed),
    signing_public: toHex(signer.signing.publicKey),
    sent: c.sent,
    distribution_at: c.distribution_at,
    distribution: toHex(distribution),
    deliveries,
    tested_delivery: c.tested_delivery,
    result: tested.result,
    ...(tested.error ? { error: tested.error } : {}),
  };
}

export const senderKeyCaseVectors: VectorSuite = {
  file: FILE,
  recompute(file: unknown, impl: VectorImplementation = THIS_IMPLEMENTATION) {
    const f = new Inputs(file, FILE);
    const given = f.list("cases");
    if (given.length !== CASES.length) throw new CodecError(`${FILE}: cases: expected ${CASES.length}`);
    return {
      suite: "sender-key-cases",
      description: DESCRIPTION,
      spec: "SECURITY.md §7.5 (receiving)",
      cases: CASES.map((c, i) => {
        const g = given[i]!;
        if (g.string("id") !== c.id) throw new CodecError(`${FILE}: cases[${i}].id: expected "${c.id}"`);
        return runCase(c, g, impl);
      }),
    };
  },
  generate() {
    const rng = seededRng(utf8("SMSG-v1 vectors sender key cases"));
    return this.recompute({
      cases: CASES.map((c) => {
        const key = createSenderKey(rng);
        return {
          id: c.id,
          group_id: toHex(utf8(String(1000 + CASES.indexOf(c)))),
          sender_id: "alice",
          key_id: key.keyId,
          chain_key: toHex(key.chainKey),
          signing_seed: toHex(key.signing.privateKey.subarray(0, 32)),
        };
      }),
    });
  },
};
