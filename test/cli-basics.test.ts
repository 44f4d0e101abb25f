// The CLI basics users expect from docker, podman and virsh (issue 21): --version, starting a
// running VM as a no-op, create -f with the API's JSON, one name rule, errors naming flags,
// logs --tail/-f and ls -q/--format. Against a real `moat daemon` and real VM processes.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawn, spawnSync } from "node:child_process";
import { MOAT, moat } from "./support/moat-cli.js";
import { lastLines, overlap } from "../src/cli/logs-follow.js";
import { sseEvents } from "../src/cli/events-command.js";
import { moatOnTty } from "./support/tty.js";
import {
  adminToken,
  api,
  cli,
  newHome,
  openConsole,
  startDaemon,
  stopDaemon,
  until,
  vmState,
  type DaemonProc,
  type Home,
} from "./support/moatd.js";

let h: Home;
let d: DaemonProc;
before(async () => {
  h = newHome({ reclaim: { enabled: false } });
  d = await startDaemon(h);
});
after(() => stopDaemon(h, d));

test("moat --version and -V print package.json's version", async () => {
  const { version } = JSON.parse(readFileSync("package.json", "utf8")) as { version: string };
  for (const flag of ["--version", "-V"]) {
    const r = await moat([flag]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `${version}\n`);
  }
});

test("moat start of a running VM is a no-op: exit 0, a note on stderr", async () => {
  const c = await cli(h, ["create", "--name", "up", "--memory", "64"]);
  assert.equal(c.status, 0, c.err);
  const s = await cli(h, ["start", "up"]);
  assert.equal(s.status, 0, s.err);
  const before = await vmState(h.socket, adminToken(h), "up", "running");
  const again = await cli(h, ["start", "up"]);
  assert.equal(again.status, 0, again.err);
  assert.equal(again.out, "up: running\n");
  assert.match(again.err, /^moat: up is already running\n$/);
  const still = await vmState(h.socket, adminToken(h), "up", "running");
  assert.equal(still.pid, before.pid, "the same VM process");
  assert.equal(still.restarts, before.restarts);
  const k = await cli(h, ["rm", "-f", "up"]);
  assert.equal(k.status, 0, k.err);
});

