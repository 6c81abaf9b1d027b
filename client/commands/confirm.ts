/**
 * Asking the user a yes/no question on the terminal before doing something that cannot be
 * undone (`smsg device remove`) or that only the user can judge (the link code of SECURITY.md
 * §17.6). The question goes to stderr, so stdout stays the command's data; anything but "y"
 * or "yes" is no, and so are Ctrl-C and the end of input.
 */
import { createInterface } from "node:readline";
import { UsageError } from "../../src/errors.js";

/** True when a question can be asked: stdin is a terminal. */
export function canAsk(): boolean {
  return process.stdin.isTTY === true;
}

/**
 * Asks `question` followed by " [y/N] " and resolves with the answer. Throws UsageError
 * (`whyNoTerminal`) when stdin is not a terminal: a script must say what it wants by other means.
 */
export function askYesNo(question: string, whyNoTerminal: string): Promise<boolean> {
  if (!canAsk()) return Promise.reject(new UsageError(whyNoTerminal));
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  return new Promise<boolean>((resolve) => {
    let answered = false;
    const done = (yes: boolean) => {
      if (answered) return;
      answered = true;
      rl.close();
      resolve(yes);
    };
    rl.on("SIGINT", () => {
      process.stderr.write("\n");
      done(false);
    });
    rl.on("close", () => done(false));
    rl.question(`${question} [y/N] `, (answer) => done(/^y(es)?$/i.test(answer.trim())));
  });
}
