import { describe, expect, test } from "vitest";
import { closestCommand, unknownCommandSentence } from "../../bin/command-suggestion.js";

const COMMANDS = [
  "join",
  "whoami",
  "chat",
  "send",
  "history",
  "listen",
  "verify",
  "export",
  "import",
  "open",
  "relay",
  "help",
];

describe("an unknown first word", () => {
  test("a slip of one or two keys suggests the command", () => {
    expect(closestCommand("sned", COMMANDS)).toBe("send");
    expect(closestCommand("histroy", COMMANDS)).toBe("history");
    expect(closestCommand("lisen", COMMANDS)).toBe("listen");
    expect(closestCommand("JION", COMMANDS)).toBe("join");
    expect(closestCommand("realy", COMMANDS)).toBe("relay");
  });

  test("a word far from every command suggests nothing", () => {
    expect(closestCommand("xyzzy", COMMANDS)).toBeUndefined();
    expect(closestCommand("bob", COMMANDS)).toBeUndefined();
    expect(closestCommand("a", COMMANDS)).toBeUndefined();
  });

  test("commands, options and no arguments are left to yargs", () => {
    expect(unknownCommandSentence(["send", "bob", "hi"], COMMANDS)).toBeUndefined();
    expect(unknownCommandSentence(["--json", "whoami"], COMMANDS)).toBeUndefined();
    expect(unknownCommandSentence([], COMMANDS)).toBeUndefined();
    expect(unknownCommandSentence(["help"], COMMANDS)).toBeUndefined();
  });

  test("the sentence names the word, quotes only printable ones, and points at --help", () => {
    expect(unknownCommandSentence(["sned"], COMMANDS)).toBe(
      'unknown command "sned": did you mean send? (smsg --help lists the commands)',
    );
    expect(unknownCommandSentence(["xyzzy"], COMMANDS)).toBe(
      'unknown command "xyzzy" (smsg --help lists the commands)',
    );
    expect(unknownCommandSentence(["a\u001b[2Jb"], COMMANDS)).toBe(
      "unknown command (an unprintable word) (smsg --help lists the commands)",
    );
  });
});
