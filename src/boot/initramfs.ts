// Building the small initramfs moat appends to the guest's own: the command to run. Linux
// unpacks concatenated cpio archives in order, so a later archive adds files to the earlier.

const enc = new TextEncoder();

export interface CpioFile {
  name: string;
  data: Uint8Array;
  mode: number; // including the file type bits
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, "0");
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

/** A "newc" cpio archive of `files` (directories first, as the kernel creates them in order). */
export function buildCpio(files: CpioFile[]): Uint8Array {
  const parts: Uint8Array[] = [];
  let ino = 1;
  const entry = (name: string, mode: number, data: Uint8Array): void => {
    const nameBytes = enc.encode(name + "\0");
    const header =
      "070701" +
      hex8(ino++) +
      hex8(mode) +
      hex8(0) +
      hex8(0) +
      hex8(1) +
      hex8(0) +
      hex8(data.length) +
      hex8(0) +
      hex8(0) +
      hex8(0) +
      hex8(0) +
      hex8(nameBytes.length) +
      hex8(0);
    parts.push(enc.encode(header), nameBytes, new Uint8Array(pad4(110 + nameBytes.length)));
    parts.push(data, new Uint8Array(pad4(data.length)));
  };
  for (const f of files) entry(f.name, f.mode, f.data);
  entry("TRAILER!!!", 0, new Uint8Array(0));
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total + pad4(total));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Quotes one argument for a POSIX shell: single quotes, with ' written as '\''. */
export function shellQuote(arg: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg;
  return "'" + arg.replace(/'/g, "'\\''") + "'";
}

export interface GuestCommand {
  argv: string[];
  /** Host stdin is not a terminal: no echo of what it sends. */
  pipedInput: boolean;
  /** Host stdout is not a terminal: plain \n line ends. */
  pipedOutput: boolean;
}

/** The /moat/run script the guest's /init executes (see docs/guest.md). */
export function runScript(cmd: GuestCommand): string {
  const lines: string[] = [];
  const stty: string[] = [];
  if (cmd.pipedInput) stty.push("-echo");
  if (cmd.pipedOutput) stty.push("-onlcr");
  if (stty.length) lines.push(`stty ${stty.join(" ")} 2>/dev/null`);
  // Tell moat the terminal is set up: it holds host input back until now, so that nothing
  // arrives while the guest's terminal would still echo it (docs/machine.md, offset 0xc).
  lines.push("devmem 0x10000c 32 1 2>/dev/null");
  lines.push(cmd.argv.map(shellQuote).join(" "));
  // Before this script (the session leader) exits and the terminal is hung up, which discards
  // output not yet sent, wait for the output to drain: setting the terminal's modes to what
  // they are waits for that (TCSADRAIN).
  lines.push('moat_status=$?; stty "$(stty -g)" 2>/dev/null; exit $moat_status');
  return lines.join("\n") + "\n";
}

/** The archive holding /moat/run for `cmd`. */
export function commandArchive(cmd: GuestCommand): Uint8Array {
  return buildCpio([
    { name: "moat", mode: 0o040755, data: new Uint8Array(0) },
    { name: "moat/run", mode: 0o100755, data: enc.encode(runScript(cmd)) },
  ]);
}

/** cpio archives one after the other, each starting on a 4-byte boundary as newc wants. */
export function concatArchives(parts: readonly Uint8Array[]): Uint8Array {
  const total = parts.reduce((n, p) => n + p.length + pad4(p.length), 0);
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length + pad4(p.length);
  }
  return out;
}
