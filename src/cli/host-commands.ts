// The `moat` commands that talk to the host daemon (and `moat daemon`, which is it).
import { RAW_HELP, guestOutputFilter, noteDropped, writeGuestOutput } from "./guest-output.js";
import type { TerminalFilter } from "../vmm/terminal-filter.js";
import { parseDisplayMode } from "./run-command.js";
import { resolve } from "node:path";
import { writeFileSync } from "node:fs";
import { Command, Option } from "commander";
import {
  ApiClientError,
  apiClient,
  connection,
  ok,
  openConsole,
  type Api,
  type Connection,
  type Vm,
} from "./api-client.js";
import { UsageError } from "./usage-error.js";
import { parseIntOption } from "./run-command.js";
import { agentSpec, parseDiskSpecs, parseNetSpecs } from "./device-options.js";
import { imageDiskSpec } from "./image-commands.js";
import { CPU_TIER_HELP, parseCpuTier } from "./vm-options.js";
import { inCliWords, specFromFile } from "./create-spec.js";
import { followConsole, lastLines } from "./logs-follow.js";
import { LIST_FORMAT_HELP, parseListFormat, vmRows, type ListedVm } from "./vm-list.js";
import type { components } from "./api-types.js";
import { VM_NAME_WORDS } from "../vmm/vm-config.js";
import {
  DEFAULT_HOME,
  DEFAULT_STOP_GRACE_MS,
  LOG_FORMATS,
  STOP_GRACE_MAX_S,
  type LogFormat,
} from "../host/config.js";
import { sizeText, table } from "./text-table.js";
import { hostText, type HostView } from "./host-view.js";
import { daemonConfig, recordSettings } from "./daemon-config.js";
import type { DaemonHost } from "../host/daemon.js";
import { kvmKind } from "../kvm/kvm-probe.js";
import type { AuditHead } from "../host/audit-log.js";

export { ApiClientError, sizeText };

interface Conn {
  socket?: string;
  tokenFile?: string;
}

function conn(cmd: Command): Connection {
  const o = cmd.optsWithGlobals<Conn>();
  return connection(o);
}

/** The generated API client (api-types.ts) for the daemon the command's options name. */
function api(cmd: Command): Api {
  return apiClient(conn(cmd));
}

/** The path parameter naming VM `vm`. */
const vmPath = (vm: string) => ({ params: { path: { vm } } });

function print(json: boolean, value: unknown, human: () => string): void {
  process.stdout.write(json ? JSON.stringify(value, null, 2) + "\n" : human());
}

