/**
 * The terminal UI's renderer: ink components that draw the rows layout.ts computes from the
 * state (one <Text> per screen row, so ink's incremental rendering rewrites only the rows that
 * changed) and feed key presses (keys.ts) to the store. Nothing here decides anything.
 */
import { Box, Text, useStdin } from "ink";
import { createElement as h, memo, useEffect, useSyncExternalStore } from "react";
import { decodeKeys } from "./keys.js";
import { type Row, type Segment, type Style, screen } from "./layout.js";
import type { UiStore } from "./ui-store.js";

/** Colours and attributes of each style. */
const LOOK: Readonly<Record<Style, Record<string, unknown>>> = {
  plain: {},
  dim: { dimColor: true },
  bold: { bold: true },
  warn: { color: "red", bold: true },
  mention: { color: "yellow", bold: true },
  self: { color: "cyan", bold: true },
  selected: { inverse: true },
  header: { bold: true, underline: true },
  status: { inverse: true },
  statusWarn: { inverse: true, color: "red" },
  cursor: { inverse: true },
};

function segment(s: Segment, i: number) {
  return h(Text, { key: i, ...LOOK[s.style] }, s.text);
}

/** One screen row; memoised on its content so an unchanged row is not even re-rendered. */
const ScreenRow = memo(
  function ScreenRow({ row }: { row: Row }) {
    return h(Text, { wrap: "truncate-end" }, ...row.map(segment));
  },
  (a, b) => sameRow(a.row, b.row),
);

function sameRow(a: Row, b: Row): boolean {
  return a.length === b.length && a.every((s, i) => s.text === b[i]!.text && s.style === b[i]!.style);
}

/** Reads key presses from ink's input events and dispatches them. */
function useKeys(store: UiStore): void {
  const { setRawMode, isRawModeSupported, internal_eventEmitter: events } = useStdin();
  useEffect(() => {
    if (isRawModeSupported) setRawMode(true);
    const onInput = (input: string) => {
      for (const key of decodeKeys(input)) store.dispatch({ type: "key", key });
    };
    events.on("input", onInput);
    return () => {
      events.off("input", onInput);
      if (isRawModeSupported) setRawMode(false);
    };
  }, [store, setRawMode, isRawModeSupported, events]);
}

/** The whole screen. */
export function App({ store }: { store: UiStore }) {
  const state = useSyncExternalStore(store.subscribe, store.getState);
  useKeys(store);
  const rows = screen(state);
  return h(Box, { flexDirection: "column", width: state.cols }, ...rows.map((row, i) => h(ScreenRow, { key: i, row })));
}
