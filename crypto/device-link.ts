/**
 * Device linking (SECURITY.md §17.6): the key exchange between an existing device of an
 * account ("existing", which ran `smsg device link`) and a new machine ("new", which ran
 * `smsg device add LINK`), through the relay as a mailbox. The link carries a one-time secret;
 * the two devices then agree on a key by X25519, the new one committing to its key before it
 * sees the existing one's, so that a short code shown on both screens authenticates the
 * exchange even against someone who holds the link and runs the relay. Only after the user
 * confirms the code on the existing device does it send the account key (the grant).
 */
import { Reader, bytesEqual, concat, u32be, utf8 } from "./bytes.js";
import { type DeviceEntry, checkDeviceId } from "./device-certificate.js";
import { type DeviceList, decodeDeviceList, verifyDeviceList } from "./device-list.js";
import { CodecError, CryptoVerificationError, UsageError } from "./errors.js";
import { type IdentityPublic, decodeIdentityPublic, encodeIdentityPublic, identityKey } from "./identity.js";
import { label } from "./labels.js";
import {
  XCHACHA_NONCE_BYTES,
  blake2b,
  ed25519FromSeed,
  hkdfSha256,
  sha256,
  x25519,
  xchachaDecrypt,
  xchachaEncrypt,
} from "./primitives.js";
import type { Rng } from "./rng.js";

export const LINK_ID_BYTES = 16;
export const LINK_SECRET_BYTES = 32;
/** How long a link stays open at the relay and on the existing device (§17.6). */
export const LINK_LIFETIME_MS = 5 * 60 * 1000;
/** Bytes of the account key hash the link carries (§17.6): BLAKE2b-160, the account's fingerprint. */
export const LINK_ACCOUNT_HASH_BYTES = 20;
/** Digits of the confirmation code. */
export const LINK_CODE_DIGITS = 6;
/** Longest device name, in UTF-8 bytes (§17.6 message 4). */
export const MAX_DEVICE_NAME_BYTES = 64;
/**
 * Longest account-state snapshot (§17.6.1), in a grant and in a §18 backup alike: 60 KiB, so a
 * grant fits one 64 KiB relay message.
 */
export const MAX_ACCOUNT_STATE_BYTES = 60 * 1024;

/** The five link messages, by their type byte (§17.6). */
export const LINK_MESSAGE = Object.freeze({
  commit: 1,
  existingKey: 2,
  newKey: 3,
  deviceHello: 4,
  grant: 5,
});
export type LinkMessageType = (typeof LINK_MESSAGE)[keyof typeof LINK_MESSAGE];

function need(b: Uint8Array, n: number, what: string): void {
  if (!(b instanceof Uint8Array) || b.length !== n) throw new UsageError(`${what} must be ${n} bytes`);
}

/**
 * account_hash = BLAKE2b-160(account identity_key) (§17.6): the existing device puts it into the
 * link, and the new device accepts a grant only for the account key it names, so whoever answers
 * the new device (a holder of a leaked link, or the relay) cannot enrol it into another account.
 */
export function linkAccountHash(account: IdentityPublic): Uint8Array {
  return blake2b(identityKey(account), LINK_ACCOUNT_HASH_BYTES);
}

/** K_mailbox = HKDF(ikm = link secret, salt = link id, info = L("SMSG-v1 device link mailbox"), 32). */
export function linkMailboxKey(linkSecret: Uint8Array, linkId: Uint8Array): Uint8Array {
  need(linkSecret, LINK_SECRET_BYTES, "link secret");
  need(linkId, LINK_ID_BYTES, "link id");
  return hkdfSha256(linkSecret, linkId, label("deviceLinkMailbox"), 32);
}

/** commitment = SHA-256(L("SMSG-v1 device link commit") || link id || LN). */
export function linkCommitment(linkId: Uint8Array, newPublic: Uint8Array): Uint8Array {
  need(linkId, LINK_ID_BYTES, "link id");
  need(newPublic, 32, "link public key");
  return sha256(concat(label("deviceLinkCommit"), linkId, newPublic));
}

/** th = SHA-256(L("SMSG-v1 device link transcript") || link id || commitment || LE || LN). */
export function linkTranscriptHash(
  linkId: Uint8Array,
  commitment: Uint8Array,
  existingPublic: Uint8Array,
  newPublic: Uint8Array,
): Uint8Array {
  need(linkId, LINK_ID_BYTES, "link id");
  need(commitment, 32, "commitment");
  need(existingPublic, 32, "link public key");
  need(newPublic, 32, "link public key");
  return sha256(concat(label("deviceLinkTranscript"), linkId, commitment, existingPublic, newPublic));
}

