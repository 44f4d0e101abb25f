// The web console in the browser: sign in with an API token (kept in this tab's sessionStorage
// only), list the VMs the token may see, create one (create-form.ts) and delete one (after a
// confirmation), see its CPU, memory, disk and network over time (graphs.ts), and attach to its
// serial console (xterm.js) and display (noVNC) over the API's WebSockets. The token goes in the
// Authorization header of API calls and as a `moat.bearer.` subprotocol on WebSockets (http.ts).
import type { Terminal as XTerminal } from "@xterm/xterm";
import { VmGraphs, type VmStatsReply } from "./graphs.js";
import { $, api, ApiError, session, vmPath, wsProtocols, wsUrl, type Vm } from "./http.js";
import { setupVmDialogs } from "./vm-dialogs.js";

/** What the page uses of noVNC's RFB class (noVNC ships no types). */
interface Rfb extends EventTarget {
  scaleViewport: boolean;
  background: string;
  disconnect(): void;
  focus(): void;
}
type RfbClass = new (
  target: HTMLElement,
  url: string,
  options: { shared?: boolean; wsProtocols?: string[] },
) => Rfb;

/** How often the VM list is read again. */
const REFRESH_MS = 2000;
/** How often the open VM's figures are read for its graphs. */
const STATS_MS = 1000;

// Loaded on first use: the sign-in page needs neither library.
let TerminalClass: typeof XTerminal | undefined;
let RFB: RfbClass | undefined;
async function libraries(): Promise<void> {
  const xterm = "./xterm/xterm.mjs";
  const novnc = "./novnc/core/rfb.js";
  TerminalClass ??= ((await import(xterm)) as typeof import("@xterm/xterm")).Terminal;
  RFB ??= ((await import(novnc)) as { default: RfbClass }).default;
}

// --- state of the page ---
let vms: Vm[] = [];
let selected: string | undefined;
let tab: "serial" | "display" = "serial";
let refresh: number | undefined;
let term: XTerminal | undefined;
let termSocket: WebSocket | undefined;
let rfb: Rfb | undefined;
/** Which VM (and in which state) the open connections are for. */
let attached: string | undefined;
let graphs: VmGraphs | undefined;
let statsTimer: number | undefined;
/** Which VM the graphs show, and its stats read under way. */
let graphed: string | undefined;
let polling: Promise<void> | undefined;
/** A VM being deleted. */
let goingAway: string | undefined;

function setStatus(text: string): void {
  $("status").textContent = text;
}

function showLogin(error = ""): void {
  detach();
  graph(undefined);
  if (refresh !== undefined) clearInterval(refresh);
  refresh = undefined;
  $("login-view").hidden = false;
  $("app-view").hidden = true;
  $("sign-out").hidden = true;
  $("login-error").textContent = error;
  setStatus("");
  $<HTMLInputElement>("token").focus();
}

async function signIn(candidate: string): Promise<void> {
  session.use(candidate.trim());
  try {
    vms = await api<Vm[]>("GET", "/v1/vms");
  } catch (e) {
    session.forget();
    showLogin(
      e instanceof ApiError && e.status === 401
        ? "That token is not valid here."
        : `Could not sign in: ${(e as Error).message}`,
    );
    return;
  }
  session.keep();
  $("login-view").hidden = true;
  $("app-view").hidden = false;
  $("sign-out").hidden = false;
  render();
  refresh = window.setInterval(() => void reload(), REFRESH_MS);
}

async function reload(): Promise<void> {
  try {
    vms = await api<Vm[]>("GET", "/v1/vms");
    setStatus(`updated ${new Date().toLocaleTimeString()}`);
    render();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) showLogin("The token is no longer valid.");
    else setStatus(`cannot reach the host: ${(e as Error).message}`);
  }
}

function cell(text: string, cls?: string): HTMLTableCellElement {
  const td = document.createElement("td");
  if (cls) {
    const span = document.createElement("span");
    span.className = cls;
    span.textContent = text;
    td.append(span);
  } else td.textContent = text;
  return td;
}

function render(): void {
  const body = $("vm-table").querySelector("tbody")!;
  body.replaceChildren(
    ...vms.map((vm) => {
      const tr = document.createElement("tr");
      tr.dataset.vm = vm.id;
      if (vm.id === selected) tr.className = "selected";
      tr.append(
        cell(vm.name),
        cell(vm.state, `state ${vm.state}`),
        cell(vm.domain),
        cell(String(vm.spec.cpus)),
        cell(`${vm.spec.memory_mib} MiB`),
      );
      tr.addEventListener("click", () => select(vm.id));
      return tr;
    }),
  );
  $("vm-empty").hidden = vms.length > 0;
  renderDetail();
}

function current(): Vm | undefined {
  return vms.find((v) => v.id === selected);
}

function renderDetail(): void {
  const vm = current();
  const live = vm !== undefined && (vm.state === "running" || vm.state === "paused");
  $("vm-title").textContent = vm ? vm.name : "Choose a VM";
  const state = $("vm-state");
  state.textContent = vm?.state ?? "";
  state.className = vm ? `state ${vm.state}` : "state";
  $("vm-start").hidden = !vm || live;
  $("vm-stop").hidden = !live;
  $("vm-delete").hidden = !vm;
  $("vm-spec").textContent = vm ? specLine(vm) : "";
  $("graphs").hidden = !live;
  graph(live ? vm : undefined);
  $("tabs").hidden = !vm;
  const hasDisplay = vm?.spec.display !== undefined;
  const displayTab = document.querySelector<HTMLButtonElement>('[data-tab="display"]')!;
  displayTab.disabled = !hasDisplay;
  if (!hasDisplay && tab === "display") tab = "serial";
  for (const b of document.querySelectorAll<HTMLButtonElement>(".tab"))
    b.classList.toggle("active", b.dataset.tab === tab);
  $("serial-pane").hidden = !live || tab !== "serial";
  $("display-pane").hidden = !live || tab !== "display";
  $("pane-note").textContent = !vm
    ? "Pick a VM on the left to see its console."
    : live
      ? ""
      : `The VM is ${vm.state}: start it to attach.`;
  const key = live ? `${vm.id}:${tab}` : undefined;
  if (key !== attached) void attach(live ? vm : undefined);
}

