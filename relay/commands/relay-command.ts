/**
 * `smsg relay serve|migrate|invite|accounts|disable`. serve runs the relay; the operator
 * commands talk to the running relay through its admin socket, or, when none runs on that data
 * folder, open its database directly.
 */
import type { Argv } from "yargs";
import { createInterface } from "node:readline/promises";
import { UsageError } from "../../src/errors.js";
import { runCommand } from "../../client/commands/exit.js";
import type { AccountSummary, InviteRequest } from "../admin-ops.js";
import { DEFAULT_LIMITS, DEFAULT_PORT, parseDuration } from "../config.js";
import { LIMIT_FLAGS } from "./limit-flags.js";
import type { CommonArgs } from "./relay-actions.js";

/** The relay's implementation, imported only when a relay command runs. */
const actions = () => import("./relay-actions.js");

const common = <T>(y: Argv<T>) =>
  y
    .option("data", {
      type: "string",
      describe: "The relay's data folder (default: $XDG_DATA_HOME/socketmessenger/relay)",
    })
    .option("database-url", {
      type: "string",
      describe: "PostgreSQL URL (or DATABASE_URL); default: the relay's embedded PostgreSQL in the data folder",
    })
    .option("db-user", {
      type: "string",
      describe:
        "When the relay runs as root: the unprivileged user that runs the embedded PostgreSQL (default: postgres)",
    });

function print(json: boolean, value: unknown, human: string): void {
  console.log(json ? JSON.stringify({ v: 1, ...(value as object) }) : human);
}

function accountLine(a: AccountSummary): string {
  const state = a.deleted ? "deleted" : a.disabled ? "disabled" : "active";
  const seen = a.online ? "online now" : (a.last_seen ?? "never");
  const keys = a.deleted
    ? "-"
    : !a.signed_prekey
      ? "none: others cannot start a chat"
      : a.one_time_prekeys === 0
        ? "0 one-time (signed prekey only)"
        : `${a.one_time_prekeys} one-time`;
  return `${a.username.padEnd(24)} ${(a.is_admin ? "admin" : "member").padEnd(6)} ${state.padEnd(8)} ${seen.padEnd(24)} ${keys}`;
}

async function setDisabled(argv: CommonArgs, user: string, disabled: boolean): Promise<void> {
  const r = (await (await actions()).operate(argv, { cmd: "disable", username: user, disabled })) as {
    username: string;
    disabled: boolean;
  };
  print(argv.json, { type: "account_disabled", ...r }, `${r.username} ${r.disabled ? "disabled" : "enabled"}`);
}

/** `relay delete` cannot be undone: it asks on a terminal, and without one it needs --yes. */
async function confirmDelete(user: string, yes: boolean): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY || !process.stderr.isTTY)
    throw new UsageError(`relay delete ${user} needs a confirmation: run it on a terminal, or pass --yes`);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(
      `Delete ${user}? Their keys, chat memberships and queued messages are removed for good. Type the name to confirm: `,
    );
    if (answer.trim().toLowerCase() !== user.trim().toLowerCase())
      throw new UsageError(`not confirmed: ${user} was not deleted`);
  } finally {
    rl.close();
  }
}

