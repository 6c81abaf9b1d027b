/**
 * `smsg whoami [--offline]`: who this profile is, on which relay, with which keys; by default it
 * also logs in, which proves the account works (and sends the outbox, fetches what waits). The
 * relay link it prints, with the username, is what `smsg login` takes on a new machine
 * (SECURITY.md §18.6).
 */
import type { Argv } from "yargs";
import { deviceFingerprint } from "../../crypto/device-certificate.js";
import { identityKey } from "../../crypto/identity.js";
import { fingerprint } from "../../crypto/safety-number.js";
import { relayKeyFingerprint } from "../../src/relay-key-fingerprint.js";
import { formatRelayLink } from "../../src/relay-link.js";
import { type ProfileArgs, withAccount, withOfflineOption, withProfileOptions } from "./common.js";
import { runCommand } from "./exit.js";
import { printJson, printLine } from "./output.js";

/** Mounts `whoami`. */
export function whoamiCommand<T extends { json: boolean }>(y: Argv<T>): Argv<T> {
  return y.command(
    "whoami",
    "Show this profile's account, relay and keys (logs in unless --offline)",
    (a) => withOfflineOption(withProfileOptions(a)),
    (argv) =>
      runCommand(() =>
        withAccount(argv as ProfileArgs & typeof argv, async (acct, online) => {
          const login = online?.login;
          // The account key's (SECURITY.md §17.1: what contacts pin), the same on every device of the account.
          const fp = fingerprint({ id: acct.username, identityKey: identityKey(acct.accountIdentity) });
          // This device's own key (§17.2), as `smsg device list` shows it on every device of the account.
          const deviceFp = deviceFingerprint(acct.identity.publicKey);
          const relay = `${acct.relayHost}:${acct.relayPort}`;
          const relayFp = relayKeyFingerprint(acct.relayKey);
          const link = formatRelayLink({ host: acct.relayHost, port: acct.relayPort, relayKey: acct.relayKey });
          if (argv.json) {
            printJson("whoami", {
              username: acct.username,
              display_name: acct.displayName,
              relay,
              relay_link: link,
              relay_key_fingerprint: relayFp,
              fingerprint: fp,
              device: acct.deviceId,
              device_fingerprint: deviceFp,
              profile: acct.dir,
              ...(login ? { is_admin: login.isAdmin, prekeys: login.stock } : {}),
            });
          } else {
            printLine(
              acct.username +
                (acct.displayName !== null ? ` (${acct.displayName})` : "") +
                ` on ${relay}` +
                (login?.isAdmin ? ", relay admin" : ""),
            );
            printLine(`relay key:   ${relayFp}`);
            printLine(`relay link:  ${link}  (smsg login ${link} ${acct.username}, on a new machine)`);
            printLine(`fingerprint: ${fp.match(/.{5}/g)!.join(" ")}`);
            printLine(`device:      ${acct.deviceId}, fingerprint ${deviceFp}`);
            printLine(`profile:     ${acct.dir}`);
            if (login) printLine(`logged in; ${login.stock} one-time prekeys on the relay`);
          }
        }),
      ),
  );
}
