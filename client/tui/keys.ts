/**
 * What the terminal sends when a key is pressed, decoded into the keys the terminal UI acts on.
 * Input arrives as ink's input events, each one escape sequence or a run of plain characters
 * (several typed keys, or a paste, may come as one run: "hi\r" is text "hi" then Enter); the
 * decoder does not rely on that cut and splits any string into sequences itself. Escape
 * sequences this file does not know are dropped, never inserted as text; so are control
 * characters without a binding.
 */

/** A key without text. */
export type KeyName =
  | "enter"
  | "newline"
  | "up"
  | "down"
  | "left"
  | "right"
  | "home"
  | "end"
  | "pageUp"
  | "pageDown"
  | "backspace"
  | "delete"
  | "tab"
  | "escape"
  | "help"
  | "nextUnread"
  | "interrupt"
  | "eof"
  | "killLine"
  | "killWord";

/** One decoded key press: a named key, or text to insert. */
export type Key = { readonly name: KeyName } | { readonly name: "text"; readonly text: string };

/** Escape sequences, as xterm, VTE, tmux, screen and the Linux console send them. */
const SEQUENCES: Readonly<Record<string, KeyName>> = {
  "\x1b[A": "up",
  "\x1bOA": "up",
  "\x1b[B": "down",
  "\x1bOB": "down",
  "\x1b[C": "right",
  "\x1bOC": "right",
  "\x1b[D": "left",
  "\x1bOD": "left",
  "\x1b[H": "home",
  "\x1bOH": "home",
  "\x1b[1~": "home",
  "\x1b[7~": "home",
  "\x1b[F": "end",
  "\x1bOF": "end",
  "\x1b[4~": "end",
  "\x1b[8~": "end",
  "\x1b[5~": "pageUp",
  "\x1b[6~": "pageDown",
  "\x1b[3~": "delete",
  "\x1bOP": "help",
  "\x1b[11~": "help",
  "\x1b[[A": "help",
  "\x1b\r": "newline",
  "\x1b\n": "newline",
  "\x1ba": "nextUnread",
  "\x1bA": "nextUnread",
  "\x1b": "escape",
};

/** Control characters with a binding (Emacs-style line editing, as readline has them). */
const CONTROLS: Readonly<Record<string, KeyName>> = {
  "\r": "enter",
  "\n": "newline", // Ctrl-J: the documented fallback for Alt+Enter
  "\t": "tab",
  "\x7f": "backspace",
  "\b": "backspace",
  "\x01": "home", // Ctrl-A
  "\x05": "end", // Ctrl-E
  "\x02": "left", // Ctrl-B
  "\x06": "right", // Ctrl-F
  "\x0e": "down", // Ctrl-N
  "\x10": "up", // Ctrl-P
  "\x03": "interrupt", // Ctrl-C
  "\x04": "eof", // Ctrl-D
  "\x15": "killLine", // Ctrl-U
  "\x17": "killWord", // Ctrl-W
};

/** xterm's modified cursor keys: ESC [ 1 ; <modifier> <A-D,H,F>. The modifier is ignored. */
// eslint-disable-next-line no-control-regex -- matching the ESC that starts the sequence is the point
const MODIFIED_CURSOR = /^\x1b\[1;\d+([ABCDHF])$/;
const CURSOR_LETTER: Readonly<Record<string, KeyName>> = {
  A: "up",
  B: "down",
  C: "right",
  D: "left",
  H: "home",
  F: "end",
};

/** Characters that are never inserted as text: C0, DEL and C1 controls. */
function isControl(ch: string): boolean {
  const c = ch.codePointAt(0)!;
  return c < 0x20 || (c >= 0x7f && c < 0xa0);
}

/**
 * `input` cut into escape sequences and runs of plain characters: CSI (ESC [ …, and the Linux
 * console's ESC [ [ A), SS3 (ESC O x), ESC + one character (Alt+key), a lone ESC.
 */
function tokens(input: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < input.length) {
    if (input[i] !== "\x1b") {
      const j = input.indexOf("\x1b", i);
      const end = j < 0 ? input.length : j;
      out.push(input.slice(i, end));
      i = end;
      continue;
    }
    const next = input[i + 1];
    if (next === "[") {
      let j = i + 2;
      if (input[j] === "[") j++;
      while (j < input.length && /[\x20-\x3f]/.test(input[j]!)) j++;
      out.push(input.slice(i, j + 1));
      i = j + 1;
    } else if (next === "O") {
      out.push(input.slice(i, i + 3));
      i += 3;
    } else if (next === undefined || next === "\x1b") {
      out.push("\x1b");
      i += 1;
    } else {
      const ch = String.fromCodePoint(input.codePointAt(i + 1)!);
      out.push(`\x1b${ch}`);
      i += 1 + ch.length;
    }
  }
  return out;
}

/** One escape sequence as a key, or none when it has no binding. */
function sequenceKey(seq: string): Key[] {
  const named = SEQUENCES[seq];
  if (named) return [{ name: named }];
  const m = MODIFIED_CURSOR.exec(seq);
  if (m) return [{ name: CURSOR_LETTER[m[1]!]! }];
  return [];
}

/** The keys some terminal input stands for (see the file comment). */
export function decodeKeys(input: string): Key[] {
  const keys: Key[] = [];
  for (const t of tokens(input)) {
    if (t.startsWith("\x1b")) {
      keys.push(...sequenceKey(t));
      continue;
    }
    let text = "";
    const flush = () => {
      if (text !== "") keys.push({ name: "text", text });
      text = "";
    };
    for (const ch of t) {
      const named = CONTROLS[ch];
      if (named) {
        flush();
        keys.push({ name: named });
      } else if (!isControl(ch)) text += ch;
    }
    flush();
  }
  return keys;
}