test("moat create -f takes the API's JSON from a file or stdin; flags with it are refused", async () => {
  const file = join(h.dir, "spec.json");
  writeFileSync(file, JSON.stringify({ name: "from-file", memory_mib: 64, labels: { t: "f" } }));
  const c = await cli(h, ["create", "-f", file]);
  assert.equal(c.status, 0, c.err);
  assert.match(c.out, /^from-file [0-9a-f]{12} created\n$/);
  const stdin = await cli(h, ["create", "--file", "-", "--json"], '{"name":"from-stdin","cpus":2}');
  assert.equal(stdin.status, 0, stdin.err);
  assert.equal((JSON.parse(stdin.out) as { spec: { cpus: number } }).spec.cpus, 2);
  const made = await api(h.socket, adminToken(h), "GET", "/v1/vms/from-file");
  const spec = (made.body as { spec: { memory_mib: number; labels: object } }).spec;
  assert.equal(spec.memory_mib, 64);
  assert.deepEqual(spec.labels, { t: "f" });

  const both = await cli(h, ["create", "-f", file, "--memory", "128", "--rng"]);
  assert.equal(both.status, 125);
  assert.match(
    both.err,
    /-f takes the whole VM from .*spec\.json: put --memory, --rng in the file/,
  );
  const notJson = await cli(h, ["create", "-f", "-"], "{name: a}");
  assert.equal(notJson.status, 125);
  assert.match(notJson.err, /^moat: -f stdin: not JSON \(/);
  const list = await cli(h, ["create", "-f", "-"], "[]");
  assert.match(list.err, /^moat: -f stdin: a JSON object such as/);
  const missing = await cli(h, ["create", "-f", join(h.dir, "no-such.json")]);
  assert.match(missing.err, /^moat: -f .*no-such\.json: no such file\n$/);
  const none = await cli(h, ["create"]);
  assert.equal(none.status, 125);
  assert.match(none.err, /^moat: moat create needs --name \(or -f FILE\)\n$/);
  // The API's refusal names the file and the field as the file has it.
  writeFileSync(file, JSON.stringify({ name: "big", memory_mib: 999999 }));
  const refused = await cli(h, ["create", "-f", file]);
  assert.equal(refused.status, 1);
  assert.match(refused.err, /^moat: .*spec\.json: memory_mib must be <= \d+\n$/);
  for (const vm of ["from-file", "from-stdin"]) assert.equal((await cli(h, ["rm", vm])).status, 0);
});

test("moat create's refusals name the flag, not the API's field", async () => {
  const cases: [string[], RegExp][] = [
    [["--memory", "999999"], /^moat: --memory must be <= \d+\n$/],
    [["--cpus", "99"], /^moat: --cpus must be <= \d+\n$/],
    [["--cpu-weight", "0"], /^moat: --cpu-weight must be >= 1\n$/],
    [
      ["--disk", "/no/such.img"],
      /^moat: --disk \(disks\.0\.path\): \/no\/such\.img: not in the image directories/,
    ],
  ];
  for (const [flags, want] of cases) {
    const r = await cli(h, ["create", "--name", "refused", ...flags]);
    assert.equal(r.status, 1, r.err);
    assert.match(r.err, want);
    assert.doesNotMatch(r.err, /body:|memory_mib|cpu\.weight/);
  }
});

test("moat run --name and moat create --name follow one rule, said in words", async () => {
  for (const bad of ["Web", "x".repeat(64), "-a", "a b"]) {
    const run = await moat(["run", "--name", bad, "--", "true"]);
    assert.equal(run.status, 125, run.stderr);
    assert.match(run.stderr, /1 to 63 of a-z 0-9 _ \. -, starting with a letter or digit/);
    const create = await cli(h, ["create", "--name", bad]);
    assert.equal(create.status, 1, create.err);
    assert.equal(
      create.err,
      "moat: --name must be 1 to 63 of a-z 0-9 _ . -, starting with a letter or digit\n",
    );
  }
});

test("moat logs --tail N prints the last lines; -f follows what the guest prints until the VM ends", async () => {
  const tok = adminToken(h);
  assert.equal((await cli(h, ["create", "--name", "talk", "--memory", "64"])).status, 0);
  assert.equal((await cli(h, ["start", "talk"])).status, 0);
  const con = await openConsole(h.socket, tok, "talk");
  for (const n of [1, 2, 3]) await con.expect(`echo line-$((${n}*11))`, `line-${n * 11}\r\n`);
  con.send("echo done-$((5*5))\n");
  const tail = await until("the scrollback's last lines", async () => {
    const r = await cli(h, ["logs", "--tail", "2", "talk"]);
    return r.out.includes("done-25") ? r : undefined;
  });
  assert.equal(tail.status, 0, tail.err);
  assert.equal(tail.out.split("\n").length, 2, `two lines: ${JSON.stringify(tail.out)}`);
  assert.doesNotMatch(tail.out, /line-11/);
  const bad = await cli(h, ["logs", "--tail", "x", "talk"]);
  assert.equal(bad.status, 125);

  // -f: the scrollback's last line, then what comes, each once, until the VM is stopped.
  const f = spawn(process.execPath, [MOAT, "logs", "-f", "--tail", "1", "talk"], {
    env: { ...process.env, MOAT_HOME: h.dir },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  f.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
  const exited = new Promise<number | null>((r) => f.on("close", r));
  await until("logs -f attached", () => {
    con.send("echo follow-$((6*7))\n");
    return out.includes("follow-42\r\n");
  });
  assert.doesNotMatch(out, /line-22/, "only the last line of the scrollback");
  con.close();
  assert.equal((await cli(h, ["kill", "talk"])).status, 0);
  assert.equal(await exited, 0, "logs -f ends with the VM");
  // A VM that is not running: its scrollback is all there is to follow.
  const stopped = await cli(h, ["logs", "-f", "--tail", "20", "talk"]);
  assert.equal(stopped.status, 0, stopped.err);
  assert.match(stopped.out, /follow-42/);
  const none = await cli(h, ["logs", "-f", "no-such-vm"]);
  assert.equal(none.status, 1);
  assert.match(none.err, /^moat: no VM 'no-such-vm'/);
  assert.equal((await cli(h, ["rm", "talk"])).status, 0);
});

test("lastLines and overlap: the tail of a scrollback, and live output not printed twice", () => {
  assert.equal(lastLines("a\nb\nc\n", 2), "b\nc\n");
  assert.equal(lastLines("a\nb\nc", 2), "b\nc");
  assert.equal(lastLines("a\nb\n", 5), "a\nb\n");
  assert.equal(lastLines("a\nb\n", 0), "");
  assert.equal(overlap(Buffer.from("xx abc"), Buffer.from("abcdef")), 3);
  assert.equal(overlap(Buffer.from("xx ab"), Buffer.from("cd")), 0);
});

test("overlap is the longest suffix-prefix for any bytes, and a guest repeating one byte cannot make it slow", () => {
  const naive = (a: Buffer, b: Buffer): number => {
    for (let n = Math.min(a.length, b.length); n > 0; n--)
      if (a.subarray(a.length - n).equals(b.subarray(0, n))) return n;
    return 0;
  };
  let seed = 7;
  const rnd = (k: number): number => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % k;
  const word = (): Buffer => Buffer.from(Array.from({ length: rnd(12) }, () => 97 + rnd(2)));
  for (let i = 0; i < 2000; i++) {
    const a = word();
    const b = word();
    assert.equal(overlap(a, b), naive(a, b), `${a} / ${b}`);
  }
  // 1 MiB of one byte on both sides: linear, so this returns at once (quadratic would not).
  const flood = Buffer.alloc(1 << 20, 0x61);
  assert.equal(overlap(flood, flood), flood.length);
  assert.equal(
    overlap(flood, Buffer.concat([flood.subarray(1), Buffer.from("b")])),
    flood.length - 1,
  );
});

test("moat ls -q prints ids; --format prints the columns asked for, or json; bad ones refused", async () => {
  const made: string[] = [];
  for (const name of ["q-one", "q-two"]) {
    const r = await cli(h, ["create", "--name", name, "--memory", "64", "--json"]);
    assert.equal(r.status, 0, r.err);
    made.push((JSON.parse(r.out) as { id: string }).id);
  }
  const q = await cli(h, ["ls", "-q", "--label", "x=y"]);
  assert.equal(q.out, "", "no VM has the label");
  const ids = await cli(h, ["ls", "-q"]);
  assert.equal(ids.status, 0, ids.err);
  assert.deepEqual(ids.out.trimEnd().split("\n").sort(), [...made].sort());
  const cols = await cli(h, ["ls", "--format", "name,state,memory"]);
  assert.equal(cols.status, 0, cols.err);
  assert.deepEqual(cols.out.trimEnd().split("\n").sort(), [
    "q-one\tcreated\t64M",
    "q-two\tcreated\t64M",
  ]);
  const json = await cli(h, ["ls", "--format", "json"]);
  assert.deepEqual((JSON.parse(json.out) as { name: string }[]).map((v) => v.name).sort(), [
    "q-one",
    "q-two",
  ]);
  const table = await cli(h, ["ls", "--format", "table"]);
  assert.match(table.out, /^NAME\s+ID\s+DOMAIN\s+STATE\s+CPUS\s+MEMORY\s+PID\s+LAST EXIT\s+FROM\n/);
  const bad = await cli(h, ["ls", "--format", "name,size"]);
  assert.equal(bad.status, 125);
  assert.match(bad.err, /'size' is not a column; table, json, or columns of name, id,/);
  const both = await cli(h, ["ls", "-q", "--json"]);
  assert.equal(both.status, 125);
  for (const id of made) assert.equal((await cli(h, ["rm", id])).status, 0);
});

test("moat events prints VM state changes as they happen, until Ctrl-C", async () => {
  const ev = spawn(process.execPath, [MOAT, "events"], {
    env: { ...process.env, MOAT_HOME: h.dir },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  ev.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
  ev.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
  const exited = new Promise<number | null>((r) => ev.on("close", r));
  // The stream is open once an event made after it shows; make them until one does.
  const made = await cli(h, ["create", "--name", "ev", "--memory", "64"]);
  assert.equal(made.status, 0, made.err);
  await until("events attached", async () => {
    await cli(h, ["start", "ev"]);
    return /vm\.state ev \([0-9a-f]{12}, default\) running\n/.test(out);
  });
  assert.equal((await cli(h, ["rm", "-f", "ev"])).status, 0);
  await until("the delete seen", () => / vm\.deleted ev \(/.test(out));
  ev.kill("SIGINT");
  assert.equal(await exited, 0, err);
  assert.match(out, /^\d{4}-\d\d-\d\dT[\d:.]+Z vm\.state ev /m);
});

test("sseEvents: complete events only, a partial one kept for the next chunk", () => {
  const { data, rest } = sseEvents(
    ': moat events\n\nevent: vm.state\ndata: {"a":1}\n\nevent: x\nda',
  );
  assert.deepEqual(data, ['{"a":1}']);
  assert.equal(rest, "event: x\nda");
});

test("moat top on a terminal refreshes until q; --once and a pipe take one sample", async () => {
  assert.equal((await cli(h, ["create", "--name", "busy", "--memory", "64"])).status, 0);
  assert.equal((await cli(h, ["start", "busy"])).status, 0);
  const env = { MOAT_HOME: h.dir };
  const started = Date.now();
  const live = await moatOnTty(["top"], env, {
    after: /q quits[\s\S]*busy[\s\S]*q quits[\s\S]*busy/,
    text: "q",
    until: /(?!)/,
  });
  assert.equal(live.status, 0, live.out);
  assert.ok(Date.now() - started < 25_000, "q ended it, not the helper's Ctrl-A x");
  assert.ok(live.out.split("\x1b[H\x1b[2J").length >= 3, "at least two refreshes");
  assert.match(live.out, /NAME\s+ID\s+CPU%\s+RSS\s+BALLOON\r\nbusy\s+[0-9a-f]{12}\s+[\d.]+\s+\d+M/);
  const once = await moatOnTty(["top", "--once"], env);
  assert.equal(once.status, 0, once.out);
  assert.doesNotMatch(once.out, /q quits/);
  assert.ok(!once.out.includes("\x1b[2J"), "no screen clearing");
  assert.match(once.out, /^busy\s/m);
  const piped = await cli(h, ["top"]);
  assert.equal(piped.status, 0, piped.err);
  assert.match(piped.out, /^NAME\s+ID\s+CPU%/);
  assert.equal((await cli(h, ["rm", "-f", "busy"])).status, 0);
});

test("moat completion bash completes commands, subcommands, flags, files and the daemon's VM names", async () => {
  const script = await moat(["completion", "bash"]);
  assert.equal(script.status, 0, script.stderr);
  const file = join(h.dir, "moat-completion.bash");
  writeFileSync(file, script.stdout);
  assert.equal((await cli(h, ["create", "--name", "comp-vm", "--memory", "64"])).status, 0);
  /** What bash offers for the words typed so far (the last one being completed). */
  const complete = (...words: string[]): string[] => {
    const r = spawnSync(
      "bash",
      [
        "-c",
        `source ${file}; COMP_WORDS=("$@"); COMP_CWORD=$((\${#COMP_WORDS[@]}-1)); _moat; ` +
          'printf "%s\\n" "${COMPREPLY[@]}"',
        "_",
        MOAT,
        ...words,
      ],
      { encoding: "utf8", env: { ...process.env, MOAT_HOME: h.dir } },
    );
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.split("\n").filter(Boolean).sort();
  };
  assert.deepEqual(complete("st"), ["start", "stop"]);
  assert.deepEqual(complete("token", "c"), ["create"]);
  assert.deepEqual(complete("create", "--mem"), ["--memory"]);
  assert.deepEqual(complete("--socket", "/x", "ev"), ["events"], "a global flag's value skipped");
  assert.deepEqual(complete("start", "comp"), ["comp-vm"], "VM names from the daemon");
  assert.deepEqual(complete("create", "-f", join(h.dir, "moat-compl")), [file]);
  // A flag with a few values completes them, not file names.
  assert.deepEqual(complete("create", "--restart", ""), ["always", "no", "on-failure"]);
  assert.deepEqual(complete("daemon", "--log-format", "j"), ["json"]);
  const zsh = await moat(["completion", "zsh"]);
  assert.match(zsh.stdout, /^autoload -U \+X bashcompinit && bashcompinit\n/);
  const fish = await moat(["completion", "fish"]);
  assert.equal(fish.status, 125);
  assert.match(fish.stderr, /^moat: completion: bash or zsh, not 'fish'$/m);
  assert.equal((await cli(h, ["rm", "comp-vm"])).status, 0);
});
