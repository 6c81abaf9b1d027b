/** The operating system's CSPRNG as an Rng: what the client and relay pass into crypto/. */
import { randomBytes } from "node:crypto";
import type { Rng } from "../crypto/rng.js";

export const systemRng: Rng = (n: number) => new Uint8Array(randomBytes(n));
