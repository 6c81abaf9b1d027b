/** The Noise transport (Noise Protocol Framework, revision 34): re-exports only. */
export * from "./noise-hash.js";
export * from "./noise-cipher-state.js";
export * from "./noise-symmetric-state.js";
export * from "./noise-patterns.js";
export * from "./noise-protocol.js";
export * from "./noise-handshake.js";
