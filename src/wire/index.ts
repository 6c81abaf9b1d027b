/** The wire protocol (SECURITY.md §14): frames, msgpack profile, schemas, message catalogue. Re-exports only. */
export * from "./limits.js";
export * from "./frame-decoder.js";
export * from "./msgpack.js";
export * from "./schema.js";
export * from "./username.js";
export * from "./messages.js";
export * from "./hot-frames.js";
export * from "./compact-frames.js";
