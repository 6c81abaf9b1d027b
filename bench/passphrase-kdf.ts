/**
 * Cost of the account passphrase's key schedule (SECURITY.md §18.2) on this machine: one
 * derivePassphraseKeys at PASSPHRASE_ARGON2 (Argon2id t = 3, 256 MiB, then two HKDFs and an
 * Ed25519 key), alternated with one Argon2id at the profile passphrase's cost (§16.1, t = 3,
 * 64 MiB) so both see the same load. Prints the median and every run, in milliseconds.
 *
 *   npm run build && node dist/bench/passphrase-kdf.js [--runs 7] [--json]
 *
 * Results go to bench/RESULTS.md with the command that produced them.
 */
import { loadavg } from "node:os";
import { utf8 } from "../crypto/bytes.js";
import { PASSPHRASE_ARGON2, derivePassphraseKeys } from "../crypto/passphrase-kdf.js";
import { ARGON2_PROFILE, argon2id } from "../crypto/primitives.js";
import { systemRng as rng } from "../src/system-rng.js";
import { median } from "./median.js";

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf("--runs") + 1] ?? 7) || 7;
const json = args.includes("--json");

const ctx = { relayKey: rng(32), username: "alice", salt: rng(16) };
const passphrase = "mustang eagle winter orbit cactus velvet ladder";

function timed(op: () => void): number {
  const start = performance.now();
  op();
  return performance.now() - start;
}

const account: number[] = [];
const profile: number[] = [];
const load = [loadavg()[0]!];
for (let i = 0; i < runs; i++) {
  account.push(timed(() => derivePassphraseKeys(passphrase, ctx, PASSPHRASE_ARGON2)));
  profile.push(timed(() => argon2id(utf8(passphrase), rng(16), ARGON2_PROFILE)));
}
load.push(loadavg()[0]!);

const result = {
  runs,
  account: { params: PASSPHRASE_ARGON2, medianMs: Math.round(median(account)), allMs: account.map(Math.round) },
  profile: { params: ARGON2_PROFILE, medianMs: Math.round(median(profile)), allMs: profile.map(Math.round) },
  loadAverage1m: load.map((l) => Math.round(l * 100) / 100),
};
if (json) console.log(JSON.stringify(result));
else {
  console.log(
    `account passphrase (t=3, 256 MiB, full schedule): median ${result.account.medianMs} ms, runs ${result.account.allMs.join(", ")}`,
  );
  console.log(
    `profile passphrase (t=3, 64 MiB, Argon2id only):  median ${result.profile.medianMs} ms, runs ${result.profile.allMs.join(", ")}`,
  );
  console.log(`load average (1 min) before/after: ${result.loadAverage1m.join(" / ")}`);
}