/** What both sides derive once they hold each other's link key. */
export interface LinkKeys {
  /** The X25519 output. */
  readonly dh: Uint8Array;
  readonly transcript: Uint8Array;
  /** K_link: seals messages 4 and 5. */
  readonly key: Uint8Array;
  /** The code both devices show, LINK_CODE_DIGITS decimal digits. */
  readonly code: string;
}

/**
 * §17.6: dh = X25519(own link private key, peer's link public key);
 * K_link = HKDF(ikm = dh, salt = link secret, info = L("SMSG-v1 device link key") || th, 32);
 * code = u64be(HKDF(ikm = dh, salt = link secret, info = L("SMSG-v1 device link code") || th, 8)) mod 10^6,
 * six digits with leading zeros. Throws CryptoVerificationError for an all-zero dh (§2).
 */
export function deriveLinkKeys(args: {
  readonly linkId: Uint8Array;
  readonly linkSecret: Uint8Array;
  readonly ownPrivate: Uint8Array;
  readonly existingPublic: Uint8Array;
  readonly newPublic: Uint8Array;
  readonly peerPublic: Uint8Array;
}): LinkKeys {
  need(args.linkSecret, LINK_SECRET_BYTES, "link secret");
  const commitment = linkCommitment(args.linkId, args.newPublic);
  const transcript = linkTranscriptHash(args.linkId, commitment, args.existingPublic, args.newPublic);
  const dh = x25519(args.ownPrivate, args.peerPublic);
  const key = hkdfSha256(dh, args.linkSecret, concat(label("deviceLinkKey"), transcript), 32);
  const codeBytes = hkdfSha256(dh, args.linkSecret, concat(label("deviceLinkCode"), transcript), 8);
  const n = new DataView(codeBytes.buffer, codeBytes.byteOffset, 8).getBigUint64(0, false) % 1_000_000n;
  return { dh, transcript, key, code: n.toString().padStart(LINK_CODE_DIGITS, "0") };
}

/** ad = L("SMSG-v1 device link message") || link id || u8(type). */
export function linkMessageAd(linkId: Uint8Array, type: LinkMessageType): Uint8Array {
  need(linkId, LINK_ID_BYTES, "link id");
  return concat(label("deviceLinkMessage"), linkId, new Uint8Array([type]));
}

/** `u8(type) || nonce (24) || AEAD(key, nonce, body, ad)`; the nonce is 24 bytes of `rng`. */
export function sealLinkMessage(
  key: Uint8Array,
  linkId: Uint8Array,
  type: LinkMessageType,
  body: Uint8Array,
  rng: Rng,
): Uint8Array {
  const nonce = rng(XCHACHA_NONCE_BYTES);
  return concat(new Uint8Array([type]), nonce, xchachaEncrypt(key, nonce, body, linkMessageAd(linkId, type)));
}

/**
 * Opens a link message of the expected type. Throws CryptoVerificationError ("could not
 * decrypt", §2) for another type, a message under 1 + 24 + 16 bytes or a failing tag.
 */
export function openLinkMessage(
  key: Uint8Array,
  linkId: Uint8Array,
  expected: LinkMessageType,
  message: Uint8Array,
): Uint8Array {
  if (message.length < 1 + XCHACHA_NONCE_BYTES + 16 || message[0] !== expected) throw new CryptoVerificationError();
  const nonce = message.slice(1, 1 + XCHACHA_NONCE_BYTES);
  return xchachaDecrypt(key, nonce, message.slice(1 + XCHACHA_NONCE_BYTES), linkMessageAd(linkId, expected));
}

/**
 * The existing device, on opening message 3: the revealed key must match the commitment of
 * message 1. Throws CryptoVerificationError otherwise (the link is then dead: §17.6).
 */
export function checkLinkCommitment(linkId: Uint8Array, commitment: Uint8Array, newPublic: Uint8Array): void {
  if (!bytesEqual(linkCommitment(linkId, newPublic), commitment)) throw new CryptoVerificationError();
}

/** Message 4: the new device's IdentityPublic (128) || u8(len(name)) || name (UTF-8, 0..64 bytes). */
export interface DeviceHello {
  readonly device: IdentityPublic;
  readonly name: string;
}

function nameBytes(name: string): Uint8Array {
  const b = utf8(name);
  if (new TextDecoder().decode(b) !== name || b.length > MAX_DEVICE_NAME_BYTES)
    throw new UsageError(`a device name is well-formed Unicode of at most ${MAX_DEVICE_NAME_BYTES} bytes`);
  return b;
}

export function encodeDeviceHello(hello: DeviceHello): Uint8Array {
  const name = nameBytes(hello.name);
  return concat(encodeIdentityPublic(hello.device), new Uint8Array([name.length]), name);
}

