// The guest channel against the real qemu-guest-agent as moat ships it: Debian trixie's riscv64
// package and the libraries it links, in guest/riscv64/agent.cpio.gz (guest/agent/build.sh),
// which moat appends to the shipped initramfs of a VM with --agent and starts with
// rdinit=/agent-init. Stand-alone through the control socket, then through the daemon: moat
// create --agent, moat guest info, moat exec (denied by the default policy, allowed by an
// explicit one, stdin passed, output and status carried), audit entries, and moat stop shutting
// the guest down through the agent.
import { moatOnTty } from "./support/tty.js";
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { vmmCall } from "../src/host/vmm-client.js";
import type { AgentArguments, ControlReply } from "../src/vmm/control-protocol.js";
import type { AgentCommand } from "../src/agent/agent-commands.js";
import { okReply } from "./support/control-client.js";
import { SHIPPED_INITRD_GZ } from "../src/boot/shipped-guest.js";
import { MAX_EXEC_INPUT_BYTES, MAX_EXEC_REQUEST_BYTES } from "../src/agent/guest-exec.js";
import { moat, startMoat } from "./support/moat-cli.js";
import { adminToken, api, cli, newHome, startDaemon, stopDaemon, until } from "./support/moatd.js";

let dir = "";

before(() => {
  dir = mkdtempSync(join(tmpdir(), "moat-agent-"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

type Reply = Record<string, unknown>;

/** One request, then the client's side ended at once (as socat sends); all it got back. */
function halfClosed(path: string, req: object): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect(path, () => c.end(JSON.stringify(req) + "\n"));
    let got = "";
    c.setEncoding("utf8");
    c.on("data", (d: string) => (got += d));
    c.on("error", reject);
    c.on("close", () => resolve(got));
  });
}

async function agentUp(ctl: string): Promise<void> {
  await until(
    "the guest agent to answer",
    async () => {
      try {
        return (
          (await vmmCall(ctl, { op: "agent", command: "ping", timeout_ms: 2000 }, 5000)).ok === true
        );
      } catch {
        return false;
      }
    },
    120_000,
  );
}

test("moat run --agent: the shipped guest's qemu-guest-agent answers info, osinfo, interfaces, exec; policy refuses the rest", async () => {
  const ctl = join(dir, "run.sock");
  const vm = startMoat([
    "run",
    "--agent=allow=info,shutdown,exec",
    "--control",
    ctl,
    "--",
    "sh",
    "-c",
    "sleep 300",
  ]);
  try {
    await agentUp(ctl);
    const call = (command: AgentCommand, args?: AgentArguments): Promise<ControlReply<"agent">> =>
      vmmCall(ctl, { op: "agent", command, ...(args ? { arguments: args } : {}) }, 20_000);
    const ok = async (command: AgentCommand, args?: AgentArguments) =>
      okReply(await call(command, args));
    const info = (await ok("info")).return as { version: string; supported_commands: unknown[] };
    assert.match(info.version, /^\d+\.\d+/);
    assert.ok(info.supported_commands.length > 20);
    const os = (await ok("osinfo")).return as { machine: string; "kernel-release": string };
    assert.equal(os.machine, "riscv64");
    assert.match(os["kernel-release"], /^6\./);
    // A client that ends its side after its request still gets the reply the guest sends later.
    const late = JSON.parse(await halfClosed(ctl, { op: "agent", command: "osinfo" })) as Reply;
    assert.equal((late.return as { machine?: string } | undefined)?.machine, "riscv64");
    const ifs = (await ok("interfaces")).return as { name: string }[];
    assert.ok(
      ifs.some((i) => i.name === "lo"),
      JSON.stringify(ifs),
    );
    const ex = await ok("exec", { argv: ["uname", "-a"] });
    assert.equal(ex.exit_code, 0);
    assert.match(Buffer.from(ex.stdout!, "base64").toString(), /^Linux moat .* riscv64/);
    const fail = await ok("exec", { argv: ["sh", "-c", "echo oops >&2; exit 7"] });
    assert.equal(fail.exit_code, 7);
    assert.equal(Buffer.from(fail.stderr!, "base64").toString(), "oops\n");
    // Not in this VM's policy: refused by the VMM without asking the guest.
    const file = await call("file-open", { path: "/etc/passwd" });
    assert.equal(file.ok, false);
    assert.equal(file.kind, "policy");
    // Its status shows the channel.
    const st = okReply(await vmmCall(ctl, { op: "status" }));
    assert.equal(st.agent?.connected, true);
    // guest-shutdown powers the guest off: the VM ends.
    assert.equal((await call("shutdown")).ok, true);
    assert.equal(await vm.done, 0, vm.err());
  } finally {
    vm.p.kill("SIGKILL");
  }
});

test("moat run --agent: the shipped guest boots with its agent overlay; an initrd of one's own gets the channel only", async () => {
  const probe = ["sh", "-c", "cat /proc/cmdline; ls /bin/qemu-ga 2>&1; true"];
  const shipped = await moat(["run", "--agent", "--", ...probe]);
  assert.equal(shipped.status, 0, shipped.stderr);
  assert.match(shipped.stdout, /^rdinit=\/agent-init console=ttyS0/m);
  assert.match(shipped.stdout, /^\/bin\/qemu-ga$/m);
  const own = join(dir, "own-initrd.cpio");
  writeFileSync(own, gunzipSync(readFileSync(SHIPPED_INITRD_GZ)));
  const mine = await moat(["run", "--agent", "--initrd", own, "--", ...probe]);
  assert.equal(mine.status, 0, mine.stderr);
  assert.doesNotMatch(mine.stdout, /rdinit/);
  assert.match(mine.stdout, /qemu-ga: No such file/);
});

test("through the daemon: moat create --agent, moat guest info, moat exec (stdin passed; refused outside the policy), audited; moat stop through the agent", async (t) => {
  const h = newHome({ reclaim: { enabled: false } });
  const d = await startDaemon(h);
  t.after(() => stopDaemon(h, d));
  const tok = adminToken(h);
  // Bad values are refused with the reason, by the CLI and by the API.
  const unknown = await cli(h, ["create", "--name", "bad", "--agent=allow=info,rm"]);
  assert.equal(unknown.status, 125, unknown.out + unknown.err);
  assert.match(unknown.err, /--agent: 'rm' is not a guest-agent command or class/);
  const noAllow = await cli(h, ["create", "--name", "bad", "--agent=exec"]);
  assert.equal(noAllow.status, 125);
  assert.match(noAllow.err, /--agent 'exec': allow=NAME,\.\.\./);
  const blank = await cli(h, ["create", "--name", "bad", "--agent=allow=info,,exec"]);
  assert.equal(blank.status, 125, "an empty name in the list is a typo, refused");
  assert.match(blank.err, /--agent 'allow=info,,exec': allow=NAME,\.\.\./);
  const bad = await api(h.socket, tok, "POST", "/v1/vms", {
    name: "bad",
    agent: { allow: ["rm"] },
  });
  assert.equal(bad.status, 400, bad.text);
  // The shipped x86-64 guest has no agent: said at create.
  const x86 = await cli(h, ["create", "--name", "x86", "--accel", "kvm", "--agent"]);
  assert.equal(x86.status, 1, x86.out + x86.err);
  assert.match(x86.err, /the shipped x86-64 guest has no guest agent/);
  // The shipped guest, nothing else given: --agent brings the agent.
  for (const a of [
    ["plain", "--agent"],
    ["gx", "--agent=allow=info,shutdown,exec"],
  ]) {
    const c = await cli(h, ["create", "--name", a[0]!, "--memory", "64", a[1]!]);
    assert.equal(c.status, 0, c.err);
  }
  const start = await cli(h, ["start", "plain", "gx"]);
  assert.equal(start.status, 0, start.err);
  await until(
    "both agents",
    async () =>
      (await api(h.socket, tok, "POST", "/v1/vms/plain/agent", { command: "ping" })).status ===
        200 &&
      (await api(h.socket, tok, "POST", "/v1/vms/gx/agent", { command: "ping" })).status === 200,
    120_000,
  );
  const info = await cli(h, ["guest", "info", "plain"]);
  assert.equal(info.status, 0, info.err);
  const gi = JSON.parse(info.out) as { informational: boolean; osinfo: { machine: string } };
  assert.equal(gi.informational, true);
  assert.equal(gi.osinfo.machine, "riscv64");
  // The default policy: no exec.
  const denied = await cli(h, ["exec", "plain", "--", "uname", "-a"]);
  assert.equal(denied.status, 1, denied.out + denied.err);
  assert.match(denied.err, /agent policy does not allow 'exec'/);
  // An allow list: what it does not name is refused too.
  const file = await cli(h, ["guest", "call", "gx", "file-open", '{"path":"/etc/passwd"}']);
  assert.equal(file.status, 1, file.out + file.err);
  assert.match(file.err, /agent policy does not allow 'file-open'/);
  // What it names runs: output and status come back.
  const ok = await cli(h, ["exec", "gx", "--", "uname", "-a"]);
  assert.equal(ok.status, 0, ok.err);
  assert.match(ok.out, /^Linux moat .* riscv64/);
  const three = await cli(h, ["exec", "gx", "--", "sh", "-c", "echo to-stderr >&2; exit 3"]);
  assert.equal(three.status, 3);
  assert.equal(three.err, "to-stderr\n");
  // stdin: piped, it is the command's (up to the bound, said past it); empty or -n, none.
  const cat = await cli(h, ["exec", "gx", "--", "cat"], "x\n");
  assert.equal(cat.status, 0, cat.err);
  assert.equal(cat.out, "x\n");
  const full = await cli(h, ["exec", "gx", "--", "wc", "-c"], "A".repeat(MAX_EXEC_INPUT_BYTES));
  assert.equal(full.status, 0, full.err);
  assert.equal(full.out.trim(), String(MAX_EXEC_INPUT_BYTES));
  const over = await cli(h, ["exec", "gx", "--", "wc", "-c"], "A".repeat(MAX_EXEC_INPUT_BYTES + 1));
  assert.equal(over.status, 125, over.out + over.err);
  assert.match(over.err, /stdin holds more than 32768 bytes/);
  assert.equal(over.out, "");
  // Its arguments (as JSON) and stdin (as base64) together: up to MAX_EXEC_REQUEST_BYTES they
  // pass every hop (the daemon's API, the control socket, the agent); past it moat exec says so.
  const ofSize = (total: number): string[] => {
    const room = total - 4 * Math.ceil(MAX_EXEC_INPUT_BYTES / 3) - 22; // ["sh","-c","wc -c",""]
    return ["sh", "-c", "wc -c", '"é'.repeat(Math.floor(room / 4)) + "x".repeat(room % 4)];
  };
  const stdin = "A".repeat(MAX_EXEC_INPUT_BYTES);
  const most = await cli(h, ["exec", "gx", "--", ...ofSize(MAX_EXEC_REQUEST_BYTES)], stdin);
  assert.equal(most.status, 0, most.err);
  assert.equal(most.out.trim(), String(MAX_EXEC_INPUT_BYTES));
  const past = await cli(h, ["exec", "gx", "--", ...ofSize(MAX_EXEC_REQUEST_BYTES + 1)], stdin);
  assert.equal(past.status, 125, past.out + past.err);
  assert.match(
    past.err,
    /take \d+ bytes, more than the \d+ one request carries \(MAX_EXEC_REQUEST_BYTES\)/,
  );
  assert.equal(past.out, "");
  const empty = await cli(h, ["exec", "gx", "--", "sh", "-c", "cat; echo end"], "");
  assert.deepEqual([empty.status, empty.out], [0, "end\n"], empty.err);
  const noStdin = await cli(h, ["exec", "-n", "gx", "--", "sh", "-c", "cat; echo end"], "y\n");
  assert.deepEqual([noStdin.status, noStdin.out], [0, "end\n"], noStdin.err);
  // From a terminal nothing is read: cat ends at once on an empty stdin.
  const ttyCat = await moatOnTty(["exec", "gx", "--", "sh", "-c", "cat; echo end"], {
    MOAT_HOME: h.dir,
  });
  assert.equal(ttyCat.status, 0, ttyCat.out);
  assert.match(ttyCat.out, /^end\r?\n/);
  // What a command prints is the guest's: on a terminal, escapes beyond SGR colours are left
  // out (an OSC 52 clipboard write, a cursor report request), said on stderr; piped, every byte.
  const evil = ["printf", "a\\033]52;c;QUFB\\007\\033[6n\\033[1mb\\033[0m"];
  const piped = await cli(h, ["exec", "gx", "--", ...evil]);
  assert.equal(piped.out, "a\x1b]52;c;QUFB\x07\x1b[6n\x1b[1mb\x1b[0m");
  const tty = await moatOnTty(["exec", "gx", "--", ...evil], { MOAT_HOME: h.dir });
  assert.equal(tty.status, 0, tty.out);
  assert.ok(tty.out.startsWith("a\x1b[1mb\x1b[0m"), JSON.stringify(tty.out));
  assert.match(tty.out, /moat: 2 escape sequences or controls from the guest not shown/);
  // Every agent call is in the audit log: caller, VM, command, a digest of the arguments, outcome.
  const log = readFileSync(join(h.dir, "audit.log"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Reply & { detail?: Reply });
  const agentLines = log.filter((l) => l.detail?.command !== undefined);
  const execs = agentLines.filter((l) => l.detail!.command === "exec");
  assert.ok(execs.some((l) => l.detail!.outcome === "refused by policy" && l.ok === false));
  assert.ok(execs.filter((l) => l.detail!.outcome === "ok").length >= 2);
  assert.ok(execs.every((l) => /^[0-9a-f]{64}$/.test(String(l.detail!.args_sha256))));
  assert.ok(agentLines.some((l) => l.detail!.command === "guest-info"));
  // moat stop goes through the agent: the guest shuts itself down and powers off with 0 (on
  // the power button it would be 143; the daemon powering it off records another reason).
  const stop = await cli(h, ["stop", "gx"]);
  assert.equal(stop.status, 0, stop.err);
  const vm = (await api(h.socket, tok, "GET", "/v1/vms/gx")).body as {
    state: string;
    last_exit: { reason: string; status: number | null };
  };
  assert.equal(vm.state, "stopped");
  assert.equal(vm.last_exit.reason, "shut down by the operator through the guest agent");
  assert.equal(vm.last_exit.status, 0);
  await api(h.socket, tok, "POST", "/v1/vms/plain/kill");
});