/** Adds the daemon's commands to `program`. */
export function registerHostCommands(program: Command): void {
  program
    .option(
      "--socket <path>",
      "the daemon's API socket (default: $MOAT_SOCKET, or $MOAT_HOME/moat.sock)",
    )
    .option(
      "--token-file <path>",
      "a file holding an API token (default: the token in $MOAT_TOKEN, or the file " +
        "$MOAT_TOKEN_FILE names, or $MOAT_HOME/admin.token)",
    );

  program
    .command("daemon")
    .description(
      "Run the host daemon (moatd) in the foreground: VM records in SQLite under --home, one " +
        "supervised process per VM, the API on a Unix socket (root:moat 0660). VMs keep running " +
        "when it stops; the next daemon takes them over. See docs/host.md",
    )
    .option("--home <dir>", "state directory (default: $MOAT_HOME or /var/lib/moat)")
    .option("--config <file>", "JSON settings (docs/host.md lists them)")
    .addOption(
      new Option(
        "--log-format <format>",
        "the log on stderr: text lines, or JSON lines with level, time and fields " +
          "(default: the config's \"logFormat\", or text); each VM's own log (logs/<id>.log) " +
          "is written in the same format",
      ).choices(LOG_FORMATS),
    )
    .action(async (o: { home?: string; config?: string; logFormat?: LogFormat }) => {
      const cfg = daemonConfig(o);
      const socketOpt = program.opts<Conn>().socket;
      if (socketOpt) cfg.socket = socketOpt;
      if (o.logFormat) cfg.logFormat = o.logFormat;
      // Loaded here, not with the CLI: every VM process is a `moat` too, and needs no daemon.
      const { Daemon, DaemonError } = await import("../host/daemon.js");
      const log = (await import("../host/log.js")).makeLog(cfg.logFormat);
      let d: Awaited<ReturnType<typeof Daemon.start>>;
      try {
        d = await Daemon.start(cfg, DAEMON_HOST, log);
      } catch (e) {
        throw new UsageError(startFailure(e, cfg.home, e instanceof DaemonError));
      }
      try {
        recordSettings(cfg.home, o.config);
      } catch (e) {
        log.warn(`cannot record its settings for moat audit: ${(e as Error).message}`);
      }
      log.info(`ready (pid ${process.pid}, home ${cfg.home})`);
      await new Promise<void>((res) => {
        const stop = (sig: string): void => {
          log.info(`${sig}: stopping; VMs keep running`);
          // A close that hangs must not keep a stopped daemon's PID alive.
          setTimeout(() => process.exit(0), 5000).unref();
          void d.close().then(res);
        };
        process.once("SIGTERM", () => stop("SIGTERM"));
        process.once("SIGINT", () => stop("SIGINT"));
      });
    });

  program
    .command("create")
    .description(
      "Define a VM on the daemon (start it with 'moat start NAME'): with flags, or with -f and " +
        "the JSON the API takes",
    )
    .option(
      "-f, --file <spec.json>",
      "the VM as the JSON of the API's POST /v1/vms (VmSpec, docs/host.md; - reads stdin); " +
        "flags that set the VM are refused with it (the file says it all)",
    )
    .option(
      "--name <name>",
      `a name unique in its trust domain: ${VM_NAME_WORDS} (required without -f)`,
    )
    .addOption(new Option("--accel <name>", "soft, kvm or auto").default("auto"))
    .option("--cpu-tier <tier>", CPU_TIER_HELP)
    .option("--cpus <n>", "vCPUs, 1-8", "1")
    .option("--memory <MiB>", "guest RAM, MiB", "128")
    .option("--kernel <file>", "kernel (default: the shipped one)")
    .option("--initrd <file>", "initramfs")
    .option("--no-initrd", "no initramfs: the kernel mounts its root (see moat run --help)")
    .option("--cmdline <string>", "kernel command line")
    .option(
      "--disk <path[,ro][,bps=N][,iops=N][,format=raw|qcow2]|image=NAME[,...]>",
      "a disk image, as for moat run (repeat); its format is found at create and kept. " +
        "image=NAME: a thin qcow2 overlay, in the VM's own directory, on the daemon's image " +
        "NAME of the VM's trust domain (moat image ls)",
      collect,
    )
    .option(
      "--net <tap=NAME|bridge=BR|tap=NAME,bridge=BR[,mac=M][,bps=N][,pps=N]>",
      "a NIC, as for moat run (repeat)",
      collect,
    )
    .option("--vsock-cid <n>", "a vsock device with this guest CID")
    .option("--balloon [opts]", "a balloon device; 'reporting=off' turns free page reporting off")
    .option(
      "--agent [allow=LIST]",
      "a guest-agent channel (moat guest info, moat exec); the shipped riscv64 guest then " +
        "starts its qemu-guest-agent. Its policy allows the informational commands and " +
        "shutdown; allow=info,shutdown,exec (classes: info, shutdown, fsfreeze, exec, file, " +
        "or single commands) sets it instead. See docs/agent.md",
    )
    .option("--rng", "an entropy device")
    .option("--lock-memory", "keep guest RAM out of swap (and KSM); not with --balloon")
    .option(
      "--display [WxH]",
      "a display, the shipped guest's shell on it (VNC on the VM's socket; moat screenshot), default 1024x768",
    )
    .option("--domain <name>", "trust domain (tenant); default: yours, or 'default'")
    .option("--label <key=value>", "a label (repeat)", collect)
    .addOption(
      new Option("--restart <policy>", "restart policy")
        .choices(["no", "on-failure", "always"])
        .default("no"),
    )
    .option("--cpu-weight <n>", "CPU weight against other VMs, 1-10000 (default 100)")
    .option("--cpu-max <cpus>", "hard CPU cap in host CPUs, e.g. 0.2")
    .option("--json", "print the created VM as JSON")
    .action(async (o: Record<string, unknown>, cmd: Command) => {
      const file = o.file as string | undefined;
      const spec = file !== undefined ? specFromFile(file, cmd) : specFromFlags(o);
      const vm = await ok(
        api(cmd).POST("/v1/vms", { body: spec as components["schemas"]["VmSpec"] }),
      ).catch((e: unknown) => {
        throw inCliWords(e, file);
      });
      print(o.json === true, vm, () => `${vm.name} ${vm.id} created\n`);
    });

  /** The VmSpec `moat create`'s flags describe. */
  function specFromFlags(o: Record<string, unknown>): Record<string, unknown> {
    if (o.name === undefined) throw new UsageError("moat create needs --name (or -f FILE)");
    const spec: Record<string, unknown> = {
      name: o.name,
      accel: o.accel,
      ...(o.cpuTier !== undefined ? { cpu_tier: parseCpuTier(o.cpuTier as string) } : {}),
      cpus: num(o.cpus as string, "cpus"),
      memory_mib: num(o.memory as string, "memory"),
      restart: o.restart,
    };
    for (const k of ["kernel", "initrd"] as const) if (o[k]) spec[k] = resolve(o[k] as string);
    if (o.initrd === false) spec.initrd = "none";
    if (o.cmdline !== undefined) spec.cmdline = o.cmdline;
    if (o.disk)
      spec.disks = (o.disk as string[]).map((v) =>
        v.startsWith("image=")
          ? imageDiskSpec(v)
          : parseDiskSpecs([v]).map((d) => ({ ...d, path: resolve(d.path) }))[0]!,
      );
    if (o.net) spec.nics = parseNetSpecs(o.net as string[]);
    if (o.vsockCid !== undefined) spec.vsock = { cid: num(o.vsockCid as string, "vsock-cid") };
    if (o.balloon !== undefined) {
      if (o.balloon !== true && o.balloon !== "reporting=off")
        throw new UsageError("--balloon takes nothing or 'reporting=off'");
      spec.balloon = { free_page_reporting: o.balloon === true };
    }
    if (o.agent !== undefined) spec.agent = agentSpec(o.agent as true | string);
    if (o.rng) spec.rng = true;
    if (o.lockMemory) spec.lock_memory = true;
    if (o.display !== undefined) spec.display = parseDisplayMode(o.display as boolean | string);
    if (o.domain) spec.domain = o.domain;
    if (o.label) {
      const labels: Record<string, string> = {};
      for (const l of o.label as string[]) {
        const i = l.indexOf("=");
        if (i < 1) throw new UsageError(`--label wants key=value, not '${l}'`);
        labels[l.slice(0, i)] = l.slice(i + 1);
      }
      spec.labels = labels;
    }
    const cpu: Record<string, number> = {};
    if (o.cpuWeight !== undefined) cpu.weight = num(o.cpuWeight as string, "cpu-weight");
    if (o.cpuMax !== undefined) {
      const v = Number(o.cpuMax);
      if (!(v > 0))
        throw new UsageError(`--cpu-max wants a positive number, not '${String(o.cpuMax)}'`);
      cpu.max = v;
    }
    if (Object.keys(cpu).length) spec.cpu = cpu;
    return spec;
  }

  for (const op of ["start", "stop", "kill", "pause", "resume"] as const) {
    const command = program
      .command(op)
      .description(
        {
          start:
            "Start VMs (admission control may refuse, saying why); a VM already running is " +
            "left as it is, said on stderr (exit 0)",
          stop:
            "Shut VMs down: the guest is asked (the power button, or its guest agent) and " +
            "has a grace time to power itself off, its file systems synced; a guest still " +
            "running then is powered off (like virsh shutdown, then destroy). A shipped guest " +
            "whose userspace has not started yet is powered off at once",
          kill:
            "Power VMs off at once (SIGKILL to the VM process): what the guest had not " +
            "written to its disks is lost (like virsh destroy)",
          pause: "Pause VMs' vCPUs",
          resume: "Resume paused VMs",
        }[op],
      )
      .argument("<vm...>", "names or ids");
    if (op === "stop")
      command.option(
        "-t, --timeout <seconds>",
        `the grace time, 0 to ${STOP_GRACE_MAX_S} (0: power off at once); default the ` +
          `daemon's stopGraceMs (${DEFAULT_STOP_GRACE_MS / 1000} s)`,
      );
    command.action(async (vms: string[], o: { timeout?: string }, cmd: Command) => {
      const c = api(cmd);
      const timeout =
        o.timeout === undefined
          ? undefined
          : parseIntOption(o.timeout, "timeout", 0, STOP_GRACE_MAX_S);
      for (const v of vms) {
        if (op === "start" && (await alreadyRunning(c, v))) continue;
        const r = await ok(
          op === "stop"
            ? c.POST("/v1/vms/{vm}/stop", {
                params: { path: { vm: v }, query: timeout === undefined ? {} : { timeout } },
              })
            : c.POST(`/v1/vms/{vm}/${op}`, vmPath(v)),
        );
        process.stdout.write(`${r.name}: ${r.state}\n`);
      }
    });
  }

  program
    .command("rm")
    .description("Delete VMs (their console logs go too)")
    .argument("<vm...>", "names or ids")
    .option("-f, --force", "kill a running VM first")
    .action(async (vms: string[], o: { force?: boolean }, cmd: Command) => {
      const c = api(cmd);
      for (const v of vms) {
        await ok(
          c.DELETE("/v1/vms/{vm}", {
            params: { path: { vm: v }, query: o.force ? { force: true } : {} },
          }),
        );
        process.stdout.write(`${v}: deleted\n`);
      }
    });

  program
    .command("ls")
    .description("List VMs")
    .option("--json", "JSON (as --format json)")
    .option("-q, --quiet", "only the VMs' ids, one a line (moat rm $(moat ls -q))")
    .option("--format <format>", LIST_FORMAT_HELP)
    .option("--label <key=value>", "only VMs with this label")
    .action(
      async (
        o: { json?: boolean; quiet?: boolean; format?: string; label?: string },
        cmd: Command,
      ) => {
        if ([o.json, o.quiet, o.format].filter((x) => x !== undefined).length > 1)
          throw new UsageError("moat ls takes one of --json, -q and --format");
        const format = o.quiet ? ["id"] : o.json ? "json" : parseListFormat(o.format ?? "table");
        const query = o.label ? { label: o.label } : {};
        const vms: ListedVm[] = await ok(api(cmd).GET("/v1/vms", { params: { query } }));
        if (format === "json" || format === "table")
          print(format === "json", vms, () => table(vmRows(vms)));
        else for (const row of vmRows(vms, format)) process.stdout.write(row.join("\t") + "\n");
      },
    );

  program
    .command("inspect")
    .description("A VM's record and live figures, as JSON")
    .argument("<vm>", "name or id")
    .action(async (vm: string, _o: unknown, cmd: Command) => {
      const c = api(cmd);
      const rec = await ok(c.GET("/v1/vms/{vm}", vmPath(vm)));
      const stats = await ok(c.GET("/v1/vms/{vm}/stats", vmPath(vm)));
      process.stdout.write(JSON.stringify({ ...rec, stats }, null, 2) + "\n");
    });

  program
    .command("logs")
    .description(
      "A VM's console scrollback (kept on disk, up to 1 MiB); -f: then what the guest prints " +
        "until the VM ends or Ctrl-C (through its console: a token that may attach to it)",
    )
    .argument("<vm>", "name or id")
    .option("--bytes <n>", "at most this many bytes (default 65536; with --tail, 1 MiB)")
    .option("-n, --tail <lines>", "only the last LINES lines (0: none, with -f only what comes)")
    .option("-f, --follow", "keep printing what the guest prints, until the VM ends or Ctrl-C")
    .option("--raw", RAW_HELP)
    .action(
      async (
        vm: string,
        o: { bytes?: string; tail?: string; follow?: boolean; raw?: boolean },
        cmd: Command,
      ) => {
        const c = conn(cmd);
        const bytes =
          o.bytes !== undefined ? num(o.bytes, "bytes") : o.tail !== undefined ? 1 << 20 : 65536;
        const tail = o.tail === undefined ? undefined : parseIntOption(o.tail, "tail", 0, 1 << 20);
        const filter = guestOutputFilter(process.stdout, "log", o.raw);
        const write = (b: Buffer): void => writeGuestOutput(process.stdout, b, filter);
        const scrollback = async (): Promise<Buffer> => {
          const text = await ok(
            apiClient(c).GET("/v1/vms/{vm}/logs", {
              params: { path: { vm }, query: { bytes } },
              parseAs: "text",
            }),
          );
          return Buffer.from(tail === undefined ? text : lastLines(text, tail), "utf8");
        };
        if (!o.follow) write(await scrollback());
        else {
          const why = await followConsole(c, vm, scrollback, write);
          if (why) process.stderr.write(`moat: ${why}\n`);
        }
        noteDropped([filter]);
      },
    );

  program
    .command("screenshot")
    .description("Save what a VM's display shows as a PNG (the VM was created with a display)")
    .argument("<vm>", "name or id")
    .argument("<file>", "the PNG to write")
    .action(async (vm: string, file: string, _o: unknown, cmd: Command) => {
      const png = await ok(
        api(cmd).GET("/v1/vms/{vm}/screenshot", { ...vmPath(vm), parseAs: "arrayBuffer" }),
      );
      writeFileSync(file, Buffer.from(png));
    });

  program
    .command("console")
    .description(
      "Attach to a VM's serial console (Ctrl-A x detaches; the VM keeps running). Ending the " +
        "shipped guest's shell there (exit, Ctrl-D) powers the VM off, as ending its init would " +
        "(docs/guest.md)",
    )
    .argument("<vm>", "name or id")
    .option("--raw", RAW_HELP)
    .action(async (vm: string, o: { raw?: boolean }, cmd: Command) => {
      const ws = openConsole(conn(cmd), vm);
      process.exitCode = await attachConsole(
        ws,
        guestOutputFilter(process.stdout, "interactive", o.raw),
      );
    });

  program
    .command("top")
    .description(
      "CPU and memory of running VMs, sampled a second apart; on a terminal it refreshes every " +
        "second until q or Ctrl-C (piped, or with --json or --once: one sample)",
    )
    .option("--json", "JSON (one sample)")
    .option("--once", "one sample, then exit")
    .action(async (o: { json?: boolean; once?: boolean }, cmd: Command) => {
      const c = api(cmd);
      const sample = async (): Promise<Map<string, Record<string, unknown>>> => {
        const vms = await ok(c.GET("/v1/vms", { params: { query: { state: "running" } } }));
        const m = new Map<string, Record<string, unknown>>();
        await Promise.all(
          vms.map(async (v) => m.set(v.id, await ok(c.GET("/v1/vms/{vm}/stats", vmPath(v.id))))),
        );
        return m;
      };
      const rowsOf = (
        a: Map<string, Record<string, unknown>>,
        b: Map<string, Record<string, unknown>>,
        secs: number,
      ) =>
        [...b.values()].map((s) => {
          const before = a.get(String(s.id));
          const cpu =
            before && typeof s.cpu_seconds === "number" && typeof before.cpu_seconds === "number"
              ? ((s.cpu_seconds - before.cpu_seconds) / secs) * 100
              : null;
          const balloon = ((s.vmm as Record<string, unknown> | null)?.balloon ?? null) as {
            actual_mib?: number;
          } | null;
          return {
            name: s.name,
            id: s.id,
            cpu_percent: cpu === null ? null : Math.round(cpu * 10) / 10,
            rss_mib: typeof s.rss_bytes === "number" ? Math.round(s.rss_bytes / 1048576) : null,
            balloon_mib: balloon?.actual_mib ?? null,
          };
        });
      type Row = ReturnType<typeof rowsOf>[number];
      const text = (rows: Row[]): string =>
        table([
          ["NAME", "ID", "CPU%", "RSS", "BALLOON"],
          ...rows.map((r) => [
            String(r.name),
            String(r.id),
            r.cpu_percent === null ? "-" : r.cpu_percent.toFixed(1),
            r.rss_mib === null ? "-" : `${r.rss_mib}M`,
            r.balloon_mib === null ? "-" : `${r.balloon_mib}M`,
          ]),
        ]);
      const live = process.stdout.isTTY === true && !o.json && !o.once;
      const quit = live ? untilQuit() : undefined;
      let a = await sample();
      let t0 = Date.now();
      for (;;) {
        const quitting = await Promise.race([
          new Promise<false>((r) => setTimeout(() => r(false), 1000)),
          quit?.done ?? new Promise<never>(() => {}),
        ]);
        if (quitting) break;
        const b = await sample();
        const rows = rowsOf(a, b, (Date.now() - t0) / 1000);
        if (!live) return print(o.json === true, rows, () => text(rows));
        // Home and clear, then the table: a screen that refreshes in place, as top does.
        process.stdout.write(`\x1b[H\x1b[2Jmoat top: every 1 s (q quits)\n\n${text(rows)}`);
        [a, t0] = [b, Date.now()];
      }
      quit?.release();
    });

  program
    .command("balloon")
    .description("Set a VM's balloon target in MiB (0 deflates)")
    .argument("<vm>", "name or id")
    .argument("<MiB>", "target")
    .action(async (vm: string, mib: string, _o: unknown, cmd: Command) => {
      const r = await ok(
        api(cmd).PUT("/v1/vms/{vm}/balloon", {
          ...vmPath(vm),
          body: { target_mib: num(mib, "MiB") },
        }),
      );
      process.stdout.write(JSON.stringify(r) + "\n");
    });

  program
    .command("host")
    .description("Host capacity, admission headroom and policy")
    .option("--json", "JSON")
    .action(async (o: { json?: boolean }, cmd: Command) => {
      // The document keeps the reply's parts open (informational, growing); the text reads the
      // fields vm-stats.ts host() always sets.
      const h = (await ok(api(cmd).GET("/v1/host"))) as unknown as HostView;
      print(o.json === true, h, () => hostText(h));
    });

  const token = program.command("token").description("API tokens (admin)");
  token
    .command("create")
    .description("Create a token; its secret is printed once")
    .requiredOption("--name <name>", "a name for it")
    .addOption(
      new Option("--role <role>", "what it may do")
        .choices(["admin", "operator", "tenant"])
        .makeOptionMandatory(),
    )
    .option("--domain <domain>", "the tenant's trust domain")
    .option(
      "--expires <duration>",
      "it stops working after this long (90s, 30m, 12h, 7d; up to 365d); default never. " +
        "Consoles and event streams opened with it are closed then",
    )
    .option("--json", "JSON")
    .action(
      async (
        o: { name: string; role: string; domain?: string; expires?: string; json?: boolean },
        cmd: Command,
      ) => {
        const r = await ok(
          api(cmd).POST("/v1/tokens", {
            body: {
              name: o.name,
              role: o.role as "admin" | "operator" | "tenant",
              ...(o.domain ? { domain: o.domain } : {}),
              ...(o.expires !== undefined ? { expires_in_s: seconds(o.expires, "--expires") } : {}),
            },
          }),
        );
        print(o.json === true, r, () => r.token + "\n");
      },
    );
  token
    .command("ls")
    .description("List tokens (not their secrets)")
    .option("--json", "JSON")
    .action(async (o: { json?: boolean }, cmd: Command) => {
      const r = await ok(api(cmd).GET("/v1/tokens"));
      print(o.json === true, r, () =>
        table([
          ["ID", "NAME", "ROLE", "DOMAIN", "EXPIRES"],
          ...r.map((t) => [
            String(t.id),
            String(t.name),
            String(t.role),
            t.domain ?? "-",
            t.expires_at ?? "never",
          ]),
        ]),
      );
    });
  token
    .command("rm")
    .description("Revoke a token")
    .argument("<id>")
    .action(async (id: string, _o: unknown, cmd: Command) => {
      await ok(api(cmd).DELETE("/v1/tokens/{id}", { params: { path: { id } } }));
      process.stdout.write(`${id}: revoked\n`);
    });

  program
    .command("audit-log")
    .description("The daemon's audit log")
    .command("verify")
    .description(
      "Check the hash chain of the audit log (and its head against the daemon's database): " +
        "an edited, inserted or removed line is reported with its line number; exit 1 if any",
    )
    .option("--file <path>", "the log (default: $MOAT_HOME/audit.log)")
    .option("--db <path>", "the daemon's database, for the recorded head (default: beside the log)")
    .option("--json", "JSON")
    .action(async (o: { file?: string; db?: string; json?: boolean }) => {
      const home = process.env.MOAT_HOME ?? DEFAULT_HOME;
      const file = o.file ?? `${home}/audit.log`;
      const db = o.db ?? resolve(file, "..", "moat.db");
      const { Store } = await import("../host/store.js");
      const { verifyAuditLog } = await import("../host/audit-log.js");
      let head: AuditHead | undefined;
      try {
        const store = new Store(db, { readOnly: true });
        head = store.auditHead();
        store.close();
      } catch {
        if (o.db) throw new UsageError(`--db ${db}: not a moat database`);
      }
      let r;
      try {
        r = await verifyAuditLog(file, head);
      } catch (e) {
        throw new UsageError(`${file}: ${(e as Error).message}`);
      }
      print(
        o.json === true,
        { file, head: head ?? null, ...r },
        () =>
          (r.ok
            ? `${file}: ${r.lines} lines, chain intact${head ? ", head matches the database" : " (no database head to compare)"}\n`
            : r.problems.map((p) => `${file}: line ${p.line}: ${p.reason}\n`).join("")) +
          r.notes.map((n) => `${file}: line ${n.line}: note: ${n.note}\n`).join(""),
      );
      if (!r.ok) process.exitCode = 1;
    });
}

