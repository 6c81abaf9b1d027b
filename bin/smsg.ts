#!/usr/bin/env node
/**
 * `smsg`: the one entry point, compiled to dist/bin/smsg.js. It mounts the client's and the
 * relay's commands; each command lives in its own module under client/commands/ or
 * relay/commands/. It lives in bin/, above both, so src/ stays shared code that imports neither
 * (docs/ARCHITECTURE.md §2).
 */
import yargs from "yargs";
import { hideBin } from "yargs/helpers";
import { clientCommands } from "../client/commands/client-commands.js";
import { vectorsCommand } from "../client/commands/vectors.js";
import { relayCommand } from "../relay/commands/relay-command.js";
import { EXIT } from "../src/exit-codes.js";

async function main(): Promise<void> {
  let cli = yargs(hideBin(process.argv))
    .scriptName("smsg")
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

main().catch((err: unknown) => {
  console.error(`smsg: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = EXIT.failure;
});
