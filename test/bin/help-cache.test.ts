import yargs from "yargs";
import { describe, expect, test } from "vitest";
import { skipHelpCache } from "../../bin/help-cache.js";

/** What yargs' usage object says after a command ran: whether it laid out the help text. */
async function cachedAfterRun(skip: boolean): Promise<boolean> {
  const y = yargs(["greet", "x"]).command(
    "greet <who>",
    "Greet",
    (b) => b,
    () => {},
  );
  if (skip) skipHelpCache(y);
  await y.parseAsync();
  const internal = (
    y as unknown as { getInternalMethods: () => { getUsageInstance: () => { hasCachedHelpMessage: () => boolean } } }
  ).getInternalMethods();
  return internal.getUsageInstance().hasCachedHelpMessage();
}

describe("skipHelpCache", () => {
  test("yargs lays out the help of a command that ran, unless skipped", async () => {
    expect(await cachedAfterRun(false)).toBe(true); // what the change avoids: if this fails, yargs changed
    expect(await cachedAfterRun(true)).toBe(false);
  });

  test("help is still laid out when asked", async () => {
    const y = yargs()
      .command(
        "greet <who>",
        "Greet someone",
        (b) => b,
        () => {},
      )
      .exitProcess(false);
    skipHelpCache(y);
    let shown = "";
    await y.parseAsync(["greet", "--help"], {}, (_err, _argv, output) => {
      shown = output;
    });
    expect(shown).toContain("Greet someone");
  });

  test("something that is not a yargs instance is left alone", () => {
    expect(() => skipHelpCache({})).not.toThrow();
    expect(() => skipHelpCache({ getInternalMethods: () => ({}) })).not.toThrow();
  });
});
