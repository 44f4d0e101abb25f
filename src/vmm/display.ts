// What the guest's display shows, as a PNG: the scanout rectangle of the virtio-gpu resource,
// converted from the guest's pixel format to RGBA and encoded by pngjs (docs/dependencies.md).
import { PNG } from "pngjs";
import { GpuFormat, type ScanoutImage } from "../devices/virtio/gpu.js";

/** Bound: the largest screenshot, in pixels a side (a scanout may be up to 16384). */
export const MAX_SCREENSHOT_SIDE = 8192;

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

/** The scanout as RGBA rows (width * 4 bytes each). Bound: at most MAX_SCREENSHOT_SIDE a side. */
export function scanoutRgba(img: ScanoutImage): { width: number; height: number; rgba: Buffer } {
  const { rect } = img;
  if (rect.width > MAX_SCREENSHOT_SIDE || rect.height > MAX_SCREENSHOT_SIDE)
    throw new RangeError(`the scanout (${rect.width}x${rect.height}) is too big for a screenshot`);
  const layout = LAYOUT[img.format];
  if (!layout) throw new RangeError(`unknown pixel format ${img.format}`);
  const [r, g, b, a] = layout;
  const rgba = Buffer.alloc(rect.width * rect.height * 4);
  for (let y = 0; y < rect.height; y++) {
    let src = ((rect.y + y) * img.width + rect.x) * 4;
    let dst = y * rect.width * 4;
    for (let x = 0; x < rect.width; x++, src += 4, dst += 4) {
      rgba[dst] = img.pixels[src + r]!;
      rgba[dst + 1] = img.pixels[src + g]!;
      rgba[dst + 2] = img.pixels[src + b]!;
      rgba[dst + 3] = a < 0 ? 255 : img.pixels[src + a]!;
    }
  }
  return { width: rect.width, height: rect.height, rgba };
}

/** The scanout as a PNG file's bytes. */
export function scanoutPng(img: ScanoutImage): Buffer {
  const { width, height, rgba } = scanoutRgba(img);
  const png = new PNG({ width, height });
  rgba.copy(png.data);
  return PNG.sync.write(png);
}
