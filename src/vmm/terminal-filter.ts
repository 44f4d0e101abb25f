// Guest output on its way to an operator's terminal. A hostile guest can write escape sequences
// a terminal acts on: set the clipboard (OSC 52), plant links (OSC 8), drive terminal extensions
// (DCS, APC), or ask for replies that the terminal types into whatever reads it next (window
// and title reports). The filter follows the terminal's own parser (the VT500 state machine
// that xterm and VTE implement: what ends a sequence, what a C0 control does inside one) so
// that what it lets through cannot be completed into a sequence it dropped.

/**
 * `interactive`: a guest's console in use (moat run, moat console): control characters, ESC
 * and CSI sequences pass, full-screen programs need them; strings (OSC, DCS, SOS, PM, APC),
 * CSI window operations (final `t`) and C1 controls are dropped.
 * `log`: output read later (moat logs, moat exec): text, tab, newline, carriage return,
 * backspace and SGR colours pass; every other control and sequence is dropped.
 */
export type TerminalPolicy = "interactive" | "log";

/** A CSI sequence is held until its final byte, up to this many bytes; longer ones are dropped. */
export const CSI_MAX = 64;

const ESC = 0x1b;
const BEL = 0x07;
const CAN = 0x18;
const SUB = 0x1a;
const DEL = 0x7f;

const enum State {
  Ground,
  /** After ESC. */
  Escape,
  /** ESC followed by intermediates (0x20–0x2f). */
  EscapeIntermediate,
  Csi,
  /** A CSI too long to hold or malformed: dropped up to its final byte. */
  CsiIgnore,
  /** OSC: dropped up to BEL or ST. */
  Osc,
  /** DCS, SOS, PM, APC: dropped up to ST (BEL does not end them). */
  String,
  /** ESC inside a string: `\` completes ST, anything else starts a new sequence. */
  StringEscape,
  /** A UTF-8 lead byte 0xc2 is held: U+0080–U+009F are C1 controls, a lone 0xc2 is invalid. */
  Utf8C2,
}

/** Keeps what `policy` allows of a byte stream split anywhere; holds at most CSI_MAX bytes. */
export class TerminalFilter {
  private state = State.Ground;
  /** The sequence being read (ESC, intermediates, CSI parameters), up to its final byte. */
  private readonly held = new Uint8Array(CSI_MAX + 1);
  private heldLen = 0;
  /** Sequences and controls dropped so far. */
  dropped = 0;

  /** Bytes held back for the next call (a CSI or ESC sequence not finished); ≤ CSI_MAX + 1. */
  get heldBytes(): number {
    return this.heldLen;
  }

  constructor(readonly policy: TerminalPolicy) {}

