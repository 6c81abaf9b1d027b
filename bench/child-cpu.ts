/**
 * Preloaded into a benchmarked child process (`node --import .../child-cpu.js`): when it exits,
 * writes its own CPU time (user + sys of the whole process, every thread, from getrusage via
 * process.cpuUsage) as JSON to the file SMSG_BENCH_CPU_FILE names. On a shared, loaded machine
 * CPU time is what a benchmark can compare; wall time mostly measures the other load.
 */
import { writeFileSync } from "node:fs";

const file = process.env["SMSG_BENCH_CPU_FILE"];
if (file)
  process.on("exit", () => {
    const { user, system } = process.cpuUsage();
    writeFileSync(file, JSON.stringify({ userMs: user / 1000, sysMs: system / 1000 }));
  });
