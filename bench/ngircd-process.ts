/**
 * Runs ngircd, the plaintext IRC server a team would otherwise run, as the relay benchmark's
 * peer (bench/relay-vs-ngircd.ts). Installed from Debian's package only when asked
 * (`--install-peer`); never by `npm test`. Configured so that nothing of IRC's own client
 * protection throttles a benchmark: no penalty time (MaxPenaltyTime = 0), no connection or
 * join limits, no DNS/ident lookups, and the benchmark's clients become operators with user
 * mode +F (ngircd's relaxed flood protection: more commands per client per loop). TCP_NODELAY,
 * which the relay sets and ngircd 26 does not, is added by an LD_PRELOAD shim
 * (bench/ngircd-nodelay.c) when a C compiler is there; the result says whether it was.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { packageRoot } from "../src/paths.js";

export const NGIRCD = "/usr/sbin/ngircd";
/** The operator account the benchmark's clients use to get user mode +F. */
export const OPER_NAME = "bench";
export const OPER_PASSWORD = "bench";

export interface NgircdProcess {
  readonly child: ChildProcess;
  readonly port: number;
  /** Whether ngircd's accepted sockets have TCP_NODELAY (the shim was built and loaded). */
  readonly noDelay: boolean;
  readonly version: string;
  stop(): Promise<void>;
}

/** Installs the Debian package (needs root and apt); only called for `--install-peer`. */
export function installNgircd(): void {
  if (existsSync(NGIRCD)) return;
  execFileSync("apt-get", ["install", "-y", "--no-install-recommends", "ngircd"], { stdio: "inherit" });
}

function config(dir: string, port: number): string {
  return `[Global]
Name = bench.irc
Info = SocketMessenger benchmark peer
Listen = 127.0.0.1
Ports = ${port}
PidFile = ${join(dir, "ngircd.pid")}
MotdPhrase = bench
[Limits]
MaxConnections = 0
MaxConnectionsIP = 0
MaxJoins = 0
MaxPenaltyTime = 0
PingTimeout = 3600
PongTimeout = 3600
MaxNickLength = 30
[Options]
DNS = no
Ident = no
PAM = no
OperCanUseMode = yes
[Operator]
Name = ${OPER_NAME}
Password = ${OPER_PASSWORD}
`;
}

/** Builds the TCP_NODELAY shim; undefined when there is no C compiler. */
function buildShim(dir: string): string | undefined {
  const src = join(packageRoot(), "bench", "ngircd-nodelay.c");
  const out = join(dir, "nodelay.so");
  try {
    execFileSync("cc", ["-shared", "-fPIC", "-O2", "-o", out, src, "-ldl"], { stdio: "ignore" });
    return out;
  } catch {
    return undefined;
  }
}

function waitForPort(port: number, deadline: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      const s = connect(port, "127.0.0.1");
      s.once("connect", () => {
        s.destroy();
        resolve();
      });
      s.once("error", () => {
        s.destroy();
        if (Date.now() > deadline) reject(new Error(`ngircd did not listen on port ${port}`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

/** Starts ngircd in the foreground on `port`, with or without the TCP_NODELAY shim. */
export async function startNgircd(port: number, opts: { noDelay: boolean }): Promise<NgircdProcess> {
  if (!existsSync(NGIRCD))
    throw new Error(`ngircd is not installed (${NGIRCD}); run with --install-peer or apt-get install ngircd`);
  const dir = mkdtempSync(join(tmpdir(), "smsg-ngircd-"));
  const conf = join(dir, "ngircd.conf");
  writeFileSync(conf, config(dir, port));
  const shim = opts.noDelay ? buildShim(dir) : undefined;
  const version = execFileSync(NGIRCD, ["--version"], { encoding: "utf8" }).split("\n")[0]!;
  const child = spawn(NGIRCD, ["--nodaemon", "--config", conf], {
    stdio: ["ignore", "ignore", "pipe"],
    env: shim ? { ...process.env, LD_PRELOAD: shim } : process.env,
  });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  await waitForPort(port, Date.now() + 10_000);
  return {
    child,
    port,
    noDelay: shim !== undefined,
    version,
    async stop() {
      child.kill("SIGTERM");
      await exited;
    },
  };
}
