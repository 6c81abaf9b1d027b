/** The client's protocol layer inside end-to-end encryption (SECURITY.md §15). Re-exports only. */
export * from "./app-message.js";
export * from "./arrival.js";
export * from "./group-state.js";
export * from "./sequence.js";
export * from "./text-rules.js";
