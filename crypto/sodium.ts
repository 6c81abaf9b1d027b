/**
 * Loads libsodium (the "sumo" build, which has SHA-256, HMAC-SHA256 and Argon2id) once.
 * Top-level await makes every function in crypto/ synchronous for its callers: importing
 * any crypto module waits for the WebAssembly module to be ready (~35 ms, once per process).
 */
import sodiumModule from "libsodium-wrappers-sumo";

await sodiumModule.ready;

/** The ready libsodium instance. Only crypto/primitives.ts should call it directly. */
export const sodium = sodiumModule;
