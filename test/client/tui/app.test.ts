/**
 * The rendered terminal UI through ink-testing-library: frames asserted, keys fed through the
 * test stdin as a terminal sends them. The store's effects are collected instead of carried
 * out (no engine), so this checks the renderer and the key path, not the network.
 */
import { createElement } from "react";
import { render } from "ink-testing-library";
import { afterEach, describe, expect, test, vi } from "vitest";
import { App } from "../../../client/tui/app.js";
import { UiStore } from "../../../client/tui/ui-store.js";
import type { Effect } from "../../../client/tui/view-model.js";
import { message, stored, threeChats } from "./fixtures.js";

const mounted: { unmount(): void }[] = [];
afterEach(() => {
  for (const m of mounted.splice(0)) m.unmount();
});

/** alice's UI at 100×20 (ink-testing-library's stdout is 100 columns), bob's chat open. */
function mount() {
  const store = new UiStore(threeChats(100, 20).state);
  const effects: Effect[] = [];
  store.onEffect = (e) => effects.push(e);
  store.dispatch({ type: "open", chat: 1 });
  store.dispatch({
    type: "page",
    chat: 1,
    items: [stored(10, "bob", "hello from the store")],
    more: false,
    older: false,
  });
  store.dispatch({ type: "status", status: { state: "listening" }, now: 0, queued: 0 });
  const ui = render(createElement(App, { store }));
  mounted.push(ui);
  const frame = () => ui.lastFrame() ?? "";
  const waitFrame = (re: RegExp) => vi.waitFor(() => expect(frame()).toMatch(re), { timeout: 5000, interval: 10 });
  return { store, effects, ui, frame, waitFrame };
}

describe("the rendered UI", () => {
  test("draws the chat list, the open chat, the status bar and the input line", async () => {
    const { frame, waitFrame } = mount();
    await waitFrame(/hello from the store/);
    const rows = frame().split("\n");
    expect(rows).toHaveLength(20);
    expect(rows[0]).toMatch(/^ Chats +│ @bob/);
    expect(frame()).toMatch(/▸ bob/);
    expect(frame()).toMatch(/carol +2 │/);
    expect(frame()).toMatch(/Bob B\. \(@bob\): hello from the store/);
    expect(rows[18]).toMatch(/connected as @alice to 127\.0\.0\.1:7447 +\? help/);
    expect(rows[19]).toMatch(/^>$/); // the cursor: an inverted blank (no colours here)
  });

  test("typed keys edit the input; Enter sends; the sent line shows its state", async () => {
    const { ui, effects, store, waitFrame } = mount();
    await waitFrame(/hello from the store/);
    ui.stdin.write("hi bob 世界");
    await waitFrame(/> hi bob 世界/);
    ui.stdin.write("\r");
    await waitFrame(/@alice\): hi bob 世界 … \(sending\)/);
    const send = effects.find((e) => e.type === "send");
    expect(send).toMatchObject({ type: "send", chat: 1, text: "hi bob 世界" });
    store.dispatch({ type: "sent", chat: 1, key: (send as { key: string }).key, id: 11, ts: 0 });
    await waitFrame(/hi bob 世界 ✓/);
  });

  test("an incoming message in another chat updates the list; Down + Enter opens it", async () => {
    const { ui, store, effects, frame, waitFrame } = mount();
    await waitFrame(/hello from the store/);
    store.dispatch({ type: "engine", event: message(3, 40, "dave", "@alice are you there?") });
    await waitFrame(/dave +@ 1 │/);
    expect(effects).toContainEqual({ type: "bell" });
    ui.stdin.write("\x1b[A");
    ui.stdin.write("\x1b[A");
    await waitFrame(/\n.*dave/);
    ui.stdin.write("\r");
    await waitFrame(/│ @dave/);
    expect(effects).toContainEqual({ type: "load", chat: 3 });
    expect(frame()).not.toMatch(/dave +@ 1/);
  });

  test("? shows the key bindings and Esc closes them; /quit asks to quit", async () => {
    const { ui, effects, waitFrame } = mount();
    await waitFrame(/hello from the store/);
    ui.stdin.write("?");
    await waitFrame(/│ Keys/);
    await waitFrame(/Alt\+Enter or Ctrl-J +new line/);
    ui.stdin.write("\x1b");
    await waitFrame(/│ @bob/);
    ui.stdin.write("/quit\r");
    await vi.waitFor(() => expect(effects).toContainEqual({ type: "quit", now: false }), {
      timeout: 5000,
      interval: 10,
    });
  });

  test("a key change shows the banner and the input's prompt says sending is blocked", async () => {
    const { store, frame, waitFrame } = mount();
    store.dispatch({ type: "engine", event: { type: "key_change", user: "bob", chat: 1 } });
    await waitFrame(/bob's identity key changed\. Sending is blocked/);
    expect(frame().split("\n")[19]).toMatch(/^!$/);
  });
});
