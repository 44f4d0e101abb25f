// RFB's "VNC Authentication" (security type 2, RFC 6143 7.2.2): the server sends 16 random bytes,
// the viewer answers with them encrypted by DES under the password. It is weak (8 characters,
// DES, no encryption of what follows) and so is offered only on loopback TCP and Unix sockets;
// its job is to keep other local users out, not to cross a network (docs/virtio.md).
import { createCipheriv, randomBytes, timingSafeEqual } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { MoatError } from "../base/moat-error.js";

/** Bound: RFB's VNC Authentication uses at most 8 password bytes. */
export const MAX_VNC_PASSWORD = 8;
export const CHALLENGE_BYTES = 16;

export class VncPasswordError extends MoatError {}

/**
 * The DES key RFB derives from a password: its first 8 bytes, zero-padded, each byte's bits in
 * reverse order (a quirk of the original implementation that every viewer follows).
 */
function desKey(password: Buffer): Buffer {
  const k = Buffer.alloc(8);
  for (let i = 0; i < Math.min(password.length, 8); i++) {
    let b = password[i]!;
    let r = 0;
    for (let j = 0; j < 8; j++) {
      r = (r << 1) | (b & 1);
      b >>= 1;
    }
    k[i] = r;
  }
  return k;
}

/**
 * The viewer's answer to `challenge` (16 bytes) for `password`. Node's OpenSSL 3 has no
 * single DES outside the legacy provider; two-key triple DES with both keys equal is single DES
 * (encrypt, decrypt and encrypt again under one key), so des-ede-ecb does the job.
 */
export function vncAuthResponse(password: Buffer, challenge: Buffer): Buffer {
  const k = desKey(password);
  const c = createCipheriv("des-ede-ecb", Buffer.concat([k, k]), null);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(challenge), c.final()]);
}

export function newChallenge(): Buffer {
  return randomBytes(CHALLENGE_BYTES);
}

/** Whether `response` answers `challenge` for `password`, in constant time. */
export function checkVncResponse(password: Buffer, challenge: Buffer, response: Buffer): boolean {
  const want = vncAuthResponse(password, challenge);
  return response.length === want.length && timingSafeEqual(response, want);
}

/**
 * Reads a VNC password: the file's first line, 1 to 8 bytes. Refused when the file can be read
 * by group or others (like ssh's keys), or when the password is longer than RFB can use (a user
 * who typed 12 characters would otherwise be let in by the first 8 without knowing it).
 */
export function readVncPassword(path: string): Buffer {
  let st;
  let text: string;
  try {
    st = statSync(path);
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new VncPasswordError(`cannot read the VNC password file: ${(e as Error).message}`);
  }
  if ((st.mode & 0o077) !== 0)
    throw new VncPasswordError(
      `${path} can be read by others (mode ${(st.mode & 0o777).toString(8)}): chmod 600 it`,
    );
  const line = text.split("\n")[0]!.replace(/\r$/, "");
  const pw = Buffer.from(line, "utf8");
  if (pw.length === 0) throw new VncPasswordError(`${path}: the password is empty`);
  if (pw.length > MAX_VNC_PASSWORD)
    throw new VncPasswordError(
      `${path}: VNC passwords are at most ${MAX_VNC_PASSWORD} bytes (RFB ignores the rest); ` +
        `this one has ${pw.length}`,
    );
  return pw;
}
