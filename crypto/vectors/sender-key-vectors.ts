/**
 * test/vectors/sender-keys.json: group messages with sender keys (SECURITY.md §7).
 *
 * Inputs: `group_id` (hex), `sender_id` (string), and per sender key `keys[k]`: `key_id` (u32),
 * `chain_key` (32 bytes hex), `signing_seed` (32 bytes hex, the Ed25519 seed) and
 * `messages[m].plaintext` (hex). keys[1] is the same sender's key after a rotation.
 * Outputs: per key `signing_public`, `distribution` (at iteration 0) and `distribution_after`
 * (after its messages); per message, sent in order from iteration 0, every intermediate value of
 * §7.2 and §7.4, and the message. As a self-check, a receiver built from the distribution decrypts
 * each message.
 */
import { bytesEqual, toHex, utf8 } from "../bytes.js";
import { CodecError, InternalError, UsageError } from "../errors.js";
import { pad } from "../padding.js";
import { ED25519_SIGNATURE_BYTES } from "../primitives.js";
import { replayRng, seededRng } from "../rng.js";
import {
  SENDER_CHAIN_KEY_BYTES,
  SENDER_HEADER_BYTES,
  type SenderKeyContext,
  type SenderKeyOwnState,
  createSenderKey,
  distributionMessage,
  parseDistribution,
  rotateSenderKey,
  senderChainStep,
  senderDecrypt,
  senderEncrypt,
  senderMessageAd,
  senderMessageHeader,
  senderMessageKeys,
} from "../sender-keys.js";
import { Inputs } from "./inputs.js";
import type { VectorSuite } from "./suite.js";

const FILE = "sender-keys.json";

const DESCRIPTION =
  "Group messages with sender keys. Per key: the sender key built from key_id, chain_key and signing_seed at iteration 0, " +
  "its 73-byte distribution message, then its messages in order: " +
  'message_key = HMAC-SHA256(chain_key, "SMSG-v1 sender chain message key"), ' +
  'chain_key_after = HMAC-SHA256(chain_key, "SMSG-v1 sender chain next key"), aead_key || nonce = HKDF-SHA256(ikm = message_key, ' +
  'salt = 32 zero bytes, info = "SMSG-v1 sender message keys", 56), header = 0x01 || u32be(key_id) || u32be(iteration), ' +
  "associated_data = u32be(len group_id) || group_id || u32be(len sender_id) || utf8(sender_id) || header, " +
  "ciphertext = XChaCha20-Poly1305(aead_key, nonce, plaintext, associated_data), signature = Ed25519(signing_seed, " +
  '"SMSG-v1 sender key message" || associated_data || ciphertext), message = header || ciphertext || signature. ' +
  "distribution_after is the distribution message after the last message. keys[1] is the same sender's key after a rotation.";

function selfCheck(ok: boolean, what: string): void {
  if (!ok) throw new InternalError(`sender-key vectors: self-check failed: ${what}`);
}

function computeKey(k: Inputs, context: SenderKeyContext): Record<string, unknown> {
  const keyId = k.u32("key_id");
  const chainKey = k.hex("chain_key", SENDER_CHAIN_KEY_BYTES);
  const signingSeed = k.hex("signing_seed", 32);
  const plaintexts = k.list("messages").map((m) => m.hex("plaintext"));

  // createSenderKey draws the chain key, then the signing seed (§7.1).
  let state: SenderKeyOwnState = createSenderKey(replayRng([chainKey, signingSeed]), keyId);
  const distribution = distributionMessage(state);
  let receiver = parseDistribution(distribution);
  const messages = plaintexts.map((plaintext) => {
    const iteration = state.iteration;
    const step = senderChainStep(state.chainKey);
    const keys = senderMessageKeys(step.messageKey);
    const header = senderMessageHeader(state.keyId, iteration);
    const ad = senderMessageAd(context, header);
    const sent = senderEncrypt(state, context, plaintext);
    const message = sent.message;
    selfCheck(bytesEqual(message.subarray(0, SENDER_HEADER_BYTES), header), "header");
    selfCheck(bytesEqual(sent.state.chainKey, step.nextChainKey), "next chain key");
    const received = senderDecrypt(receiver, context, message);
    selfCheck(bytesEqual(received.plaintext, plaintext), "a receiver decrypts");
    receiver = received.state;
    state = sent.state;
    return {
      plaintext: toHex(plaintext),
      iteration,
      message_key: toHex(step.messageKey),
      aead_key: toHex(keys.key),
      nonce: toHex(keys.nonce),
      header: toHex(header),
      associated_data: toHex(ad),
      ciphertext: toHex(message.subarray(SENDER_HEADER_BYTES, message.length - ED25519_SIGNATURE_BYTES)),
      signature: toHex(message.subarray(message.length - ED25519_SIGNATURE_BYTES)),
      message: toHex(message),
      chain_key_after: toHex(step.nextChainKey),
    };
  });
  return {
    key_id: keyId,
    chain_key: toHex(chainKey),
    signing_seed: toHex(signingSeed),
    signing_public: toHex(state.signing.publicKey),
    distribution: toHex(distribution),
    messages,
    distribution_after: toHex(distributionMessage(state)),
  };
}

/** The sender-key vector suite (SECURITY.md §7). */
export const senderKeyVectors: VectorSuite = {
  file: FILE,

  /** Recomputes sender-keys.json from its inputs. Throws CodecError naming a missing or malformed input. */
  recompute(file: unknown) {
    const f = new Inputs(file, FILE);
    const groupId = f.hex("group_id");
    const senderId = f.string("sender_id");
    const context: SenderKeyContext = { groupId, senderId };
    let keys: Record<string, unknown>[];
    try {
      senderMessageAd(context, new Uint8Array(0)); // validates the context
      keys = f.list("keys").map((k) => computeKey(k, context));
    } catch (e) {
      // A context the protocol refuses (empty or over-long ids, ill-formed sender_id) is a malformed input.
      if (e instanceof UsageError) throw new CodecError(`${FILE}: ${e.message}`);
      throw e;
    }
    return {
      suite: "sender-keys",
      description: DESCRIPTION,
      spec: "SECURITY.md §7 (sender keys)",
      group_id: toHex(groupId),
      sender_id: senderId,
      keys,
    };
  },

  /** The fixed inputs, drawn from seededRng("SMSG-v1 vectors sender keys"): group id, a sender key, its rotation. */
  generate() {
    const rng = seededRng(utf8("SMSG-v1 vectors sender keys"));
    const groupId = rng(16);
    const first = createSenderKey(rng);
    const rotated = rotateSenderKey(rng, first);
    const inputs = (s: SenderKeyOwnState, plaintexts: Uint8Array[]) => ({
      key_id: s.keyId,
      chain_key: toHex(s.chainKey),
      signing_seed: toHex(s.signing.privateKey.subarray(0, 32)),
      messages: plaintexts.map((p) => ({ plaintext: toHex(p) })),
    });
    return this.recompute({
      group_id: toHex(groupId),
      sender_id: "alice",
      keys: [
        inputs(first, [pad(utf8("hello, group")), pad(utf8("second message")), new Uint8Array(0), rng(45)]),
        inputs(rotated, [pad(utf8("bob has left; new sender key")), pad(utf8("still here"))]),
      ],
    });
  },
};
