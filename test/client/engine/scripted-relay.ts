/**
 * A relay connection for unit tests of one request sequence: each request is answered by the
 * script's handler for its type (a reply, or a thrown RemoteError), and every request is
 * recorded. A type the script has no handler for fails the test's request loudly.
 */
import { RemoteError } from "../../../src/errors.js";

/** One recorded request: its type and fields. */
export type Recorded = { readonly t: string } & Record<string, unknown>;

/** Answers for request types: a reply's fields (without `t`/`id`), or throws. */
export type Script = Record<string, (req: Recorded) => Record<string, unknown>>;

/** A connection that answers by `script`, with a fixed handshake hash. */
export function scriptedRelay(script: Script, handshakeHash: Uint8Array = new Uint8Array(32).fill(7)) {
  const requests: Recorded[] = [];
  return {
    requests,
    handshakeHash,
    // The engine's calls are typed by the wire catalogue; the script answers loosely.
    request: (async (msg: Recorded) => {
      requests.push(msg);
      const answer = script[msg.t];
      if (!answer) throw new Error(`the script has no answer for ${msg.t}`);
      return { id: requests.length, ...answer(msg) };
    }) as never,
  };
}

/** A handler that refuses with `code`. */
export function refuse(code: ConstructorParameters<typeof RemoteError>[0]): () => never {
  return () => {
    throw new RemoteError(code, `refused with ${code}`);
  };
}
