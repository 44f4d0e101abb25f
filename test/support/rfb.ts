// A minimal RFB 3.8 client for the display tests: the handshake (security None), then key events
// typed as a real viewer types them (Shift held for shifted characters).
import assert from "node:assert/strict";
import net from "node:net";

export interface RfbClient {
  sock: net.Socket;
  width: number;
  height: number;
}

/** Connects to the VNC Unix socket `path` and completes the handshake; updates are not read. */
export async function rfb(path: string): Promise<RfbClient> {
  const sock = net.connect(path);
  let buf = Buffer.alloc(0);
  const need = async (n: number): Promise<Buffer> => {
    while (buf.length < n) {
      const chunk = await new Promise<Buffer>((res, rej) => {
        sock.once("data", res);
        sock.once("error", rej);
      });
      buf = Buffer.concat([buf, chunk]);
    }
    const out = buf.subarray(0, n);
    buf = buf.subarray(n);
    return out;
  };
  assert.equal((await need(12)).toString(), "RFB 003.008\n");
  sock.write("RFB 003.008\n");
  assert.deepEqual([...(await need(2))], [1, 1], "one security type: None");
  sock.write(Buffer.from([1]));
  assert.equal((await need(4)).readUInt32BE(0), 0, "security result OK");
  sock.write(Buffer.from([1])); // shared
  const init = await need(24);
  await need(init.readUInt32BE(20));
  sock.on("data", () => {}); // updates are not read here
  return { sock, width: init.readUInt16BE(0), height: init.readUInt16BE(2) };
}

/** A KeyEvent message for X keysym `keysym`. */
export function keyEvent(keysym: number, down: boolean): Buffer {
  const b = Buffer.alloc(8);
  b[0] = 4;
  b[1] = down ? 1 : 0;
  b.writeUInt32BE(keysym, 4);
  return b;
}

const SHIFT_L = 0xffe1;
const CONTROL_L = 0xffe3;
const RETURN = 0xff0d;
/** What a US keyboard types with Shift held. */
const SHIFTED = /[A-Z!@#$%^&*()_+{}:"~|<>?]/;

/**
 * Types `text` as a viewer does: "\n" is Return, "\x01".."\x1a" are Ctrl-A..Ctrl-Z (Control
 * held), Shift is held around shifted characters; the rest is printable ASCII.
 */
export function typeKeys(sock: net.Socket, text: string): void {
  const press = (sym: number, modifier?: number): void => {
    if (modifier !== undefined) sock.write(keyEvent(modifier, true));
    sock.write(keyEvent(sym, true));
    sock.write(keyEvent(sym, false));
    if (modifier !== undefined) sock.write(keyEvent(modifier, false));
  };
  for (const ch of text) {
    const code = ch.charCodeAt(0);
    if (ch === "\n") press(RETURN);
    else if (code >= 1 && code <= 26) press(0x60 + code, CONTROL_L);
    else press(code, SHIFTED.test(ch) ? SHIFT_L : undefined);
  }
}
