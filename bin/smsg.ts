#!/usr/bin/env node
/**
 * `smsg`: the one entry point, compiled to dist/bin/smsg.js. It mounts the client's and the
 * relay's commands; each command lives in its own module under client/commands/ or
 * relay/commands/. It lives in bin/, above both, so src/ stays shared code that imports neither
 * (docs/ARCHITECTURE.md §2). Whatever a command throws ends here as one sentence and the exit
 * code of its kind (client/commands/exit.ts), so a relay command's bad flag exits 2 like a
 * client command's.
 *
 * Start-up is most of a one-shot command's time, and most of start-up is loading modules
 * (docs/ARCHITECTURE.md §5.12): so when the first argument names a command, only that
 * command's module is loaded and mounted. Anything else (help, --version, an unknown command
 * that gets a suggestion, options before the command, the default interactive command) mounts
 * every command, in the order `smsg --help` lists them.
 */
import yargs, { type Argv } from "yargs";
import { hideBin } from "yargs/helpers";
import { errorSentence, exitCodeOf } from "../client/commands/exit.js";
import { handleClosedOutput } from "../src/closed-output.js";
import { unknownCommandSentence } from "./command-suggestion.js";
import { skipHelpCache } from "./help-cache.js";
import { usageLineOf, usageSentence } from "./usage-sentence.js";
import { EXIT } from "../src/exit-codes.js";

type Cli = Argv<{ json: boolean }>;
type Mount = (y: Cli) => Cli;

/** The module of each command, by the word that starts it; `open` shares its module with the default command. */
const COMMAND_MODULES: Readonly<Record<string, () => Promise<Mount>>> = {
  join: async () => (await import("../client/commands/join.js")).joinCommand,
  login: async () => (await import("../client/commands/login.js")).loginCommand,
  whoami: async () => (await import("../client/commands/whoami.js")).whoamiCommand,
  chat: async () => (await import("../client/commands/chat.js")).chatCommand,
  send: async () => (await import("../client/commands/send.js")).sendCommand,
  history: async () => (await import("../client/commands/history.js")).historyCommand,
  listen: async () => (await import("../client/commands/listen.js")).listenCommand,
  verify: async () => (await import("../client/commands/verify.js")).verifyCommand,
  export: async () => (await import("../client/commands/export.js")).exportCommand,
  import: async () => (await import("../client/commands/import.js")).importCommand,
  passphrase: async () => (await import("../client/commands/passphrase.js")).passphraseCommand,
  device: async () => (await import("../client/commands/device.js")).deviceCommand,
  open: async () => (await import("../client/commands/interactive.js")).interactiveCommands,
  vectors: async () => (await import("../client/commands/vectors.js")).vectorsCommand,
  relay: async () => (await import("../relay/commands/relay-command.js")).relayCommand,
};

/** Every command, for help and for anything that does not start with a command's name. */
async function allCommands(): Promise<Mount> {
  const [client, vectors, relay] = await Promise.all([
    import("../client/commands/client-commands.js"),
    COMMAND_MODULES["vectors"]!(),
    COMMAND_MODULES["relay"]!(),
  ]);
  return (y) => relay(vectors(client.clientCommands(y)));
}

/** What to mount for these arguments: the named command's module alone, else every command. */
function mountFor(args: readonly string[]): Promise<Mount> {
  const first = args[0];
  const one = first !== undefined && Object.hasOwn(COMMAND_MODULES, first) ? COMMAND_MODULES[first] : undefined;
  return one ? one() : allCommands();
}

async function main(): Promise<void> {
  const args = hideBin(process.argv);
  const unknown = unknownCommandSentence(args, [...Object.keys(COMMAND_MODULES), "help"]);
  if (unknown !== undefined) {
    console.error(`smsg: ${unknown}`);
    process.exitCode = EXIT.usage;
    return;
  }
  const cli: Cli = yargs(args)
    .scriptName("smsg")
    // Options are read by their dashed names only: without this, yargs also adds a camelCase
    // copy of every flag, and reports an unknown --bogus-flag twice (bogus-flag, bogusFlag).
    .parserConfiguration({ "camel-case-expansion": false })
    .option("json", { type: "boolean", default: false, describe: "Print JSON lines (versioned schema, for scripts)" })
    .strict()
    .demandCommand(1, "Say which command to run (smsg --help lists them).")
    .recommendCommands()
    .fail((msg, err, usage: unknown) => {
      if (err) throw err;
      console.error(`smsg: ${usageSentence(msg, usageLineOf(usage), args)}`);
      process.exit(EXIT.usage);
    })
    .help();
  skipHelpCache(cli);
  await (await mountFor(args))(cli).parseAsync();
}

handleClosedOutput();
main().catch((err: unknown) => {
  process.stderr.write(`smsg: ${errorSentence(err)}\n`);
  process.exitCode = exitCodeOf(err);
});
