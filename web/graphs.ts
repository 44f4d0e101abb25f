// Small live graphs of one VM: CPU, memory, disk and network over the last minute or so, drawn
// from GET /v1/vms/{vm}/stats polled by the page (the daemon keeps counters, not history).
// Rates are differences of the counters between two polls. Each graph is a <canvas> whose
// data-samples and data-last attributes say what it holds (for people reading the DOM, and tests).

/** What the page reads of a stats reply. */
export interface VmStatsReply {
  cpu_seconds?: number;
  rss_bytes?: number;
  cgroup_memory_bytes?: number;
  vmm?: {
    disks?: { read_bytes: number; write_bytes: number }[];
    nets?: { rx_bytes: number; tx_bytes: number }[];
  } | null;
}

/** Bound: points each graph keeps (one per poll). */
export const WINDOW = 60;

type Metric = "cpu" | "memory" | "disk" | "net";

const TITLES: Record<Metric, string> = {
  cpu: "CPU",
  memory: "Memory",
  disk: "Disk I/O",
  net: "Network",
};

function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n >= 100 || i === 0 ? n.toFixed(0) : n.toFixed(1)} ${units[i]}`;
}

const SHOW: Record<Metric, (v: number) => string> = {
  cpu: (v) => `${v.toFixed(v >= 10 ? 0 : 1)} %`,
  memory: bytes,
  disk: (v) => `${bytes(v)}/s`,
  net: (v) => `${bytes(v)}/s`,
};

class Graph {
  readonly values: number[] = [];
  readonly canvas = document.createElement("canvas");
  private readonly value = document.createElement("span");
  readonly box = document.createElement("figure");

  constructor(readonly metric: Metric) {
    this.box.className = "graph";
    const cap = document.createElement("figcaption");
    const name = document.createElement("span");
    name.textContent = TITLES[metric];
    this.value.className = "graph-value";
    cap.append(name, this.value);
    this.canvas.dataset.metric = metric;
    this.canvas.setAttribute("role", "img");
    this.canvas.setAttribute("aria-label", `${TITLES[metric]} over time`);
    this.box.append(cap, this.canvas);
    this.clear();
  }

  clear(): void {
    this.values.length = 0;
    this.value.textContent = "–";
    this.canvas.dataset.samples = "0";
    delete this.canvas.dataset.last;
    this.draw();
  }

  /** The VM has no such device: nothing to draw. */
  absent(why: string): void {
    if (this.values.length === 0) this.value.textContent = why;
  }

  push(v: number): void {
    this.values.push(v);
    if (this.values.length > WINDOW) this.values.shift();
    this.value.textContent = SHOW[this.metric](v);
    this.canvas.dataset.samples = String(this.values.length);
    this.canvas.dataset.last = String(v);
    this.draw();
  }

  /** A filled line over the window, scaled to its largest value; newest point on the right. */
  draw(): void {
    const c = this.canvas;
    const ratio = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(c.clientWidth * ratio));
    const h = Math.max(1, Math.round(c.clientHeight * ratio));
    if (c.width !== w) c.width = w;
    if (c.height !== h) c.height = h;
    const g = c.getContext("2d");
    if (!g) return;
    g.clearRect(0, 0, w, h);
    const n = this.values.length;
    if (n === 0) return;
    const top = Math.max(...this.values) || 1;
    const step = w / (WINDOW - 1);
    const x = (i: number) => w - (n - 1 - i) * step;
    const y = (v: number) => h - 1 - (v / top) * (h - 2 * ratio);
    g.beginPath();
    g.moveTo(x(0), y(this.values[0]!));
    for (let i = 1; i < n; i++) g.lineTo(x(i), y(this.values[i]!));
    g.lineWidth = 1.5 * ratio;
    g.strokeStyle = "#2357d6";
    g.stroke();
    g.lineTo(x(n - 1), h);
    g.lineTo(x(0), h);
    g.closePath();
    g.fillStyle = "rgba(35, 87, 214, 0.15)";
    g.fill();
  }
}

/** The four graphs of the open VM, fed one stats reply per poll. */
export class VmGraphs {
  private readonly graphs: Record<Metric, Graph>;
  private last: { t: number; cpu?: number; disk?: number; net?: number } | undefined;

  constructor(host: HTMLElement) {
    this.graphs = {
      cpu: new Graph("cpu"),
      memory: new Graph("memory"),
      disk: new Graph("disk"),
      net: new Graph("net"),
    };
    host.replaceChildren(...Object.values(this.graphs).map((g) => g.box));
  }

  /** Starts over (another VM, or the VM stopped). */
  reset(): void {
    this.last = undefined;
    for (const g of Object.values(this.graphs)) g.clear();
  }

  /** Adds one poll's figures at `t` (ms); rates need the poll before. */
  add(s: VmStatsReply, t: number): void {
    const sum = <T>(list: T[] | undefined, f: (x: T) => number) =>
      !list?.length ? undefined : list.reduce((a, x) => a + f(x), 0);
    const now = {
      t,
      cpu: s.cpu_seconds,
      disk: sum(s.vmm?.disks, (d) => d.read_bytes + d.write_bytes),
      net: sum(s.vmm?.nets, (n) => n.rx_bytes + n.tx_bytes),
    };
    if (s.vmm?.disks?.length === 0) this.graphs.disk.absent("no disk");
    if (s.vmm?.nets?.length === 0) this.graphs.net.absent("no NIC");
    const mem = s.rss_bytes ?? s.cgroup_memory_bytes;
    if (mem !== undefined) this.graphs.memory.push(mem);
    const before = this.last;
    this.last = now;
    if (!before || t <= before.t) return;
    const secs = (t - before.t) / 1000;
    const rate = (a: number | undefined, b: number | undefined) =>
      a === undefined || b === undefined ? undefined : Math.max(0, b - a) / secs;
    const cpu = rate(before.cpu, now.cpu);
    if (cpu !== undefined) this.graphs.cpu.push(cpu * 100);
    const disk = rate(before.disk, now.disk);
    if (disk !== undefined) this.graphs.disk.push(disk);
    const net = rate(before.net, now.net);
    if (net !== undefined) this.graphs.net.push(net);
  }
}
