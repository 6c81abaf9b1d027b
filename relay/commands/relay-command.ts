/**
 * `smsg relay serve|migrate|invite|accounts|disable`. serve runs the relay; the operator
 * commands talk to the running relay through its admin socket, or, when none runs on that data
 * folder, open its database directly.
 */
import type { Argv } from "yargs";
import type { InviteRequest } from "../admin-ops.js";
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
        "List the accounts",
        (a) => common(a),
        async (argv) => {
          const list = (await (await actions()).operate(argv, { cmd: "accounts" })) as {
            username: string;
            is_admin: boolean;
            disabled: boolean;
            created_at: string;
          }[];
          if (argv.json) for (const a of list) console.log(JSON.stringify({ v: 1, type: "account", ...a }));
          else if (list.length === 0) console.log("no accounts");
          else
            for (const a of list)
              console.log(
                `${a.username.padEnd(32)} ${a.is_admin ? "admin " : "member"} ${a.disabled ? "disabled" : "active  "} ${a.created_at}`,
              );
        },
      )
      .command(
        "disable <user>",
        "Disable an account (it is logged out at once), or --enable it again",
        (a) =>
          common(a)
            .positional("user", { type: "string", demandOption: true })
            .option("enable", { type: "boolean", default: false }),
        async (argv) => {
          const r = (await (
            await actions()
          ).operate(argv, { cmd: "disable", username: argv.user, disabled: !argv.enable })) as {
            username: string;
            disabled: boolean;
          };
          print(argv.json, { type: "account_disabled", ...r }, `${r.username} ${r.disabled ? "disabled" : "enabled"}`);
        },
      )
      .demandCommand(1, "Say serve, migrate, invite, accounts or disable."),
  );
}
