/**
 * Crypto core throughput on this machine: Double Ratchet encrypt+decrypt of a 200-byte message,
 * X3DH agreements (both sides), sender-key encrypt (and decrypt). Single-threaded.
 *
 *   npm run build && node dist/bench/crypto.js [--seconds 2] [--json]
 *
 * Results go to bench/RESULTS.md with the command that produced them.
 */
import { utf8 } from "../crypto/bytes.js";
import { generateIdentity } from "../crypto/identity.js";
import { bundleOf, generateOneTimePrekeys, generateSignedPrekey } from "../crypto/prekeys.js";
import { ratchetDecrypt, ratchetEncrypt, ratchetInitInitiator, ratchetInitResponder } from "../crypto/ratchet.js";
import {
  createSenderKey,
  distributionMessage,
  parseDistribution,
  senderDecrypt,
  senderEncrypt,
} from "../crypto/sender-keys.js";
import { x3dhInitiate, x3dhRespond } from "../crypto/x3dh.js";
import { x25519KeyPair } from "../crypto/primitives.js";
import { systemRng as rng } from "../src/system-rng.js";

const args = process.argv.slice(2);
const seconds = Number(args[args.indexOf("--seconds") + 1] ?? 2) || 2;
const json = args.includes("--json");

/** Runs `op` repeatedly for `seconds` (after a short warm-up) and returns operations per second. */
function measure(name: string, op: () => void): { name: string; opsPerSecond: number; iterations: number } {
  const warmUntil = performance.now() + 200;
  while (performance.now() < warmUntil) op();
  let iterations = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  while (performance.now() < end) {
    for (let i = 0; i < 50; i++) op();
    iterations += 50;
  }
  const elapsed = (performance.now() - start) / 1000;
  return { name, opsPerSecond: Math.round(iterations / elapsed), iterations };
}

const message = new Uint8Array(200).fill(0x61);

// Double Ratchet, one direction (symmetric chain steps only) and ping-pong (a DH step per message).
function ratchetPair() {
  const sk = rng(32);
  const ad = rng(128);
  const bobKey = x25519KeyPair(rng);
  return {
    alice: ratchetInitInitiator(rng, sk, ad, bobKey.publicKey).state,
    bob: ratchetInitResponder(sk, ad, bobKey),
  };
}
const one = ratchetPair();
const oneWay = measure("double ratchet encrypt+decrypt, 200 B, same chain", () => {
  const e = ratchetEncrypt(one.alice, message);
  one.alice = e.state;
  one.bob = ratchetDecrypt(rng, one.bob, e.message).state;
});
const pp = ratchetPair();
pp.bob = ratchetDecrypt(rng, pp.bob, ratchetEncrypt(pp.alice, message).message).state;
let turn = 0;
const pingPong = measure("double ratchet encrypt+decrypt, 200 B, DH step every message", () => {
  if (turn++ % 2 === 0) {
    const e = ratchetEncrypt(pp.bob, message);
    pp.bob = e.state;
    pp.alice = ratchetDecrypt(rng, pp.alice, e.message).state;
  } else {
    const e = ratchetEncrypt(pp.alice, message);
    pp.alice = e.state;
    pp.bob = ratchetDecrypt(rng, pp.bob, e.message).state;
  }
});

// X3DH: the initiator verifies the bundle and computes 4 DHs; the responder computes 4 DHs.
const alice = generateIdentity(rng);
const bob = generateIdentity(rng);
const spk = generateSignedPrekey(rng, bob, 1);
const [opk] = generateOneTimePrekeys(rng, 1, 1);
const bundle = bundleOf(bob, spk, opk);
const x3dh = measure("X3DH agreement, both sides, with one-time prekey", () => {
  const init = x3dhInitiate(rng, alice, bundle);
  x3dhRespond(bob, spk, opk, alice.publicKey, init.ephemeral.publicKey);
});

// Sender keys: encrypt signs every message (Ed25519); decrypt verifies it.
let own = createSenderKey(rng);
const context = { groupId: utf8("bench-group"), senderId: "alice" };
const senderEnc = measure("sender-key encrypt, 200 B (with Ed25519 signature)", () => {
  own = senderEncrypt(own, context, message).state;
});
let ownForDec = createSenderKey(rng);
let receiver = parseDistribution(distributionMessage(ownForDec));
const senderDec = measure("sender-key encrypt+decrypt, 200 B", () => {
  const e = senderEncrypt(ownForDec, context, message);
  ownForDec = e.state;
  receiver = senderDecrypt(receiver, context, e.message).state;
});

const results = [oneWay, pingPong, x3dh, senderEnc, senderDec];
if (json) console.log(JSON.stringify({ node: process.version, seconds, results }));
else for (const r of results) console.log(`${r.name.padEnd(64)} ${String(r.opsPerSecond).padStart(8)} /s`);
