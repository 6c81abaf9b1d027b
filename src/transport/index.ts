/** The Noise transport (Noise Protocol Framework, revision 34): re-exports only. */
export * from "./noise-hash.js";
export * from "./noise-cipher-state.js";
export * from "./noise-symmetric-state.js";
export * from "./noise-patterns.js";
export * from "./noise-protocol.js";
export * from "./noise-handshake.js";
export * from "./record-codec.js";
export * from "./secure-session.js";
export * from "./relay-handshake.js";
export * from "./noise-connection.js";
export * from "./errors.js";
