/**
 * Editing the input line (pure, on InputState): inserting, deleting and moving by grapheme
 * cluster (an emoji with a skin tone, "e" + a combining accent go as one), Emacs-style kills,
 * and Tab completion of @usernames from the open chat's members (view-model.ts dispatches the
 * keys here).
 */
import type { KeyName } from "./keys.js";
import type { InputState, State } from "./state.js";
import { graphemes } from "./text-width.js";

/** The input after inserting `text` at the cursor. */
export function insert(input: InputState, text: string): InputState {
  const t = input.text.slice(0, input.cursor) + text + input.text.slice(input.cursor);
  return { text: t, cursor: input.cursor + text.length };
}

/** The grapheme boundaries of `text`: 0, …, text.length. */
function boundaries(text: string): number[] {
  const out = [0];
  let at = 0;
  for (const g of graphemes(text)) out.push((at += g.length));
  return out;
}

function prevBoundary(text: string, at: number): number {
  return (
    boundaries(text)
      .filter((b) => b < at)
      .at(-1) ?? 0
  );
}

function nextBoundary(text: string, at: number): number {
  return boundaries(text).find((b) => b > at) ?? text.length;
}

/** Tab: completes the @word before the cursor from the open chat's members, cycling on repeat. */
export function complete(s: State): State {
  const input = s.input;
  if (input.completion) {
    const { start, candidates, index } = input.completion;
    const nextIndex = (index + 1) % candidates.length;
    const word = `@${candidates[nextIndex]!} `;
    const prevWord = `@${candidates[index]!} `;
    const text = input.text.slice(0, start) + word + input.text.slice(start + prevWord.length);
    return {
      ...s,
      input: { text, cursor: start + word.length, completion: { start, candidates, index: nextIndex } },
    };
  }
  const before = input.text.slice(0, input.cursor);
  const m = /@([a-z0-9_.-]*)$/i.exec(before);
  if (!m || s.open === null) return s;
  const prefix = m[1]!.toLowerCase();
  const members = s.members[s.open] ?? [];
  const candidates = members.filter((u) => u !== s.me && u.startsWith(prefix)).sort();
  if (candidates.length === 0) return { ...s, flash: `no member of this chat starts with @${prefix}` };
  const start = m.index;
  const word = `@${candidates[0]!} `;
  const text = input.text.slice(0, start) + word + input.text.slice(input.cursor);
  return {
    ...s,
    input: {
      text,
      cursor: start + word.length,
      ...(candidates.length > 1 ? { completion: { start, candidates, index: 0 } } : {}),
    },
  };
}

/** The keys that only edit the input. */
export type EditKey = Extract<
  KeyName,
  "backspace" | "delete" | "left" | "right" | "home" | "end" | "killLine" | "killWord"
>;

/** The input after an editing key. */
export function edit(input: InputState, key: EditKey): InputState {
  const { text, cursor } = input;
  switch (key) {
    case "backspace": {
      if (cursor === 0) return input;
      const b = prevBoundary(text, cursor);
      return { text: text.slice(0, b) + text.slice(cursor), cursor: b };
    }
    case "delete": {
      if (cursor >= text.length) return input;
      return { text: text.slice(0, cursor) + text.slice(nextBoundary(text, cursor)), cursor };
    }
    case "left":
      return { ...input, cursor: prevBoundary(text, cursor) };
    case "right":
      return { ...input, cursor: nextBoundary(text, cursor) };
    case "home":
      return { ...input, cursor: 0 };
    case "end":
      return { ...input, cursor: text.length };
    case "killLine":
      return { text: text.slice(cursor), cursor: 0 };
    case "killWord": {
      const before = text.slice(0, cursor).replace(/\S+\s*$|\s+$/u, "");
      return { text: before + text.slice(cursor), cursor: before.length };
    }
  }
}
