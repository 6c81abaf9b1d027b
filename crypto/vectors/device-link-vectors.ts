/**
 * test/vectors/device-link.json: one device link (SECURITY.md §17.6), every value of it, and
 * the new device's refusals of a changed exchange.
 *
 * Inputs: `username`, the account's `account_signing_seed` and `account_dh_private`, the new
 * device's `device_signing_seed`, `device_dh_private` and `device_name`, the `device_id` the
 * existing device gives it, `issued_ms` of the new list, `link_id`, `link_secret`, the two link
 * keys `existing_link_private` and `new_link_private`, the five nonces `nonce_1..5` and the
 * opaque account `state`. Outputs: the public keys, `mailbox_key`, `commitment`, `transcript`,
 * `dh`, `link_key`, the `code` as each side computes it, the device list (v2: devices 1 and
 * the new one), each message's body and sealed bytes, and `cases`: changes fixed by the suite,
 * each with the error the receiving side must give.
 */
import { concat, toHex, utf8 } from "../bytes.js";
import { certifyDevice } from "../device-certificate.js";
import {
  LINK_MESSAGE,
  type LinkMessageType,
  acceptLinkGrant,
  linkAccountHash,
  checkLinkCommitment,
  decodeDeviceHello,
  deriveLinkKeys,
  encodeDeviceHello,
  encodeLinkGrant,
  linkCommitment,
  linkMailboxKey,
  openLinkMessage,
  sealLinkMessage,
} from "../device-link.js";
import { signDeviceList } from "../device-list.js";
import { SmsgError } from "../errors.js";
import { identityFromSecrets } from "../identity.js";
import { sha256, x25519Base } from "../primitives.js";
import { replayRng, seededRng } from "../rng.js";
import { Inputs, clamp } from "./inputs.js";
import type { VectorSuite } from "./suite.js";

const FILE = "device-link.json";

const DESCRIPTION =
  'Device linking. mailbox_key = HKDF(link_secret, salt = link_id, info "SMSG-v1 device link mailbox"); ' +
  'commitment = SHA-256("SMSG-v1 device link commit" || link_id || LN); transcript = SHA-256("SMSG-v1 device link transcript" || ' +
  "link_id || commitment || LE || LN); dh = X25519(le, LN); " +
  'link_key = HKDF(dh, salt = link_secret, info "SMSG-v1 device link key" || transcript, 32); ' +
  'code = u64be(HKDF(dh, salt = link_secret, info "SMSG-v1 device link code" || transcript, 8)) mod 10^6. ' +
  'message = u8 type || nonce || XChaCha20-Poly1305(key, nonce, body, ad = "SMSG-v1 device link message" || link_id || u8 type); ' +
  "types 1-3 under mailbox_key, 4-5 under link_key.";

