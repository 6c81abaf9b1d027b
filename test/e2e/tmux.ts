/**
 * A real terminal for end-to-end tests: a tmux server on its own socket (`tmux -L NAME`, so
 * parallel tests and a user's own tmux never meet) running one command in one window, with
 * send-keys to type, capture-pane to read the screen, resize-window to resize, and a file
 * that receives the command's exit code (the pane stays open after it, so the terminal's
 * state can still be asked: `#{alternate_on}`).
 */
import { execFile } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** One tmux window running one command (see the file comment). */
export class TmuxTerminal {
  private constructor(
    private readonly socket: string,
    private readonly exitFile: string,
  ) {}

  /**
   * Starts `argv` (run with `env`) in a `cols`×`rows` terminal. The exit code goes to a file in
   * `dir`. The socket name is unique per call.
   */
  static async start(
    dir: string,
    argv: readonly string[],
    env: Readonly<Record<string, string>>,
    cols: number,
    rows: number,
  ): Promise<TmuxTerminal> {
    const socket = `smsg-e2e-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
    const exitFile = join(dir, `${socket}.exit`);
    const quote = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;
    const envArgs = Object.entries(env).map(([k, v]) => quote(`${k}=${v}`));
    const command = `env ${envArgs.join(" ")} ${argv.map(quote).join(" ")}; echo $? > ${quote(exitFile)}; exec sleep 600`;
    await run("tmux", [
      "-L",
      socket,
      "-f",
      "/dev/null",
      "new-session",
      "-d",
      "-s",
      "t",
      "-x",
      String(cols),
      "-y",
      String(rows),
      command,
    ]);
    return new TmuxTerminal(socket, exitFile);
  }

  private tmux(...args: string[]): Promise<{ stdout: string }> {
    return run("tmux", ["-L", this.socket, ...args]);
  }

  /** The screen as text, one line per row. */
  async screen(): Promise<string> {
    return (await this.tmux("capture-pane", "-p", "-t", "t")).stdout;
  }

  /** Polls the screen until it matches `re`; throws with the last screen after `ms`. */
  async waitFor(re: RegExp, ms = 30_000): Promise<string> {
    const end = Date.now() + ms;
    for (;;) {
      const s = await this.screen();
      if (re.test(s)) return s;
      if (Date.now() > end) throw new Error(`the terminal never showed ${String(re)}; it shows:\n${s}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Types `text` as it is (no key names). */
  async type(text: string): Promise<void> {
    await this.tmux("send-keys", "-t", "t", "-l", text);
  }

  /** Presses keys by tmux name (Enter, C-d, Down, M-a, …). */
  async press(...keys: string[]): Promise<void> {
    await this.tmux("send-keys", "-t", "t", ...keys);
  }

  async resize(cols: number, rows: number): Promise<void> {
    await this.tmux("resize-window", "-t", "t", "-x", String(cols), "-y", String(rows));
  }

  /** A tmux format about the pane (`#{alternate_on}`, `#{cursor_flag}`). */
  async display(format: string): Promise<string> {
    return (await this.tmux("display-message", "-p", "-t", "t", format)).stdout.trim();
  }

  /** Polls until the command exited; its exit code. */
  async exitCode(ms = 30_000): Promise<number> {
    const end = Date.now() + ms;
    for (;;) {
      if (existsSync(this.exitFile)) {
        const text = readFileSync(this.exitFile, "utf8").trim();
        if (text !== "") return Number(text);
      }
      if (Date.now() > end) throw new Error(`the command did not exit; the terminal shows:\n${await this.screen()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Stops the tmux server (and what runs in it) and removes its socket file, which tmux leaves behind. */
  async kill(): Promise<void> {
    const socketPath = await this.display("#{socket_path}").catch(() => "");
    await this.tmux("kill-server").catch(() => undefined);
    if (socketPath !== "") rmSync(socketPath, { force: true });
  }
}
