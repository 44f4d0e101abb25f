// RFB framebuffer encodings (RFC 6143, section 7.7): pixels of a rectangle from an RGBA frame in
// the client's true-colour pixel format, Raw or ZRLE (64x64 tiles, solid or raw, in one zlib
// stream per connection).

/** An RFB PIXEL_FORMAT (true colour only: moat refuses colour maps). */
export interface PixelFormat {
  bitsPerPixel: 8 | 16 | 32;
  depth: number;
  bigEndian: boolean;
  redMax: number;
  greenMax: number;
  blueMax: number;
  redShift: number;
  greenShift: number;
  blueShift: number;
}

/** What moat offers in ServerInit: 32 bits, depth 24, little-endian xRGB. */
export const SERVER_FORMAT: PixelFormat = {
  bitsPerPixel: 32,
  depth: 24,
  bigEndian: false,
  redMax: 255,
  greenMax: 255,
  blueMax: 255,
  redShift: 16,
  greenShift: 8,
  blueShift: 0,
};

/** The 16 bytes of a PIXEL_FORMAT. */
export function encodePixelFormat(f: PixelFormat): Buffer {
  const b = Buffer.alloc(16);
  b[0] = f.bitsPerPixel;
  b[1] = f.depth;
  b[2] = f.bigEndian ? 1 : 0;
  b[3] = 1; // true colour
  b.writeUInt16BE(f.redMax, 4);
  b.writeUInt16BE(f.greenMax, 6);
  b.writeUInt16BE(f.blueMax, 8);
  b[10] = f.redShift;
  b[11] = f.greenShift;
  b[12] = f.blueShift;
  return b;
}

/**
 * A client's PIXEL_FORMAT, or a reason it is refused. Bounds: 8, 16 or 32 bits a pixel, true
 * colour, each max 2^n - 1 and each shift leaving the channel inside the pixel.
 */
export function decodePixelFormat(b: Buffer): PixelFormat | string {
  const bpp = b[0]!;
  if (bpp !== 8 && bpp !== 16 && bpp !== 32) return `${bpp} bits a pixel`;
  if (b[3] === 0) return "colour-map pixel formats";
  const f: PixelFormat = {
    bitsPerPixel: bpp,
    depth: b[1]!,
    bigEndian: b[2] !== 0,
    redMax: b.readUInt16BE(4),
    greenMax: b.readUInt16BE(6),
    blueMax: b.readUInt16BE(8),
    redShift: b[10]!,
    greenShift: b[11]!,
    blueShift: b[12]!,
  };
  for (const [max, shift] of [
    [f.redMax, f.redShift],
    [f.greenMax, f.greenShift],
    [f.blueMax, f.blueShift],
  ] as const) {
    if (max === 0 || (max & (max + 1)) !== 0) return `a channel maximum of ${max}`;
    if (shift + Math.log2(max + 1) > bpp) return `a channel shifted past the pixel (${shift})`;
  }
  return f;
}

/** An RGBA frame: rows of width * 4 bytes. */
export interface Frame {
  width: number;
  height: number;
  rgba: Uint8Array;
}

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

function pixelValue(f: PixelFormat, rgba: Uint8Array, i: number): number {
  const r = Math.round((rgba[i]! * f.redMax) / 255);
  const g = Math.round((rgba[i + 1]! * f.greenMax) / 255);
  const b = Math.round((rgba[i + 2]! * f.blueMax) / 255);
  return ((r << f.redShift) | (g << f.greenShift) | (b << f.blueShift)) >>> 0;
}

/** Writes pixel `v` in `bytes` bytes; a 3-byte CPIXEL holds `v >>> cpixelShift`. */
function putPixel(
  f: PixelFormat,
  out: Buffer,
  at: number,
  v: number,
  bytes: number,
  cpixelShift = 0,
): void {
  if (bytes === 1) out[at] = v;
  else if (bytes === 2) {
    if (f.bigEndian) out.writeUInt16BE(v, at);
    else out.writeUInt16LE(v, at);
  } else if (bytes === 4) {
    if (f.bigEndian) out.writeUInt32BE(v, at);
    else out.writeUInt32LE(v, at);
  } else {
    // CPIXEL of 3 bytes: the three bytes that hold the colour, in the client's byte order.
    const shifted = v >>> cpixelShift;
    if (f.bigEndian) out.writeUIntBE(shifted & 0xffffff, at, 3);
    else out.writeUIntLE(shifted & 0xffffff, at, 3);
  }
}

/** Whether every channel lives in the top three bytes of a 32-bit pixel. */
function fitsHigh(f: PixelFormat): boolean {
  return Math.min(f.redShift, f.greenShift, f.blueShift) >= 8;
}

/** Whether every channel lives in the low three bytes of a 32-bit pixel. */
function fitsLow(f: PixelFormat): boolean {
  const top = (max: number, shift: number) => shift + Math.log2(max + 1);
  return (
    Math.max(
      top(f.redMax, f.redShift),
      top(f.greenMax, f.greenShift),
      top(f.blueMax, f.blueShift),
    ) <= 24
  );
}

/** Raw encoding: the rectangle's pixels in the client's format, row by row. */
export function encodeRaw(frame: Frame, r: Rect, f: PixelFormat): Buffer {
  const bytes = f.bitsPerPixel / 8;
  const out = Buffer.alloc(r.width * r.height * bytes);
  let at = 0;
  for (let y = r.y; y < r.y + r.height; y++)
    for (let x = r.x; x < r.x + r.width; x++, at += bytes)
      putPixel(f, out, at, pixelValue(f, frame.rgba, (y * frame.width + x) * 4), bytes);
  return out;
}

/**
 * ZRLE's uncompressed stream for a rectangle (before zlib): 64x64 tiles, each solid (one
 * CPIXEL) when it has one colour, else raw CPIXELs.
 */
export function zrleTiles(frame: Frame, r: Rect, f: PixelFormat): Buffer {
  const cbytes =
    f.bitsPerPixel === 32 && f.depth <= 24 && (fitsLow(f) || fitsHigh(f)) ? 3 : f.bitsPerPixel / 8;
  // Decided once for the rectangle, not per pixel: the low three bytes when they hold it all.
  const shift = cbytes === 3 && !fitsLow(f) ? 8 : 0;
  const parts: Buffer[] = [];
  for (let ty = r.y; ty < r.y + r.height; ty += 64) {
    const th = Math.min(64, r.y + r.height - ty);
    for (let tx = r.x; tx < r.x + r.width; tx += 64) {
      const tw = Math.min(64, r.x + r.width - tx);
      const values = new Uint32Array(tw * th);
      let solid = true;
      for (let y = 0; y < th; y++)
        for (let x = 0; x < tw; x++) {
          const v = pixelValue(f, frame.rgba, ((ty + y) * frame.width + tx + x) * 4);
          values[y * tw + x] = v;
          if (v !== values[0]) solid = false;
        }
      if (solid) {
        const t = Buffer.alloc(1 + cbytes);
        t[0] = 1;
        putPixel(f, t, 1, values[0]!, cbytes, shift);
        parts.push(t);
      } else {
        const t = Buffer.alloc(1 + values.length * cbytes);
        t[0] = 0;
        for (let i = 0; i < values.length; i++)
          putPixel(f, t, 1 + i * cbytes, values[i]!, cbytes, shift);
        parts.push(t);
      }
    }
  }
  return Buffer.concat(parts);
}
