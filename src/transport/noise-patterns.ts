/**
 * Handshake patterns as token lists (Noise Protocol Framework, revision 34, §7) and the psk
 * modifier (§9.2). Only the patterns SocketMessenger needs or checks against vectors: NK, IK, XX.
 */
import { UsageError } from "../../crypto/errors.js";

/** A message token (Noise §7.1 and §9.2). */
export type NoiseToken = "e" | "s" | "ee" | "es" | "se" | "ss" | "psk";
/** A pre-message token (Noise §7.1): only public keys can be known in advance. */
export type NoisePreToken = "e" | "s";

/** A handshake pattern (Noise §7.1): pre-messages, then messages alternating from the initiator. */
export interface HandshakePattern {
  /** The pattern name with its modifiers, as it appears in a protocol name (e.g. "NKpsk0"). */
  readonly name: string;
  /** Public keys of the initiator the responder knows in advance (`-> s` above the "..."). */
  readonly initiatorPreMessage: readonly NoisePreToken[];
  /** Public keys of the responder the initiator knows in advance (`<- s` above the "..."). */
  readonly responderPreMessage: readonly NoisePreToken[];
  /** Message i goes from the initiator when i is even, from the responder when it is odd. */
  readonly messages: readonly (readonly NoiseToken[])[];
}

/** The fundamental patterns implemented here (Noise §7.4 for NK, IK, XX). */
export const BASE_PATTERNS: Readonly<Record<string, HandshakePattern>> = Object.freeze({
  // NK:  <- s  ...  -> e, es   <- e, ee
  NK: {
    name: "NK",
    initiatorPreMessage: [],
    responderPreMessage: ["s"],
    messages: [
      ["e", "es"],
      ["e", "ee"],
    ],
  },
  // IK:  <- s  ...  -> e, es, s, ss   <- e, ee, se
  IK: {
    name: "IK",
    initiatorPreMessage: [],
    responderPreMessage: ["s"],
    messages: [
      ["e", "es", "s", "ss"],
      ["e", "ee", "se"],
    ],
  },
  // XX:  -> e   <- e, ee, s, es   -> s, se
  XX: {
    name: "XX",
    initiatorPreMessage: [],
    responderPreMessage: [],
    messages: [["e"], ["e", "ee", "s", "es"], ["s", "se"]],
  },
});

/**
 * Applies pskN modifiers (Noise §9.2): psk0 puts a "psk" token at the start of the first
 * message, pskN (N ≥ 1) at the end of message N. Throws UsageError for a modifier that is not
 * pskN or names a message the pattern does not have.
 */
export function applyModifiers(base: HandshakePattern, modifiers: readonly string[]): HandshakePattern {
  const messages = base.messages.map((m) => [...m]);
  for (const mod of modifiers) {
    const match = /^psk(0|[1-9][0-9]*)$/.exec(mod);
    if (!match) throw new UsageError(`unsupported Noise pattern modifier: ${mod}`);
    const n = Number(match[1]);
    if (n === 0) {
      messages[0]!.unshift("psk");
    } else {
      const msg = messages[n - 1];
      if (msg === undefined) throw new UsageError(`modifier ${mod} names a message ${base.name} does not have`);
      msg.push("psk");
    }
  }
  return {
    name: base.name + modifiers.join("+"),
    initiatorPreMessage: base.initiatorPreMessage,
    responderPreMessage: base.responderPreMessage,
    messages,
  };
}

/**
 * The pattern for a pattern name with optional modifiers ("NK", "XXpsk3", "NKpsk0+psk2"),
 * per the naming rules of Noise §8. Throws UsageError for an unknown pattern or modifier.
 */
export function patternByName(name: string): HandshakePattern {
  const match = /^([A-Z][A-Z0-9]*)([a-z].*)?$/.exec(name);
  const baseName = match?.[1];
  const base = baseName === undefined ? undefined : BASE_PATTERNS[baseName];
  if (base === undefined) throw new UsageError(`unsupported Noise handshake pattern: ${name}`);
  const modifiers = match?.[2] === undefined ? [] : match[2].split("+");
  return applyModifiers(base, modifiers);
}

/** Whether a pattern uses PSKs, which makes the "e" token also call MixKey (Noise §9.2). */
export function isPskPattern(p: HandshakePattern): boolean {
  return p.messages.some((m) => m.includes("psk"));
}
