/**
 * `smsg verify USER [--confirm | --accept-new-key]`: shows the safety number of USER's pinned
 * identity key (and of the new key, during a change; SECURITY.md §9) for comparing out of band.
 * `--confirm` records that the numbers matched (a pending new key becomes the pinned key,
 * verified); `--accept-new-key` takes a changed key without comparing. Either lifts the
 * KEY_CHANGED block on sending to USER. Works offline for a known contact; an unknown one is
 * looked up on the relay (and pinned).
 */
import type { Argv } from "yargs";
import { UsageError } from "../../src/errors.js";
import { normalizeUsername } from "../../src/wire/username.js";
import { type Account, closeAccount, connectAccount } from "../engine/open-account.js";
import { acceptNewIdentity, checkIdentity, confirmIdentity, safetyNumbersWith } from "../engine/sessions.js";
import { KeyChangedError } from "../engine/errors.js";
import type { ContactRecord } from "../store/index.js";
import { type ProfileArgs, openAccountOf, withProfileOptions } from "./common.js";
import { runCommand } from "./exit.js";
import { printJson, printLine } from "./output.js";
import { safetyNumberLines } from "./safety-number-lines.js";

/** The contact, looked up on the relay (and pinned on first use) when not known yet. */
async function contactOf(acct: Account, user: string): Promise<ContactRecord> {
  const known = acct.store.contacts.get(user);
  if (known) return known;
  const { relay } = await connectAccount(acct);
  try {
    await checkIdentity(acct, relay, user).catch((e: unknown) => {
      if (!(e instanceof KeyChangedError)) throw e;
    });
  } finally {
    relay.close();
  }
  return acct.store.contacts.get(user)!;
}

/** Mounts `verify`. */
export function verifyCommand<T extends { json: boolean }>(y: Argv<T>): Argv<T> {
  return y.command(
    "verify <user>",
    "Show the safety number to compare with USER; --confirm when it matches, --accept-new-key to take a changed key",
    (a) =>
      withProfileOptions(a)
        .positional("user", { type: "string", demandOption: true })
        .option("confirm", {
          type: "boolean",
          default: false,
          describe: "The safety numbers matched: mark the key verified (and take a pending new key)",
        })
        .option("accept-new-key", {
          type: "boolean",
          default: false,
          describe: "Take a changed key without comparing safety numbers",
        }),
    (argv) =>
      runCommand(async () => {
        if (argv.confirm && argv["accept-new-key"])
          throw new UsageError("give --confirm or --accept-new-key, not both");
        const user = normalizeUsername(argv.user);
        const acct = await openAccountOf(argv as ProfileArgs);
        try {
          if (user === acct.username) throw new UsageError("that is you: compare your fingerprint with smsg whoami");
          let contact = await contactOf(acct, user);
          const numbers = safetyNumbersWith(acct, contact);
          let action: "confirmed" | "accepted" | undefined;
          if (argv.confirm) {
            contact = confirmIdentity(acct.store, user);
            action = "confirmed";
          } else if (argv["accept-new-key"]) {
            if (!contact.keyChanged) throw new UsageError(`${user}'s key has not changed; nothing to accept`);
            contact = acceptNewIdentity(acct.store, user);
            action = "accepted";
          }
          if (argv.json) {
            printJson("safety_number", {
              user,
              safety_number: numbers.pinned.replace(/\s/g, ""),
              pending_safety_number: numbers.pending === null ? null : numbers.pending.replace(/\s/g, ""),
              verified: contact.verified,
              key_changed: contact.keyChanged,
              ...(action ? { action } : {}),
            });
            return;
          }
          if (action === "confirmed")
            printLine(
              `${user}'s identity key is verified` +
                (numbers.pending !== null ? " (the new key is now pinned)" : "") +
                `; you can send to ${user}`,
            );
          else if (action === "accepted")
            printLine(`${user}'s new identity key is pinned (not verified); you can send to ${user}`);
          else for (const l of safetyNumberLines(user, numbers, contact)) printLine(l);
        } finally {
          closeAccount(acct);
        }
      }),
  );
}
