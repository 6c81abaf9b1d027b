/**
 * What the relay's answers to the passphrase requests of SECURITY.md §18.6 mean to the user. A
 * relay that does not serve them answers UNKNOWN_TYPE (§17.8: "never silence"); a relay from
 * before §18.5 also answers a request made before login NOT_AUTHENTICATED, which a relay that
 * serves §18.5 never does for `passphrase_salt` or `passphrase_login`. Both mean the relay must
 * be updated, exit code 19.
 */
import { RemoteError, SmsgError } from "../../src/errors.js";

/** What the relay does not serve: §18's passphrase log-in, or §17.8's devices. */
export type RelayFeature = "passphrase log-in" | "several devices";

/**
 * The relay does not serve passphrase log-in (SECURITY.md §18.6) or the device requests a
 * log-in ends with (§17.8). Code NOT_SUPPORTED (exit 19).
 */
export class PassphraseUnsupportedError extends SmsgError {
  constructor(feature: RelayFeature = "passphrase log-in", options?: { cause?: unknown }) {
    super("NOT_SUPPORTED", `this relay does not support ${feature} (update the relay)`, options);
  }
}

/**
 * `e` as PassphraseUnsupportedError when it is the relay saying it does not serve the request:
 * UNKNOWN_TYPE always, NOT_AUTHENTICATED when `beforeLogin` (the request is one §18.5 allows
 * before login); otherwise `e` itself.
 */
export function asPassphraseUnsupported(
  e: unknown,
  beforeLogin = false,
  feature: RelayFeature = "passphrase log-in",
): unknown {
  if (e instanceof RemoteError && (e.code === "UNKNOWN_TYPE" || (beforeLogin && e.code === "NOT_AUTHENTICATED")))
    return new PassphraseUnsupportedError(feature, { cause: e });
  return e;
}