/** The VM's machine in a line: what it was created with (disks are set then, and only then). */
function specLine(vm: Vm): string {
  const s = vm.spec;
  const disks = s.disks.map((d) => `${d.path}${d.read_only ? " (read-only)" : ""}`);
  return [
    `accel ${s.accel}`,
    `${s.cpus} vCPU${s.cpus === 1 ? "" : "s"}`,
    `${s.memory_mib} MiB`,
    disks.length ? `disks: ${disks.join(", ")}` : "no disk",
    s.display ? `display ${s.display.width}x${s.display.height}` : "",
  ]
    .filter((x) => x)
    .join(" · ");
}

function select(id: string): void {
  if (id === selected) return;
  selected = id;
  render();
}

function detach(): void {
  termSocket?.close();
  termSocket = undefined;
  term?.dispose();
  term = undefined;
  rfb?.disconnect();
  rfb = undefined;
  $("terminal").replaceChildren();
  $("screen").replaceChildren();
  attached = undefined;
}

async function attach(vm: Vm | undefined): Promise<void> {
  detach();
  if (!vm) return;
  attached = `${vm.id}:${tab}`;
  await libraries();
  if (tab === "serial") attachSerial(vm);
  else attachDisplay(vm);
}

function attachSerial(vm: Vm): void {
  const t = new TerminalClass!({
    cols: 100,
    rows: 30,
    convertEol: false,
    cursorBlink: true,
    fontSize: 14,
    theme: { background: "#000000" },
  });
  t.open($("terminal"));
  const ws = new WebSocket(wsUrl(vmPath(vm.id, "/console")), wsProtocols());
  ws.binaryType = "arraybuffer";
  ws.onmessage = (m) => t.write(new Uint8Array(m.data as ArrayBuffer));
  ws.onclose = (e) => {
    if (termSocket === ws) t.write(`\r\n\x1b[2m[console closed: ${e.reason || e.code}]\x1b[0m\r\n`);
  };
  const enc = new TextEncoder();
  t.onData((d) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(enc.encode(d));
  });
  t.focus();
  term = t;
  termSocket = ws;
}

function attachDisplay(vm: Vm): void {
  const r = new RFB!($("screen"), wsUrl(vmPath(vm.id, "/vnc")), {
    shared: true,
    wsProtocols: wsProtocols(),
  });
  r.scaleViewport = true;
  r.background = "#000";
  r.addEventListener("disconnect", () => {
    if (rfb !== r) return;
    // Disconnected already: detach() must not disconnect it again (noVNC logs that as an error).
    rfb = undefined;
    $("pane-note").textContent = "The display disconnected.";
  });
  rfb = r;
}

async function lifecycle(op: "start" | "stop"): Promise<void> {
  const vm = current();
  if (!vm) return;
  try {
    await api("POST", vmPath(vm.id, `/${op}`));
  } catch (e) {
    setStatus(`${op} failed: ${(e as Error).message}`);
  }
  await reload();
}

// --- graphs of the open VM ---

/** Polls the stats of `vm` (while it runs) into the graphs; undefined stops. */
function graph(vm: Vm | undefined): void {
  if (vm?.id === goingAway) vm = undefined;
  if (vm?.id === graphed) return;
  if (statsTimer !== undefined) clearInterval(statsTimer);
  statsTimer = undefined;
  graphed = vm?.id;
  graphs ??= new VmGraphs($("graphs"));
  graphs.reset();
  if (!vm) return;
  const poll = async () => {
    try {
      const s = await api<VmStatsReply>("GET", vmPath(vm.id, "/stats"));
      if (graphed === vm.id) graphs!.add(s, performance.now());
    } catch {
      // The VM stopped or went away: the list's next read says so.
    }
  };
  // One read at a time: a slow daemon is not asked again before it answered.
  const tick = () => {
    polling ??= poll().finally(() => (polling = undefined));
  };
  tick();
  statsTimer = window.setInterval(tick, STATS_MS);
}

/**
 * VM `id` is being deleted (undefined: no longer): its stats are not read, and the read under way
 * is waited for (one after the delete would be refused, and the browser would log it).
 */
async function deleting(id: string | undefined): Promise<void> {
  goingAway = id;
  if (id !== undefined && graphed === id) graph(undefined);
  await polling;
}

function main(): void {
  $("login-form").addEventListener("submit", (e) => {
    e.preventDefault();
    void signIn($<HTMLInputElement>("token").value);
  });
  $("sign-out").addEventListener("click", () => {
    session.forget();
    selected = undefined;
    showLogin();
  });
  for (const b of document.querySelectorAll<HTMLButtonElement>(".tab"))
    b.addEventListener("click", () => {
      tab = b.dataset.tab === "display" ? "display" : "serial";
      renderDetail();
    });
  $("vm-start").addEventListener("click", () => void lifecycle("start"));
  $("vm-stop").addEventListener("click", () => void lifecycle("stop"));
  setupVmDialogs({
    current,
    setStatus,
    created: async (vm) => {
      selected = vm.id;
      await reload();
    },
    deleting,
    deleted: async (id) => {
      if (selected === id) selected = undefined;
      await reload();
    },
  });
  if (session.token) void signIn(session.token);
  else showLogin();
}

main();
