/** The client's local store (client-store.ts documents it). Re-exports only. */
export { BUSY_TIMEOUT_MS, ClientStore, type ClientStoreOptions } from "./client-store.js";
export { AmbiguousChatError, ChatNotFoundError, StoreKeyMismatchError, StoreTooNewError } from "./errors.js";
export { foldChatName } from "./chats.js";
export { MAX_HISTORY_PAGE } from "./messages.js";
export { IDEM_BYTES } from "./outbox.js";
export { MIGRATIONS, SCHEMA_VERSION, type Migration } from "./schema.js";
export {
  SEALED_OVERHEAD,
  STORE_COLUMN_KEY_LABEL,
  STORE_NAME_INDEX_LABEL,
  Sealer,
  type RowKey,
  sealedAd,
} from "./sealed.js";
export type * from "./types.js";
