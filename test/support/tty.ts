// Runs `moat` on a terminal, as an operator would: util-linux `script` gives it a pty, so
// moat's stdout and stderr are a TTY (both arrive here merged, with newlines as \r\n).
import { spawn } from "node:child_process";
import { MOAT, REPO } from "./moat-cli.js";

const quote = (a: string): string => `'${a.replace(/'/g, `'\\''`)}'`;

/**
 * `moat args` on a pty. With `type`, `type.text` is typed once `type.after` shows, then Ctrl-A x
 * once `type.until` shows after it (or 30 s pass). stdin stays open until moat ends (at its end
 * `script` would send the terminal's end-of-file to moat). Killed after 60 s.
 */
export function moatOnTty(
  args: string[],
  env: Record<string, string> = {},
  type?: { after: RegExp; text: string; until: RegExp },
): Promise<{ status: number | null; out: string }> {
  return new Promise((resolve) => {
    const cmd = [process.execPath, MOAT, ...args].map(quote).join(" ");
    const p = spawn("script", ["-qec", cmd, "/dev/null"], {
      cwd: REPO,
      env: { ...process.env, ...env },
      stdio: "pipe",
    });
    let out = "";
    let typedAt = -1;
    let detached = false;
    let late: NodeJS.Timeout | undefined;
    const detach = (): void => {
      if (!detached && p.exitCode === null) p.stdin.write("\x01x");
      detached = true;
    };
    p.stdin.on("error", () => {});
    p.stdout.on("data", (d: Buffer) => {
      out += d.toString("latin1");
      if (type && typedAt < 0 && type.after.test(out)) {
        typedAt = out.length;
        p.stdin.write(type.text);
        late = setTimeout(detach, 30_000);
      }
      if (type && typedAt >= 0 && type.until.test(out.slice(typedAt))) detach();
    });
    const t = setTimeout(() => p.kill("SIGKILL"), 60_000);
    p.on("close", (status) => {
      clearTimeout(t);
      clearTimeout(late);
      resolve({ status, out });
    });
  });
}
