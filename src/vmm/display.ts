// What the guest's display shows: the scanout rectangle of the virtio-gpu resource, converted
// from the guest's pixel format to RGBA (for VNC viewers), or as a PNG encoded by pngjs
// (docs/dependencies.md) on a worker thread (png-worker.ts), so that the VMM's event loop goes
// on while a screenshot of a large, noisy scanout is compressed.
import { endianness } from "node:os";
import { Worker } from "node:worker_threads";
import { GpuFormat, MAX_SCANOUT_PIXELS, type ScanoutImage } from "../devices/virtio/gpu.js";
import { MoatError } from "../base/moat-error.js";

/** A screenshot that cannot be taken (too big, or the encoder failed): nothing was sent. */
export class ScreenshotError extends MoatError {
  override readonly kind = "conflict";
}

/** Byte positions of R, G, B and A (-1: opaque) in a pixel of each 2D format. */
const LAYOUT: Record<number, [number, number, number, number]> = {
  [GpuFormat.B8G8R8A8]: [2, 1, 0, 3],
  [GpuFormat.B8G8R8X8]: [2, 1, 0, -1],
  [GpuFormat.A8R8G8B8]: [1, 2, 3, 0],
  [GpuFormat.X8R8G8B8]: [1, 2, 3, -1],
  [GpuFormat.R8G8B8A8]: [0, 1, 2, 3],
  [GpuFormat.X8B8G8R8]: [3, 2, 1, -1],
  [GpuFormat.A8B8G8R8]: [3, 2, 1, 0],
  [GpuFormat.R8G8B8X8]: [0, 1, 2, -1],
};

/** The shift of byte k of a pixel in the 32-bit word the host reads it as. */
const SHIFT = endianness() === "LE" ? (k: number) => 8 * k : (k: number) => 8 * (3 - k);

/**
 * The scanout's rows, copied out in the guest's format (rect.width * 4 bytes each). Bound: at
 * most MAX_SCANOUT_PIXELS (the device refuses larger scanouts), refused before any allocation.
 */
export function scanoutRows(img: ScanoutImage): Uint8Array<ArrayBuffer> {
  const { rect } = img;
  if (rect.width * rect.height > MAX_SCANOUT_PIXELS)
    throw new ScreenshotError(`the scanout (${rect.width}x${rect.height}) is too big to show`);
  if (!LAYOUT[img.format]) throw new ScreenshotError(`unknown pixel format ${img.format}`);
  const rowBytes = rect.width * 4;
  const out = new Uint8Array(rowBytes * rect.height);
  for (let y = 0; y < rect.height; y++) {
    const src = ((rect.y + y) * img.width + rect.x) * 4;
    out.set(img.pixels.subarray(src, src + rowBytes), y * rowBytes);
  }
  return out;
}

/** Converts pixels of `format` to RGBA in place, a 32-bit word at a time. */
export function toRgba(px: Uint8Array, format: number): void {
  const [r, g, b, a] = LAYOUT[format]!;
  const words = new Uint32Array(px.buffer, px.byteOffset, px.byteLength >> 2);
  const [sr, sg, sb, sa] = [SHIFT(r), SHIFT(g), SHIFT(b), a < 0 ? -1 : SHIFT(a)];
  const [dr, dg, db, da] = [SHIFT(0), SHIFT(1), SHIFT(2), SHIFT(3)];
  const opaque = (0xff << da) >>> 0;
  for (let i = 0; i < words.length; i++) {
    const v = words[i]!;
    words[i] =
      (((v >>> sr) & 0xff) << dr) |
      (((v >>> sg) & 0xff) << dg) |
      (((v >>> sb) & 0xff) << db) |
      (sa < 0 ? opaque : ((v >>> sa) & 0xff) << da);
  }
}

/** The scanout as RGBA rows (width * 4 bytes each). Bound: that of scanoutRows. */
export function scanoutRgba(img: ScanoutImage): { width: number; height: number; rgba: Buffer } {
  const px = scanoutRows(img);
  toRgba(px, img.format);
  return {
    width: img.rect.width,
    height: img.rect.height,
    rgba: Buffer.from(px.buffer, px.byteOffset, px.byteLength),
  };
}

/** What png-worker.ts is given. */
export interface PngJob {
  width: number;
  height: number;
  format: number;
  pixels: Uint8Array;
  maxBytes: number;
}

/** What png-worker.ts answers: the PNG, or how far it got before it passed maxBytes. */
export type PngReply = { png: Uint8Array } | { tooBig: number } | { error: string };

/** Bound: the JavaScript heap of the encoder's worker (the pixels are outside it). */
const WORKER_HEAP_MIB = 32;
/** Bound: how long the encoder's worker may run (a noisy 4K scanout takes about a second). */
export const PNG_TIMEOUT_MS = 30_000;

/**
 * The scanout as a PNG file's bytes, encoded on a worker thread of its own (ended when it
 * answers, when `stop` aborts, or after PNG_TIMEOUT_MS). Bounds: the scanout as scanoutRows
 * bounds it (one copy of it goes to the worker); encoding stops, and ScreenshotError says so,
 * once the PNG passes `maxBytes`.
 */
export function scanoutPng(
  img: ScanoutImage,
  maxBytes: number,
  stop?: AbortSignal,
): Promise<Buffer> {
  const pixels = scanoutRows(img);
  const job: PngJob = {
    width: img.rect.width,
    height: img.rect.height,
    format: img.format,
    pixels,
    maxBytes,
  };
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL("./png-worker.js", import.meta.url), {
      workerData: job,
      transferList: [pixels.buffer],
      resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MIB },
    });
    const end = (why: string) => {
      void w.terminate();
      reject(new ScreenshotError(why));
    };
    const timer = setTimeout(
      () => end(`the PNG encoder took over ${PNG_TIMEOUT_MS} ms`),
      PNG_TIMEOUT_MS,
    );
    const abort = () => end("the screenshot was no longer wanted");
    if (stop?.aborted) abort();
    else stop?.addEventListener("abort", abort, { once: true });
    w.once("exit", () => {
      clearTimeout(timer);
      stop?.removeEventListener("abort", abort);
    });
    w.once("message", (m: PngReply) => {
      void w.terminate();
      if ("png" in m) resolve(Buffer.from(m.png.buffer, m.png.byteOffset, m.png.byteLength));
      else if ("tooBig" in m)
        reject(
          new ScreenshotError(
            `the screenshot passed ${maxBytes} bytes as a PNG (${job.width}x${job.height}), ` +
              "more than a reply may hold",
          ),
        );
      else reject(new ScreenshotError(`the PNG encoder failed: ${m.error}`));
    });
    w.once("error", (e) => reject(new ScreenshotError(`the PNG encoder failed: ${e.message}`)));
    w.once("exit", (code) => reject(new ScreenshotError(`the PNG encoder ended (${code})`)));
  });
}