/**
 * What the daemon is told of this host (host/ imports nothing from kvm/): `"accel": "auto"` is
 * KVM only with hardware virtualisation, as for moat run, asked at each create.
 */
export const DAEMON_HOST: DaemonHost = { kvmKind };

/**
 * Why the daemon cannot start, in one line: a DaemonError says it already; anything else
 * (a database, file or system call that failed) is named with the home, without a stack.
 */
function startFailure(e: unknown, home: string, daemonError: boolean): string {
  const msg = (e instanceof Error ? e.message : String(e)).split("\n")[0]!.trim();
  return daemonError ? msg : `the daemon cannot start on ${home}: ${msg}`;
}

function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

/** A duration such as 90s, 30m, 12h or 7d, in seconds. Bound: 1 s to 365 days. */
function seconds(v: string, name: string): number {
  const m = /^(\d{1,9})([smhd])$/.exec(v);
  const n = m
    ? Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as "s" | "m" | "h" | "d"]
    : 0;
  if (!(n >= 1 && n <= 365 * 86400))
    throw new UsageError(
      `${name} wants a duration from 1s to 365d such as 90s, 30m, 12h or 7d, not '${v}'`,
    );
  return n;
}

/**
 * `moat start` of a running VM does nothing and says so (as docker start does), exit 0; the API
 * keeps its 409 (a caller that asked to start has its answer there).
 */
