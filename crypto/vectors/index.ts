/** Every vector suite the project publishes in test/vectors/ (test/vectors/README.md describes them). */
import { deviceFanoutVectors } from "./device-fanout-vectors.js";
import { deviceLinkVectors } from "./device-link-vectors.js";
import { deviceListVectors } from "./device-list-vectors.js";
import { accountBackupVectors } from "./account-backup-vectors.js";
import { loginProofVectors } from "./login-proof-vectors.js";
import { envelopeVectors } from "./envelope-vectors.js";
import { paddingVectors } from "./padding-vectors.js";
import { ratchetCaseVectors } from "./ratchet-case-vectors.js";
import { ratchetVectors } from "./ratchet-vectors.js";
import { safetyNumberVectors } from "./safety-number-vectors.js";
import { signatureVectors } from "./signature-vectors.js";
import { senderKeyCaseVectors } from "./sender-key-case-vectors.js";
import { senderKeyVectors } from "./sender-key-vectors.js";
import { sessionVectors } from "./session-vectors.js";
import type { VectorSuite } from "./suite.js";
import { x3dhVectors } from "./x3dh-vectors.js";

export type { VectorImplementation, VectorSuite } from "./suite.js";
export { THIS_IMPLEMENTATION } from "./suite.js";
export { canonicalVectorText, firstDifference, verifyVectorText } from "./compare.js";

export const VECTOR_SUITES: readonly VectorSuite[] = [
  x3dhVectors,
  ratchetVectors,
  ratchetCaseVectors,
  sessionVectors,
  envelopeVectors,
  senderKeyVectors,
  senderKeyCaseVectors,
  signatureVectors,
  paddingVectors,
  safetyNumberVectors,
  deviceListVectors,
  deviceLinkVectors,
  deviceFanoutVectors,
  accountBackupVectors,
  loginProofVectors,
];

/**
 * The suite of a vector file among `suites`: by its "suite" field, else by its file name.
 * (`smsg vectors` passes these and the wire protocol's, which crypto/ cannot import.)
 */
export function suiteFor(
  fileName: string,
  text: string,
  suites: readonly VectorSuite[] = VECTOR_SUITES,
): VectorSuite | undefined {
  try {
    const parsed = JSON.parse(text) as { suite?: unknown };
    const byField = suites.find((s) => s.file === `${String(parsed.suite)}.json`);
    if (byField) return byField;
  } catch {
    // fall through to the file name; verify will report the JSON error
  }
  const base = fileName.split(/[\\/]/).pop();
  return suites.find((s) => s.file === base);
}