  /** The part of `chunk` (with what the last call held) that may reach the terminal. */
  write(chunk: Uint8Array): Buffer {
    // Most console output is plain text arriving a byte at a time: in the ground state of a
    // live console, a chunk without ESC or 0xc2 passes as it is, with no copy.
    if (this.state === State.Ground && this.policy === "interactive" && plain(chunk))
      return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    const out = Buffer.allocUnsafe(chunk.length + this.heldLen + 1);
    let n = 0;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      switch (this.state) {
        case State.Ground:
          if (b === ESC) this.begin(State.Escape, b);
          else if (b === 0xc2) this.begin(State.Utf8C2, b);
          else if (this.passes(b)) out[n++] = b;
          break;
        case State.Utf8C2:
          // Emitted only with its continuation: a lone 0xc2 let through could pair with a byte
          // after a dropped sequence into a C1 control.
          this.to(State.Ground);
          if (b >= 0xa0 && b <= 0xbf) {
            out[n++] = 0xc2;
            out[n++] = b;
          } else {
            this.dropped++;
            if (b < 0x80 || b > 0xbf) i--; // not a continuation: this byte again, in ground
          }
          break;
        case State.Escape:
        case State.EscapeIntermediate:
          if (this.abort(b)) break;
          if (b < 0x20) {
            if (this.passes(b)) out[n++] = b;
          } else if (b === DEL) break;
          else if (this.state === State.Escape && b === 0x5b) {
            this.held[this.heldLen++] = b;
            this.state = State.Csi;
          } else if (this.state === State.Escape && b === 0x5d) this.drop(State.Osc);
          else if (
            this.state === State.Escape &&
            (b === 0x50 || b === 0x58 || b === 0x5e || b === 0x5f)
          )
            this.drop(State.String);
          else if (b < 0x30) {
            if (this.heldLen >= CSI_MAX) this.drop(State.CsiIgnore);
            else {
              this.held[this.heldLen++] = b;
              this.state = State.EscapeIntermediate;
            }
          } else if (b < 0x7f) {
            this.held[this.heldLen++] = b;
            n = this.finish(this.policy === "interactive", out, n);
          } else this.drop(State.Ground); // not a sequence: terminals drop it too
          break;
        case State.Csi:
          if (this.abort(b)) break;
          if (b < 0x20) {
            if (this.passes(b)) out[n++] = b;
          } else if (b === DEL) break;
          else if (b >= 0x40 && b <= 0x7e) {
            this.held[this.heldLen++] = b;
            n = this.finish(this.csiAllowed(), out, n);
          } else if (b < 0x40 && this.heldLen < CSI_MAX) this.held[this.heldLen++] = b;
          else this.drop(b < 0x40 ? State.CsiIgnore : State.Ground);
          break;
        case State.CsiIgnore:
          if (this.abort(b)) break;
          if (b < 0x20) {
            if (this.passes(b)) out[n++] = b;
          } else if (b >= 0x40 && b <= 0x7e) this.state = State.Ground;
          break;
        case State.Osc:
        case State.String:
          if (b === ESC) this.state = State.StringEscape;
          else if (b === CAN || b === SUB || (this.state === State.Osc && b === BEL))
            this.state = State.Ground;
          break;
        case State.StringEscape:
          if (b === 0x5c) this.state = State.Ground;
          else {
            i--; // the ESC ended the string; this byte follows an ESC
            this.begin(State.Escape, ESC);
          }
          break;
      }
    }
    return out.subarray(0, n);
  }

  /** Whether a C0 control or a text byte passes, as the policy says (counted if not). */
  private passes(b: number): boolean {
    if (
      (b >= 0x20 && b !== DEL) ||
      this.policy === "interactive" ||
      b === 0x08 ||
      b === 0x09 ||
      b === 0x0a ||
      b === 0x0d
    )
      return true;
    this.dropped++;
    return false;
  }

  /** A whole sequence is held: copied out if `allowed`, else counted; back to ground. */
  private finish(allowed: boolean, out: Buffer, n: number): number {
    if (allowed) out.set(this.held.subarray(0, this.heldLen), n);
    else this.dropped++;
    const end = allowed ? n + this.heldLen : n;
    this.to(State.Ground);
    return end;
  }

  /** ESC restarts a sequence, CAN and SUB cancel it (as in a terminal); true if `b` did. */
  private abort(b: number): boolean {
    if (b === ESC) {
      this.dropped++;
      this.begin(State.Escape, b);
      return true;
    }
    if (b === CAN || b === SUB) {
      this.drop(State.Ground);
      return true;
    }
    return false;
  }

  private csiAllowed(): boolean {
    const final = this.held[this.heldLen - 1]!;
    if (this.policy === "interactive") return final !== 0x74; // t: window operations, reports
    if (final !== 0x6d) return false; // m: SGR
    for (let k = 2; k < this.heldLen - 1; k++) {
      const c = this.held[k]!;
      if (!((c >= 0x30 && c <= 0x39) || c === 0x3b || c === 0x3a)) return false;
    }
    return true;
  }

  private begin(s: State, b: number): void {
    this.state = s;
    this.held[0] = b;
    this.heldLen = 1;
  }

  /** A sequence dropped as a whole (counted once), and the state that follows it. */
  private drop(s: State): void {
    this.dropped++;
    this.to(s);
  }

  private to(s: State): void {
    this.state = s;
    this.heldLen = 0;
  }
}

/** No ESC and no 0xc2 in `chunk`: nothing in it can start a sequence or a C1 control. */
function plain(chunk: Uint8Array): boolean {
  for (let i = 0; i < chunk.length; i++) if (chunk[i] === ESC || chunk[i] === 0xc2) return false;
  return true;
}
