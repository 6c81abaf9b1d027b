#!/usr/bin/env node
/**
 * `smsg`: the one entry point, compiled to dist/bin/smsg.js. It mounts the client's and the
 * relay's commands; each command lives in its own module under client/commands/ or
 * relay/commands/. It lives in bin/, above both, so src/ stays shared code that imports neither
 * (docs/ARCHITECTURE.md §2). Whatever a command throws ends here as one sentence and the exit
 * code of its kind (client/commands/exit.ts), so a relay command's bad flag exits 2 like a
 * client command's.
 */
import yargs from "yargs";
import { hideBin } from "yargs/helpers";
import { clientCommands } from "../client/commands/client-commands.js";
import { errorSentence, exitCodeOf } from "../client/commands/exit.js";
import { vectorsCommand } from "../client/commands/vectors.js";
import { relayCommand } from "../relay/commands/relay-command.js";
import { handleClosedOutput } from "../src/closed-output.js";
import { EXIT } from "../src/exit-codes.js";

async function main(): Promise<void> {
  let cli = yargs(hideBin(process.argv))
    .scriptName("smsg")
    // Options are read by their dashed names only: without this, yargs also adds a camelCase
    // copy of every flag, and reports an unknown --bogus-flag twice (bogus-flag, bogusFlag).
    .parserConfiguration({ "camel-case-expansion": false })
    .option("json", { type: "boolean", default: false, describe: "Print JSON lines (versioned schema, for scripts)" })
    .strict()
    .demandCommand(1, "Say which command to run (smsg --help lists them).")
    .recommendCommands()
    .fail((msg, err) => {
      if (err) throw err;
      console.error(`smsg: ${msg}`);
      process.exit(EXIT.usage);
    })
    .help();
  cli = clientCommands(cli);
  cli = vectorsCommand(cli);
  cli = relayCommand(cli);
  await cli.parseAsync();
}

handleClosedOutput();
main().catch((err: unknown) => {
  process.stderr.write(`smsg: ${errorSentence(err)}\n`);
  process.exitCode = exitCodeOf(err);
});
