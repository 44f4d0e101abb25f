// What a display adds to the kernel command line: the screen's text console (tty0) as a second
// console, as QEMU's guests have one, so kernel messages reach the person at the screen too.

/** A console= argument naming a virtual terminal (tty, tty0, tty1, ...), not ttyS0 or ttyAMA0. */
const VT_CONSOLE = /^console=tty\d*(,|$)/;

/**
 * `cmdline` with `console=tty0` put first when it names a console and no virtual terminal. The
 * last console= is /dev/console (the command's terminal, its exit status and the daemon's
 * console), so the one the user named stays last; a command line without console= is left as it
 * is, since adding one would make the screen /dev/console. Words after `--` are init's, not the
 * kernel's.
 */
export function withScreenConsole(cmdline: string): string {
  const words = cmdline.trim().split(/\s+/);
  const end = words.indexOf("--");
  const kernel = end < 0 ? words : words.slice(0, end);
  if (!kernel.some((w) => w.startsWith("console="))) return cmdline;
  if (kernel.some((w) => VT_CONSOLE.test(w))) return cmdline;
  return `console=tty0 ${cmdline.trim()}`;
}