export function relayCommand<T extends { json: boolean }>(y: Argv<T>): Argv<T> {
  return y.command("relay", "Run and operate a relay (server side)", (r) =>
    r
      .command(
        "serve",
        "Run the relay",
        (a) => {
          let b = common(a)
            .option("host", { type: "string", default: "127.0.0.1", describe: "Address to listen on" })
            .option("port", { type: "number", default: DEFAULT_PORT, describe: "TCP port (0: any free port)" })
            .option("public-host", { type: "string", describe: "Host name to put in invite links (default: --host)" })
            .option("allow-unsafe-durability", {
              type: "boolean",
              default: false,
              describe:
                "Start even if PostgreSQL has fsync or synchronous_commit off (acked messages could be lost in a crash)",
            })
            .option("message-ttl", {
              type: "string",
              default: "30d",
              describe: "Delete undelivered messages after this long",
            })
            .option("http", {
              type: "string",
              describe:
                "Serve /healthz, /readyz and /metrics (Prometheus) on HOST:PORT, e.g. 127.0.0.1:7448 (default: off)",
            })
            .option("shutdown-timeout", {
              type: "string",
              default: "8s",
              describe: "On SIGTERM/SIGINT, exit 1 if the clean stop takes longer (fits Docker's 10 s grace)",
            })
            .option("retention", {
              type: "string",
              default: "0",
              describe: "Keep delivered ciphertext this long (0: delete once every recipient acked)",
            });
          for (const [flag, key, describe] of LIMIT_FLAGS)
            b = b.option(flag, { type: "number", describe: `${describe} (default ${DEFAULT_LIMITS[key]})` });
          return b;
        },
        async (argv) => (await actions()).serve(argv as unknown as Record<string, unknown> & CommonArgs),
      )
      .command(
        "migrate",
        "Apply the database migrations, and move an earlier version's PGlite data in (serve also does both at start)",
        (a) =>
          common(a).option("from-pglite", {
            type: "boolean",
            default: false,
            describe:
              "Require a PGlite database from an earlier version in DATA/db, and move it into the embedded PostgreSQL",
          }),
        async (argv) => {
          await (await actions()).migrateDatabase(argv);
          print(argv.json, { type: "migrated" }, "migrations applied");
        },
      )
      .command(
        "invite",
        "Print a new invite link",
        (a) =>
          common(a)
            .option("uses", { type: "number", default: 1, describe: "How many accounts it can create" })
            .option("expires", { type: "string", default: "7d", describe: "Lifetime, e.g. 12h, 7d, or 'never'" })
            .option("admin", {
              type: "boolean",
              default: false,
              describe: "Accounts created with it are relay admins",
            }),
        async (argv) => {
          const req: InviteRequest = {
            uses: argv.uses,
            expiresInMs: argv.expires === "never" ? null : parseDuration(argv.expires),
            admin: argv.admin,
          };
          const r = (await (await actions()).operate(argv, { cmd: "invite", ...req })) as {
            link: string;
            expiresAt: string | null;
          };
          print(argv.json, { type: "invite", ...r }, r.link);
        },
      )
      .command(
        "accounts",
        "List the accounts: role, state, last seen, and the prekeys others need to reach them",
        (a) => common(a),
        async (argv) =>
          runCommand(async () => {
            const list = (await (await actions()).operate(argv, { cmd: "accounts" })) as AccountSummary[];
            if (argv.json) for (const a of list) console.log(JSON.stringify({ v: 1, type: "account", ...a }));
            else if (list.length === 0) console.log("no accounts");
            else {
              console.log(
                `${"USER".padEnd(24)} ${"ROLE".padEnd(6)} ${"STATE".padEnd(8)} ${"LAST SEEN".padEnd(24)} PREKEYS`,
              );
              for (const a of list) console.log(accountLine(a));
            }
          }),
      )
      .command(
        "disable <user>",
        "Disable an account (it is logged out at once), or --enable it again",
        (a) =>
          common(a)
            .positional("user", { type: "string", demandOption: true })
            .option("enable", { type: "boolean", default: false }),
        async (argv) => runCommand(async () => setDisabled(argv, argv.user, !argv.enable)),
      )
      .command(
        "enable <user>",
        "Enable a disabled account again",
        (a) => common(a).positional("user", { type: "string", demandOption: true }),
        async (argv) => runCommand(async () => setDisabled(argv, argv.user, false)),
      )
      .command(
        "promote <user>",
        "Make an account a relay admin (shown at its login and in relay accounts)",
        (a) => common(a).positional("user", { type: "string", demandOption: true }),
        async (argv) =>
          runCommand(async () => {
            const r = (await (await actions()).operate(argv, { cmd: "promote", username: argv.user })) as {
              username: string;
            };
            print(
              argv.json,
              { type: "account_promoted", username: r.username, is_admin: true },
              `${r.username} is now a relay admin`,
            );
          }),
      )
      .command(
        "delete <user>",
        "Delete an account: its keys, memberships and queued messages are removed (asks first; --yes for scripts)",
        (a) =>
          common(a)
            .positional("user", { type: "string", demandOption: true })
            .option("yes", { type: "boolean", default: false, describe: "Do not ask for confirmation" }),
        async (argv) =>
          runCommand(async () => {
            await confirmDelete(argv.user, argv.yes);
            const r = (await (await actions()).operate(argv, { cmd: "delete", username: argv.user })) as {
              username: string;
              messages_removed: number;
              prekeys_removed: number;
              groups_left: number;
              direct_chats_closed: number;
            };
            print(
              argv.json,
              { type: "account_deleted", ...r },
              `${r.username} deleted: ${r.prekeys_removed} prekeys and ${r.messages_removed} queued messages removed, ` +
                `${r.groups_left} groups left, ${r.direct_chats_closed} direct chats closed (the name stays taken)`,
            );
          }),
      )
      .command(
        "backup <file>",
        "Write a consistent copy of the relay's database and key to FILE (mode 0600), while it runs or not",
        (a) =>
          common(a)
            .positional("file", { type: "string", demandOption: true })
            .option("force", { type: "boolean", default: false, describe: "Replace FILE if it exists" }),
        async (argv) =>
          runCommand(async () => {
            const r = await (await actions()).backup({ ...argv, file: argv.file });
            const total = Object.values(r.rows).reduce((x, y) => x + y, 0);
            print(
              argv.json,
              { type: "backup", file: r.file, bytes: r.bytes, rows: r.rows },
              `backup written to ${r.file} (${r.bytes} bytes, ${total} rows; it holds the relay's private key: keep it safe)`,
            );
          }),
      )
      .command(
        "restore <file>",
        "Restore a backup into a new, empty data folder (--data) and, with --database-url, an empty database",
        (a) => common(a).positional("file", { type: "string", demandOption: true }),
        async (argv) =>
          runCommand(async () => {
            const r = await (await actions()).restore({ ...argv, file: argv.file });
            const messages = r.rows["messages"] ?? 0;
            const accounts = r.rows["accounts"] ?? 0;
            print(
              argv.json,
              { type: "restored", rows: r.rows },
              `restored ${accounts} accounts and ${messages} queued messages; start the relay with the same --data`,
            );
          }),
      )
      .demandCommand(1, "Say serve, migrate, invite, accounts, disable, enable, promote, delete, backup or restore."),
  );
}