/** Throws CodecError for a wrong layout or a name over 64 bytes or not UTF-8; CryptoVerificationError for a bad identity (§4.1). */
export function decodeDeviceHello(body: Uint8Array): DeviceHello {
  const r = new Reader(new Uint8Array(body), "device hello");
  const identityBytes = r.bytes(128);
  const n = r.u8();
  if (n > MAX_DEVICE_NAME_BYTES) throw new CodecError("device hello: name too long");
  const raw = r.bytes(n);
  r.end();
  const name = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  let text: string;
  try {
    text = name.decode(raw);
  } catch {
    throw new CodecError("device hello: name is not UTF-8");
  }
  return { device: decodeIdentityPublic(identityBytes), name: text };
}

/**
 * Message 5, the grant: account IdentityPublic (128) || account signing seed (32) ||
 * u32be(device id) || u16be(len(list)) || device list (§17.3) || u32be(len(state)) || state.
 * `state` is the account-state snapshot of §17.6.1 (opaque here; may be empty).
 */
export interface LinkGrant {
  readonly account: IdentityPublic;
  readonly accountSigningSeed: Uint8Array;
  readonly deviceId: number;
  readonly deviceList: Uint8Array;
  readonly state: Uint8Array;
}

export function encodeLinkGrant(grant: LinkGrant): Uint8Array {
  need(grant.accountSigningSeed, 32, "account signing seed");
  checkDeviceId(grant.deviceId);
  if (grant.deviceList.length > 0xffff) throw new UsageError("device list too long");
  if (grant.state.length > MAX_ACCOUNT_STATE_BYTES) throw new UsageError("account state too long for a grant");
  const len16 = new Uint8Array([grant.deviceList.length >>> 8, grant.deviceList.length & 0xff]);
  return concat(
    encodeIdentityPublic(grant.account),
    grant.accountSigningSeed,
    u32be(grant.deviceId),
    len16,
    grant.deviceList,
    u32be(grant.state.length),
    grant.state,
  );
}

/** The grant as the new device accepts it. */
export interface AcceptedGrant {
  readonly grant: LinkGrant;
  readonly list: DeviceList;
  readonly entry: DeviceEntry;
}

/** What the new device knows from the link itself (§17.6): the account's name and key hash. */
export interface LinkAccount {
  readonly username: string;
  /** linkAccountHash of the account IdentityPublic, from the link. */
  readonly accountHash: Uint8Array;
}

/**
 * The new device's checks of message 5, all before it stores anything (§17.6), which it opens
 * only after its user confirmed the code: the layout; the account identity (§4.1) is the one
 * the link's account hash names; the seed's Ed25519 key is the account's signing key; the list
 * (§17.3) verifies under the account key, names the link's username, and holds `deviceId`
 * with exactly this device's identity. Throws CodecError for a layout error,
 * CryptoVerificationError for any failed check.
 */
export function acceptLinkGrant(body: Uint8Array, link: LinkAccount, ownDevice: IdentityPublic): AcceptedGrant {
  need(link.accountHash, LINK_ACCOUNT_HASH_BYTES, "link account hash");
  const username = link.username;
  const r = new Reader(new Uint8Array(body), "link grant");
  const accountBytes = r.bytes(128);
  const accountSigningSeed = r.bytes(32);
  const deviceId = r.u32();
  const deviceList = r.bytes(r.u16());
  const stateLength = r.u32();
  if (stateLength > MAX_ACCOUNT_STATE_BYTES) throw new CodecError("link grant: account state too long");
  const state = r.bytes(stateLength);
  r.end();
  const account = decodeIdentityPublic(accountBytes);
  if (!bytesEqual(linkAccountHash(account), link.accountHash))
    throw new CryptoVerificationError("the linking device sent another account's key than the link names");
  if (!bytesEqual(ed25519FromSeed(accountSigningSeed).publicKey, account.signingKey))
    throw new CryptoVerificationError("the linking device sent a key that is not the account's");
  const list = decodeDeviceList(deviceList);
  const verdict = verifyDeviceList(identityKey(account), deviceList, list);
  if (!verdict.ok || list.username !== username) throw new CryptoVerificationError("the device list does not verify");
  const entry = list.devices.find((d) => d.id === deviceId);
  if (
    !entry ||
    !bytesEqual(entry.identity.signingKey, ownDevice.signingKey) ||
    !bytesEqual(entry.identity.dhKey, ownDevice.dhKey)
  )
    throw new CryptoVerificationError("the device list does not hold this device");
  return { grant: { account, accountSigningSeed, deviceId, deviceList, state }, list, entry };
}