async function alreadyRunning(c: Api, v: string): Promise<boolean> {
  const vm: Vm = await ok(c.GET("/v1/vms/{vm}", vmPath(v)));
  if (vm.state !== "running" && vm.state !== "starting") return false;
  process.stderr.write(`moat: ${vm.name} is already ${vm.state}\n`);
  process.stdout.write(`${vm.name}: ${vm.state}\n`);
  return true;
}

/**
 * Resolves `done` at q, Q or Ctrl-C typed on the terminal (stdin raw), or SIGINT/SIGTERM;
 * `release` gives the terminal back.
 */
function untilQuit(): { done: Promise<true>; release: () => void } {
  const stdin = process.stdin;
  const raw = stdin.isTTY === true;
  let end!: () => void;
  const done = new Promise<true>((r) => (end = () => r(true)));
  const onKey = (d: Buffer): void => {
    if (d.includes(0x71) || d.includes(0x51) || d.includes(0x03)) end();
  };
  if (raw) stdin.setRawMode(true);
  stdin.on("data", onKey).resume();
  process.once("SIGINT", end);
  process.once("SIGTERM", end);
  return {
    done,
    release: () => {
      if (raw) stdin.setRawMode(false);
      stdin.off("data", onKey).pause();
      process.off("SIGINT", end);
      process.off("SIGTERM", end);
    },
  };
}

