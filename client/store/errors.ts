/**
 * The errors of the local store, SmsgErrors with stable codes (src/errors.ts). Local only: the
 * relay never sends them. A CHAT argument that names nothing or several chats, a store created
 * by a newer client, a data key that does not belong to the store.
 */
import { SmsgError } from "../../src/errors.js";

/** No chat matches a CHAT argument (an id, a name or a direct chat's other member). */
export class ChatNotFoundError extends SmsgError {
  constructor(arg: string) {
    super("CHAT_NOT_FOUND", `no chat named "${arg}": give a chat id, a chat name or the other member of a direct chat`);
  }
}

/** A CHAT argument matches more than one chat; `ids` lists them so the user can pick by id. */
export class AmbiguousChatError extends SmsgError {
  readonly ids: readonly number[];
  /** `message` replaces the default sentence. */
  constructor(arg: string, ids: readonly number[], message?: string) {
    super("CHAT_AMBIGUOUS", message ?? `"${arg}" matches several chats (ids ${ids.join(", ")}): use the chat id`);
    this.ids = ids;
  }
}

/** The store's schema is newer than this client knows: a newer client wrote it. */
export class StoreTooNewError extends SmsgError {
  constructor(found: number, known: number) {
    super(
      "STORE_TOO_NEW",
      `this profile was written by a newer SocketMessenger (schema ${found}, this one knows ${known}): upgrade`,
    );
  }
}

/** The data key does not open this store: key.json and store.sqlite do not belong together. */
export class StoreKeyMismatchError extends SmsgError {
  constructor() {
    super(
      "STORE_KEY_MISMATCH",
      "the profile's key does not open its store: key.json and store.sqlite do not belong together",
    );
  }
}
