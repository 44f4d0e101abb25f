// X11 keysyms (what an RFB client sends) to Linux key codes (what virtio-input carries), for a
// US layout. The client sends Shift itself, so 'A' and 'a' are both KEY_A and '!' is KEY_1.

const LETTERS = "qwertyuiopasdfghjklzxcvbnm";
const LETTER_CODES = [
  16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 30, 31, 32, 33, 34, 35, 36, 37, 38, 44, 45, 46, 47, 48,
  49, 50,
];

/** Printable ASCII, unshifted and shifted, to the key that types it. */
const PRINTABLE: [string, string, number][] = [
  ["1", "!", 2],
  ["2", "@", 3],
  ["3", "#", 4],
  ["4", "$", 5],
  ["5", "%", 6],
  ["6", "^", 7],
  ["7", "&", 8],
  ["8", "*", 9],
  ["9", "(", 10],
  ["0", ")", 11],
  ["-", "_", 12],
  ["=", "+", 13],
  ["[", "{", 26],
  ["]", "}", 27],
  [";", ":", 39],
  ["'", '"', 40],
  ["`", "~", 41],
  ["\\", "|", 43],
  [",", "<", 51],
  [".", ">", 52],
  ["/", "?", 53],
  [" ", " ", 57],
];

/** Keysyms 0xff00-0xffff: editing, function and modifier keys. */
const SPECIAL: Record<number, number> = {
  0xff08: 14, // BackSpace
  0xff09: 15, // Tab
  0xff0d: 28, // Return
  0xff1b: 1, // Escape
  0xff50: 102, // Home
  0xff51: 105, // Left
  0xff52: 103, // Up
  0xff53: 106, // Right
  0xff54: 108, // Down
  0xff55: 104, // Page_Up
  0xff56: 109, // Page_Down
  0xff57: 107, // End
  0xff63: 110, // Insert
  0xffff: 111, // Delete
  0xff8d: 96, // KP_Enter
  0xffe1: 42, // Shift_L
  0xffe2: 54, // Shift_R
  0xffe3: 29, // Control_L
  0xffe4: 97, // Control_R
  0xffe5: 58, // Caps_Lock
  0xffe9: 56, // Alt_L
  0xffea: 100, // Alt_R
  0xffeb: 125, // Super_L
  0xffec: 126, // Super_R
};
// F1-F10 are 59-68, F11 and F12 are 87 and 88.
for (let i = 0; i < 12; i++) SPECIAL[0xffbe + i] = i < 10 ? 59 + i : 87 + (i - 10);

const TABLE = new Map<number, number>();
for (const [i, ch] of [...LETTERS].entries()) {
  TABLE.set(ch.charCodeAt(0), LETTER_CODES[i]!);
  TABLE.set(ch.toUpperCase().charCodeAt(0), LETTER_CODES[i]!);
}
for (const [plain, shifted, code] of PRINTABLE) {
  TABLE.set(plain.charCodeAt(0), code);
  TABLE.set(shifted.charCodeAt(0), code);
}
for (const [sym, code] of Object.entries(SPECIAL)) TABLE.set(Number(sym), code);

/** The Linux key code for `keysym`, or undefined for keys moat does not map. */
export function keysymToKeycode(keysym: number): number | undefined {
  return TABLE.get(keysym);
}
