// `moat audit`: the host's and moat's own security set-up, checked (src/host/host-audit.ts).
import type { Command } from "commander";
import { auditConfig, SETTINGS_COPY } from "./daemon-config.js";
import type { Finding } from "../host/audit-finding.js";

const LABEL = { pass: "PASS", warn: "WARN", fail: "FAIL" } as const;

/** Human-readable findings: one line each, the fix under a warning or failure. */
export function formatFindings(findings: Finding[]): string {
  const width = Math.max(...findings.map((f) => f.id.length));
  const lines = findings.map(
    (f) =>
      `${LABEL[f.status]}  ${f.id.padEnd(width)}  ${f.why}` +
      (f.fix ? `\n      ${"".padEnd(width)}  fix: ${f.fix}` : ""),
  );
  const n = summarize(findings);
  return `${lines.join("\n")}\n\n${n.pass} pass, ${n.warn} warn, ${n.fail} fail\n`;
}

/** How many findings have each status. */
function summarize(findings: Finding[]): Record<Finding["status"], number> {
  const n = { pass: 0, warn: 0, fail: 0 };
  for (const f of findings) n[f.status]++;
  return n;
}

/** Which settings the policies were judged by: without a file, only the defaults. */
function settingsFinding(
  home: string,
  from: "config" | "daemon" | "defaults",
  config: string | undefined,
): Finding {
  const copy = `${home}/${SETTINGS_COPY}`;
  if (from === "config")
    return { id: "settings", status: "pass", why: `the settings checked are ${config}`, fix: "" };
  if (from === "daemon")
    return {
      id: "settings",
      status: "pass",
      why: `the settings checked are those the daemon at ${home} last started with (${copy})`,
      fix: "",
    };
  return {
    id: "settings",
    status: "warn",
    why: `no daemon has started with ${home} as its home (no ${copy}): the policies checked are moat's defaults`,
    fix: "give --home the daemon's home (as moat daemon had it), or --config the file it runs with",
  };
}

export function registerAuditCommand(program: Command): void {
  program
    .command("audit")
    .description(
      "Check this host and moat's set-up against the threat model (docs/threat-model.md): CPU " +
        "vulnerabilities, SMT and KSM against the trust-domain policy, swap, /dev/kvm and " +
        "/dev/net/tun, nested virtualisation, the API socket and TLS key, admin tokens, the " +
        "audit log's chain, VM jails, seccomp, image directories and each VM's files in them, " +
        "VM processes whose directory is gone (a home removed under them), " +
        "tenant domains' quotas, agent policies and rate limits, the Node.js runtime's support, " +
        "and that the installed CPU core, guests and files are the recorded ones. Prints " +
        "pass/warn/fail with why and how to fix; exit 1 if any fail. " +
        "Changes nothing",
    )
    .option("--home <dir>", "the daemon's state directory (default: $MOAT_HOME or /var/lib/moat)")
    .option(
      "--config <file>",
      "the daemon's JSON settings, for its policies (default: the copy the daemon at --home " +
        `recorded when it started, ${SETTINGS_COPY} there)`,
    )
    .option(
      "--root <dir>",
      "read /proc, /sys and /dev under this directory instead of / (tests)",
      "/",
    )
    .option("--json", "the findings as JSON")
    .action(async (o: { home?: string; config?: string; root: string; json?: boolean }) => {
      const { config, from } = auditConfig(o);
      const findings = [
        settingsFinding(config.home, from, o.config),
        ...(await (
          await import("../host/host-audit.js")
        ).audit({ root: o.root, config, now: new Date(), nodeVersion: process.version })),
      ];
      if (o.json) {
        const summary = summarize(findings);
        process.stdout.write(JSON.stringify({ findings, summary }, null, 2) + "\n");
      } else process.stdout.write(formatFindings(findings));
      if (findings.some((f) => f.status === "fail")) process.exitCode = 1;
    });
}
