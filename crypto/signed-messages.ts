/**
 * The bytes each Ed25519 signature of the protocol covers, in one place, so that every place
 * that checks a signature builds them the same way and checks them with the same strict
 * verification (`ed25519Verify`, SECURITY.md §2). The places: the identity's dh-key signature
 * (§4.1), the signed prekey (§4.2), sender-key messages (§7.4, built in sender-keys.ts as
 * `senderSignatureInput`), group states (§15.4.1), the relay login (§10.4) and the passphrase
 * login (§18.4).
 * test/vectors/signatures.json holds cases that must be rejected at each of them.
 */
import { concat, u32be, utf8 } from "./bytes.js";
import { UsageError } from "./errors.js";
import { label } from "./labels.js";

/** §4.1: L("SMSG-v1 identity dh key") || IDK. */
export function identityDhKeyMessage(dhKey: Uint8Array): Uint8Array {
  return concat(label("identityDhKey"), dhKey);
}

/** §4.2: L("SMSG-v1 signed prekey") || u32be(id) || SPK. Throws UsageError for an id that is not a u32. */
export function signedPrekeyMessage(id: number, publicKey: Uint8Array): Uint8Array {
  return concat(label("signedPrekey"), u32be(id), publicKey);
}

/** §10.4: L("SMSG-v1 relay login") || h, the Noise handshake hash of the connection. */
export function relayLoginMessage(handshakeHash: Uint8Array): Uint8Array {
  return concat(label("relayLogin"), handshakeHash);
}

/**
 * §18.4: L("SMSG-v1 passphrase login proof") || h || u32be(len(utf8(username))) || utf8(username),
 * h being the connection's Noise handshake hash.
 */
export function passphraseLoginMessage(handshakeHash: Uint8Array, username: string): Uint8Array {
  return concat(label("passphraseLoginProof"), handshakeHash, field(username));
}

/** What a group state signature covers (§15.4.1): a group_state message without v, k and signature. */
export interface GroupStateFields {
  readonly chat: number;
  readonly epoch: number;
  readonly name: string;
  readonly members: readonly string[];
  readonly admins: readonly string[];
  readonly by: string;
  readonly ts: number;
}

/** u64be of a safe non-negative integer (chat ids and times are uint53). */
function u64be(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`not a uint53: ${n}`);
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n), false);
  return out;
}

/** u32be(len(utf8(s))) || utf8(s). */
function field(s: string): Uint8Array {
  const b = utf8(s);
  return concat(u32be(b.length), b);
}

/** u32be(count) || each name as a field. */
function nameList(names: readonly string[]): Uint8Array {
  return concat(u32be(names.length), ...names.map(field));
}

/**
 * §15.4.1: `L("SMSG-v1 group state") || u64be(chat) || u32be(epoch) || field(name) ||
 * list(members) || list(admins) || field(by) || u64be(ts)`, where `field(s) =
 * u32be(len(utf8(s))) || utf8(s)` and `list(xs) = u32be(count) || field(x)…` in the given
 * (ascending) order. Throws UsageError for an integer out of range.
 */
export function groupStateSignedBytes(state: GroupStateFields): Uint8Array {
  return concat(
    label("groupState"),
    u64be(state.chat),
    u32be(state.epoch),
    field(state.name),
    nameList(state.members),
    nameList(state.admins),
    field(state.by),
    u64be(state.ts),
  );
}