/** A whole number; its range is the daemon's to check (the API says which field and why). */
function num(v: string, name: string): number {
  return parseIntOption(v, name, 0, Number.MAX_SAFE_INTEGER);
}

/** Bridges the terminal and a console WebSocket until Ctrl-A x or the VM ends. */
function attachConsole(ws: import("ws").WebSocket, filter?: TerminalFilter): Promise<number> {
  return new Promise((resolveExit) => {
    const stdin = process.stdin;
    const tty = stdin.isTTY === true;
    let escape = false;
    let done = false;
    const finish = (code: number, msg?: string): void => {
      if (done) return;
      done = true;
      if (tty) stdin.setRawMode(false);
      stdin.pause();
      if (msg) process.stderr.write(`\r\nmoat: ${msg}\r\n`);
      ws.close();
      resolveExit(code);
    };
    ws.on("open", () => {
      if (tty) {
        stdin.setRawMode(true);
        process.stderr.write("moat: attached (Ctrl-A x detaches)\r\n");
      }
      stdin.on("data", (chunk: Buffer) => {
        if (!tty) return void ws.send(chunk);
        const out: number[] = [];
        for (const b of chunk) {
          if (escape) {
            escape = false;
            if (b === 0x78 || b === 0x58) return finish(0, "detached");
            out.push(b === 0x61 || b === 0x01 ? 0x01 : b);
            continue;
          }
          if (b === 0x01) escape = true;
          else out.push(b);
        }
        if (out.length) ws.send(Buffer.from(out));
      });
      stdin.on("end", () => {
        // Piped input ended: give the guest a moment to answer, then detach.
        setTimeout(() => finish(0), 1500);
      });
      stdin.resume();
    });
    ws.on("message", (d: Buffer) => writeGuestOutput(process.stdout, d, filter));
    ws.on("unexpected-response", (_req, res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        let msg = `HTTP ${res.statusCode}`;
        try {
          msg = (JSON.parse(Buffer.concat(chunks).toString()) as { error: string }).error;
        } catch {
          // Not JSON.
        }
        finish(1, msg);
      });
    });
    ws.on("close", (code, reason) =>
      finish(code === 1000 || code === 1005 ? 0 : 1, reason.toString() || undefined),
    );
    ws.on("error", (e: NodeJS.ErrnoException) =>
      finish(
        1,
        e.code === "ENOENT" || e.code === "ECONNREFUSED"
          ? "no moat daemon (start one with 'moat daemon')"
          : e.message,
      ),
    );
  });
}
