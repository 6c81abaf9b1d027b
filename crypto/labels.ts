/**
 * Every context label SocketMessenger feeds into a KDF, MAC or signature, in one place, so no
 * value made for one purpose is ever accepted for another (SECURITY.md §3 lists them).
 * A label is the ASCII bytes of the string, no terminator. Changing one changes the protocol:
 * bump "v1" and regenerate test/vectors/.
 */
import { utf8 } from "./bytes.js";

export const LABELS = {
  /** Ed25519 signature by the identity key over its own X25519 key (§4.1). */
  identityDhKey: "SMSG-v1 identity dh key",
  /** Ed25519 signature by the identity key over a signed prekey (§4.2). */
  signedPrekey: "SMSG-v1 signed prekey",
  /** HKDF info of the X3DH shared secret (§5). */
  x3dh: "SMSG-v1 X3DH",
  /** HKDF info of the Double Ratchet root KDF, KDF_RK (§6.2). */
  ratchetRoot: "SMSG-v1 ratchet root",
  /** HMAC input deriving a message key from a 1:1 chain key, KDF_CK (§6.2). */
  chainMessageKey: "SMSG-v1 chain message key",
  /** HMAC input deriving the next 1:1 chain key, KDF_CK (§6.2). */
  chainNextKey: "SMSG-v1 chain next key",
  /** HKDF info expanding a 1:1 message key into AEAD key and nonce (§6.3). */
  messageKeys: "SMSG-v1 message keys",
  /** HMAC input deriving a message key from a sender-key chain (§7). */
  senderChainMessageKey: "SMSG-v1 sender chain message key",
  /** HMAC input deriving the next sender-key chain key (§7). */
  senderChainNextKey: "SMSG-v1 sender chain next key",
  /** HKDF info expanding a sender-key message key into AEAD key and nonce (§7). */
  senderMessageKeys: "SMSG-v1 sender message keys",
  /** Ed25519 signature by a member's per-group signing key over a group message (§7). */
  senderMessageSignature: "SMSG-v1 sender key message",
  /** Ed25519 signature by the identity key over the Noise handshake hash: login and join (§10.4). */
  relayLogin: "SMSG-v1 relay login",
  /** Ed25519 signed-message prefix of a group state announced by an admin (§15.4). */
  groupState: "SMSG-v1 group state",
  /** AEAD associated-data prefix of the wrapped profile data key in key.json (§16.1). */
  keystore: "SMSG-v1 keystore",
  /** HKDF info deriving the key that seals the client store's secret columns (§16.2). */
  storeColumnKey: "SMSG-v1 store column key",
  /** HKDF info deriving the key of the client store's chat-name index (§16.2). */
  storeNameIndex: "SMSG-v1 store name index",
  /** Ed25519 signed-message prefix of a device certificate, signed by the account key (§17.2). */
  deviceCertificate: "SMSG-v1 device certificate",
  /** Ed25519 signed-message prefix of a device list, signed by the account key (§17.3). */
  deviceList: "SMSG-v1 device list",
  /** SHA-256 input of the new device's commitment to its link key (§17.6). */
  deviceLinkCommit: "SMSG-v1 device link commit",
  /** HKDF info of the key that seals the first three link messages, from the link secret (§17.6). */
  deviceLinkMailbox: "SMSG-v1 device link mailbox",
  /** SHA-256 input of the link transcript hash (§17.6). */
  deviceLinkTranscript: "SMSG-v1 device link transcript",
  /** HKDF info of the key that seals the last two link messages, from the link DH (§17.6). */
  deviceLinkKey: "SMSG-v1 device link key",
  /** HKDF info of the confirmation code both devices show (§17.6). */
  deviceLinkCode: "SMSG-v1 device link code",
  /** AEAD associated-data prefix of every link message (§17.6). */
  deviceLinkMessage: "SMSG-v1 device link message",
  /** SHA-256 input binding an account passphrase's Argon2id salt to relay, username and stored salt (§18.2). */
  passphraseSalt: "SMSG-v1 passphrase salt",
  /** HKDF info deriving the account backup's AEAD key from the passphrase's Argon2id output (§18.2). */
  passphraseBackupKey: "SMSG-v1 passphrase backup key",
  /** HKDF info deriving the Ed25519 login key seed from the passphrase's Argon2id output (§18.2). */
  passphraseLoginKey: "SMSG-v1 passphrase login key",
  /** AEAD associated-data prefix of the account backup the relay stores (§18.3). */
  accountBackup: "SMSG-v1 account backup",
  /** Ed25519 signed-message prefix of a passphrase login over the Noise handshake hash (§18.4). */
  passphraseLoginProof: "SMSG-v1 passphrase login proof",
  /** HKDF info of the relay's decoy salt and login key for a name without a passphrase (§18.5). */
  passphraseDecoy: "SMSG-v1 passphrase decoy",
  /** Iterated hash input of a safety-number fingerprint (§9). */
  safetyNumber: "SMSG-v1 safety number",
  /** Block input of the deterministic RNG used for vectors and tests (§11). */
  seededRng: "SMSG-v1 seeded rng",
} as const;

export type LabelName = keyof typeof LABELS;

/** The bytes of a label. */
export function label(name: LabelName): Uint8Array {
  return utf8(LABELS[name]);
}
