/**
 * Starts the full-screen terminal UI (`smsg`, `smsg open CHAT` on a terminal; `--plain` and
 * pipes get line mode instead, client/commands/interactive.ts). This module and its imports are
 * loaded only then (a dynamic import), so one-shot commands never load ink and React.
 *
 * Order: resolve the chat asked for (an unknown one fails as in line mode, before the screen
 * changes), take the terminal (terminal.ts), render, wait for the user to quit, give the
 * terminal back, and say how many messages stay queued. A crash gives the terminal back before
 * the error is printed, so the error is readable.
 */
import { EXIT } from "../../src/exit-codes.js";
import type { Account } from "../engine/open-account.js";
import { TuiController } from "./controller.js";
import { initialState } from "./state.js";
import { FrameWriter, ScreenStream } from "./frame-writer.js";
import { CLEAR_SCREEN, takeTerminal } from "./terminal.js";
import { UiStore } from "./ui-store.js";

/** Options of runTui. */
export interface TuiOptions {
  /** Open this chat (id, name or user) first. */
  readonly chat?: string | undefined;
  /** Ring the bell on a message out of view or mentioning us. */
  readonly bell: boolean;
}

let renderer: Promise<[typeof import("ink"), typeof import("react"), typeof import("./app.js")]> | undefined;

/**
 * Starts loading ink, React and the components (the slowest part of starting the UI), once;
 * `smsg` calls it before it opens the profile, so both happen at the same time.
 */
export function loadRenderer(): NonNullable<typeof renderer> {
  // React's production build: its development build is several times slower and checks for
  // programming mistakes at every render (it picks the build from NODE_ENV when first loaded).
  process.env["NODE_ENV"] ??= "production";
  renderer ??= Promise.all([import("ink"), import("react"), import("./app.js")]);
  return renderer;
}

/** The terminal's size, with a usable default when it does not say. */
function terminalSize(): { cols: number; rows: number } {
  return { cols: process.stdout.columns || 80, rows: process.stdout.rows || 24 };
}

/** Runs the UI until the user quits (see the file comment). Throws what opening the chat throws, or a fatal listener error. */
export async function runTui(acct: Account, opts: TuiOptions): Promise<void> {
  const [{ render }, { createElement }, { App }] = await loadRenderer();

  const { cols, rows } = terminalSize();
  const store = new UiStore(initialState(acct.username, `${acct.relayHost}:${acct.relayPort}`, cols, rows, Date.now()));
  const controller = new TuiController(acct, store, {
    ...(opts.bell ? { bell: () => process.stdout.write("\x07") } : {}),
  });
  try {
    if (opts.chat !== undefined) await controller.openArg(opts.chat);
    else controller.openNewest();
  } catch (e) {
    await controller.close();
    throw e;
  }

  const restore = takeTerminal({ stdin: process.stdin, stdout: process.stdout });
  const crash = (err: unknown) => {
    restore();
    process.stderr.write(
      `smsg: the terminal UI stopped: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(EXIT.failure);
  };
  process.on("uncaughtException", crash);
  process.on("unhandledRejection", crash);

  const writer = new FrameWriter(process.stdout);
  const screenStream = new ScreenStream(writer, { cols, rows });
  // debug: ink writes every frame whole into screenStream, which draws only the changed rows.
  const instance = render(createElement(App, { store }), {
    stdout: screenStream as unknown as NodeJS.WriteStream,
    stdin: process.stdin,
    stderr: process.stderr,
    debug: true,
    exitOnCtrlC: false,
    patchConsole: false,
  });
  // A resize redraws every row from a clear screen.
  const onResize = () => {
    const size = terminalSize();
    process.stdout.write(CLEAR_SCREEN);
    writer.reset();
    screenStream.resize(size.cols, size.rows);
    store.dispatch({ type: "resize", cols: size.cols, rows: size.rows });
  };
  process.stdout.on("resize", onResize);
  const onSignal = () => controller.requestQuit(false);
  process.on("SIGTERM", onSignal);
  process.on("SIGHUP", onSignal);

  let queued: number;
  try {
    queued = (await controller.finished()).queued;
  } finally {
    process.stdout.off("resize", onResize);
    process.off("SIGTERM", onSignal);
    process.off("SIGHUP", onSignal);
    instance.unmount();
    instance.cleanup();
    restore();
    process.off("uncaughtException", crash);
    process.off("unhandledRejection", crash);
  }
  if (queued > 0) {
    const one = queued === 1;
    process.stderr.write(
      `smsg: ${queued} message${one ? " stays" : "s stay"} queued: the next smsg that reaches the relay sends ${one ? "it" : "them"}\n`,
    );
  }
  if (controller.leftNow) {
    // A second Ctrl-C while waiting: leave without waiting (what was typed is in the outbox).
    process.exit(EXIT.ok);
  }
  await controller.close();
}
