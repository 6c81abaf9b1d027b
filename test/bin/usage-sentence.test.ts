import { describe, expect, test } from "vitest";
import { usageLineOf, usageSentence } from "../../bin/usage-sentence.js";

describe("usageSentence: yargs' own failures become one sentence naming the command", () => {
  test("too few words: the command and its usage line", () => {
    expect(
      usageSentence("Not enough non-option arguments: got 0, need at least 1", "$0 device remove <id>", [
        "device",
        "remove",
      ]),
    ).toBe("device remove needs more arguments; usage: smsg device remove <id>");
  });

  test("a mistyped subcommand: the word typed and the suggestion", () => {
    expect(usageSentence("Did you mean list?", "$0 device", ["device", "lst"])).toBe(
      'unknown subcommand "lst" of device: did you mean list? (smsg device --help lists them)',
    );
    // An unprintable word is not echoed to the terminal.
    expect(usageSentence("Did you mean list?", "$0 device", ["device", "l\u001bst"])).toBe(
      "unknown subcommand of device: did you mean list? (smsg device --help lists them)",
    );
  });

  test("an unknown flag is named as typed; an extra word is shown with the usage", () => {
    expect(usageSentence("Unknown argument: bogus-flag", "$0 whoami", ["whoami", "--bogus-flag"])).toBe(
      "unknown option --bogus-flag for whoami (smsg whoami --help lists its options)",
    );
    expect(usageSentence("Unknown argument: x", "$0 whoami", ["whoami", "-x"])).toBe(
      "unknown option -x for whoami (smsg whoami --help lists its options)",
    );
    expect(usageSentence("Unknown arguments: 2, 3", "$0 device remove <id>", ["device", "remove", "1", "2", "3"])).toBe(
      'unexpected argument "2" for device remove; usage: smsg device remove <id>',
    );
  });

  test("anything else, the top level, or no usage line: yargs' words unchanged", () => {
    expect(usageSentence("Missing required argument: data", "$0 relay backup", ["relay", "backup"])).toBe(
      "Missing required argument: data",
    );
    expect(usageSentence("Not enough non-option arguments: got 0, need at least 1", "$0", [])).toBe(
      "Not enough non-option arguments: got 0, need at least 1",
    );
    expect(usageSentence("Did you mean list?", undefined, ["device", "lst"])).toBe("Did you mean list?");
  });

  test("usageLineOf reads yargs' usage object and nothing else", () => {
    expect(usageLineOf({ getUsage: () => [["$0 send <chat> [text]", "Send"]] })).toBe("$0 send <chat> [text]");
    expect(usageLineOf({ getUsage: () => [] })).toBeUndefined();
    expect(usageLineOf({ getUsage: () => [["send", "no $0"]] })).toBeUndefined();
    expect(usageLineOf({})).toBeUndefined();
    expect(usageLineOf(null)).toBeUndefined();
  });
});
