// Reads a process's memory from /proc: resident now and its peak, in MiB.
import { readFileSync } from "node:fs";

/** `{ rss, peak }` of process `pid`, in MiB (Linux only). */
export function memory(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name) => Number(status.match(new RegExp(`^${name}:\\s+(\\d+) kB`, "m"))[1]) / 1024;
  return { rss: Math.round(field("VmRSS")), peak: Math.round(field("VmHWM")) };
}