function recompute(file: unknown): Record<string, unknown> {
  const f = new Inputs(file, FILE);
  const username = f.string("username");
  const accountSeed = f.hex("account_signing_seed", 32);
  const account = identityFromSecrets(accountSeed, f.x25519Private("account_dh_private"));
  const device = identityFromSecrets(f.hex("device_signing_seed", 32), f.x25519Private("device_dh_private"));
  const deviceName = f.string("device_name");
  const deviceId = f.u32("device_id");
  const issuedMs = f.uint53("issued_ms");
  const linkId = f.hex("link_id", 16);
  const linkSecret = f.hex("link_secret", 32);
  const le = f.x25519Private("existing_link_private");
  const ln = f.x25519Private("new_link_private");
  const nonces = [1, 2, 3, 4, 5].map((i) => f.hex(`nonce_${i}`, 24));
  const state = f.hex("state");
  const LE = x25519Base(le);
  const LN = x25519Base(ln);

  const mailboxKey = linkMailboxKey(linkSecret, linkId);
  const commitment = linkCommitment(linkId, LN);
  const onExisting = deriveLinkKeys({
    linkId,
    linkSecret,
    ownPrivate: le,
    existingPublic: LE,
    newPublic: LN,
    peerPublic: LN,
  });
  const onNew = deriveLinkKeys({
    linkId,
    linkSecret,
    ownPrivate: ln,
    existingPublic: LE,
    newPublic: LN,
    peerPublic: LE,
  });

  const accountEntry = certifyDevice(account, username, 1, account.publicKey);
  const newEntry = certifyDevice(account, username, deviceId, device.publicKey);
  const list = signDeviceList(account, { username, version: 2, issuedMs, devices: [accountEntry, newEntry] });
  const bodies: [LinkMessageType, Uint8Array, Uint8Array][] = [
    [LINK_MESSAGE.commit, commitment, mailboxKey],
    [LINK_MESSAGE.existingKey, LE, mailboxKey],
    [LINK_MESSAGE.newKey, LN, mailboxKey],
    [LINK_MESSAGE.deviceHello, encodeDeviceHello({ device: device.publicKey, name: deviceName }), onNew.key],
    [
      LINK_MESSAGE.grant,
      encodeLinkGrant({
        account: account.publicKey,
        accountSigningSeed: accountSeed,
        deviceId,
        deviceList: list,
        state,
      }),
      onExisting.key,
    ],
  ];
  const sealed = bodies.map(([type, body, key], i) =>
    sealLinkMessage(key, linkId, type, body, replayRng([nonces[i]!])),
  );

  // What each receiving side makes of the genuine messages.
  checkLinkCommitment(linkId, openLinkMessage(mailboxKey, linkId, 1, sealed[0]!), LN);
  const hello = decodeDeviceHello(openLinkMessage(onExisting.key, linkId, 4, sealed[3]!));
  const accountHash = linkAccountHash(account.publicKey);
  const link = { username, accountHash };
  const accepted = acceptLinkGrant(openLinkMessage(onNew.key, linkId, 5, sealed[4]!), link, device.publicKey);

  // The refusals, on changed messages (fixed by the suite).
  const attempt = (run: () => unknown) => {
    try {
      run();
      return { result: "valid" };
    } catch (e) {
      if (e instanceof SmsgError) return { result: "invalid", error: e.code };
      throw e;
    }
  };
  // Another account, derived from the inputs so the file needs no further ones.
  const otherSeed = sha256(concat(utf8("other account"), accountSeed));
  const otherAccount = identityFromSecrets(otherSeed, clamp(sha256(otherSeed)));
  const otherKey = x25519Base(clamp(linkCommitment(linkId, LE)));
  const flip = (b: Uint8Array, at: number) => {
    const c = b.slice();
    c[at < 0 ? c.length + at : at]! ^= 0x01;
    return c;
  };
  const regrant = (change: Partial<Parameters<typeof encodeLinkGrant>[0]>) =>
    sealLinkMessage(
      onExisting.key,
      linkId,
      LINK_MESSAGE.grant,
      encodeLinkGrant({
        account: account.publicKey,
        accountSigningSeed: accountSeed,
        deviceId,
        deviceList: list,
        state,
        ...change,
      }),
      replayRng([nonces[4]!]),
    );
  const cases = [
    {
      comment: "message 3 reveals a key other than the one committed to in message 1",
      run: () => checkLinkCommitment(linkId, commitment, otherKey),
    },
    {
      comment: "message 2 presented as message 3 (the type is in the associated data)",
      run: () => openLinkMessage(mailboxKey, linkId, 3, concat(new Uint8Array([3]), sealed[1]!.slice(1))),
    },
    {
      comment: "message 4 with a tag byte changed",
      run: () => openLinkMessage(onExisting.key, linkId, 4, flip(sealed[3]!, -1)),
    },
    {
      comment: "message 4 opened under another link id",
      run: () => openLinkMessage(onExisting.key, flip(linkId, 0), 4, sealed[3]!),
    },
    {
      comment: "a grant whose seed is not the account's signing key",
      run: () =>
        acceptLinkGrant(
          openLinkMessage(onNew.key, linkId, 5, regrant({ accountSigningSeed: flip(accountSeed, 0) })),
          link,
          device.publicKey,
        ),
    },
    {
      comment: "a grant whose device list does not hold the new device",
      run: () =>
        acceptLinkGrant(
          openLinkMessage(
            onNew.key,
            linkId,
            5,
            regrant({
              deviceList: signDeviceList(account, { username, version: 2, issuedMs, devices: [accountEntry] }),
            }),
          ),
          link,
          device.publicKey,
        ),
    },
    {
      comment: "a grant for another account name",
      run: () =>
        acceptLinkGrant(
          openLinkMessage(onNew.key, linkId, 5, sealed[4]!),
          { username: "mallory", accountHash },
          device.publicKey,
        ),
    },
    {
      comment:
        "a consistent grant of another account (its key, seed and list with the new device), not the one the link names",
      run: () =>
        acceptLinkGrant(
          openLinkMessage(
            onNew.key,
            linkId,
            5,
            regrant({
              account: otherAccount.publicKey,
              accountSigningSeed: otherSeed,
              deviceList: signDeviceList(otherAccount, {
                username,
                version: 2,
                issuedMs,
                devices: [
                  certifyDevice(otherAccount, username, 1, otherAccount.publicKey),
                  certifyDevice(otherAccount, username, deviceId, device.publicKey),
                ],
              }),
            }),
          ),
          link,
          device.publicKey,
        ),
    },
    {
      comment: "the genuine grant",
      run: () => acceptLinkGrant(openLinkMessage(onNew.key, linkId, 5, sealed[4]!), link, device.publicKey),
    },
  ].map((c, i) => ({ id: i + 1, comment: c.comment, ...attempt(c.run) }));

  return {
    suite: "device-link",
    description: DESCRIPTION,
    spec: "SECURITY.md §17.6 (device linking)",
    username,
    account_signing_seed: toHex(accountSeed),
    account_dh_private: toHex(f.hex("account_dh_private")),
    device_signing_seed: toHex(f.hex("device_signing_seed")),
    device_dh_private: toHex(f.hex("device_dh_private")),
    device_name: deviceName,
    device_id: deviceId,
    issued_ms: issuedMs,
    link_id: toHex(linkId),
    link_secret: toHex(linkSecret),
    existing_link_private: toHex(le),
    new_link_private: toHex(ln),
    nonce_1: toHex(nonces[0]!),
    nonce_2: toHex(nonces[1]!),
    nonce_3: toHex(nonces[2]!),
    nonce_4: toHex(nonces[3]!),
    nonce_5: toHex(nonces[4]!),
    state: toHex(state),
    existing_link_public: toHex(LE),
    new_link_public: toHex(LN),
    account_hash: toHex(accountHash),
    mailbox_key: toHex(mailboxKey),
    commitment: toHex(commitment),
    transcript: toHex(onNew.transcript),
    dh: toHex(onNew.dh),
    link_key: toHex(onNew.key),
    code_existing: onExisting.code,
    code_new: onNew.code,
    device_list: toHex(list),
    messages: bodies.map(([type, body], i) => ({ type, body: toHex(body), sealed: toHex(sealed[i]!) })),
    received_device_name: hello.name,
    granted_device_id: accepted.entry.id,
    cases,
  };
}

/** The device-link vector suite (SECURITY.md §17.6). */
export const deviceLinkVectors: VectorSuite = {
  file: FILE,
  recompute,
  /** The fixed inputs, from seededRng("SMSG-v1 vectors device link"). */
  generate() {
    const rng = seededRng(utf8("SMSG-v1 vectors device link"));
    const x = () => toHex(clamp(rng(32)));
    return recompute({
      username: "alice",
      account_signing_seed: toHex(rng(32)),
      account_dh_private: x(),
      device_signing_seed: toHex(rng(32)),
      device_dh_private: x(),
      device_name: "Laptop",
      device_id: 2,
      issued_ms: 1_764_000_000_000,
      link_id: toHex(rng(16)),
      link_secret: toHex(rng(32)),
      existing_link_private: x(),
      new_link_private: x(),
      nonce_1: toHex(rng(24)),
      nonce_2: toHex(rng(24)),
      nonce_3: toHex(rng(24)),
      nonce_4: toHex(rng(24)),
      nonce_5: toHex(rng(24)),
      state: toHex(utf8("account state snapshot (§18)")),
    });
  },
};
