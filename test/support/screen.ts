// Reading a guest's screen in the display tests: text is light on black.
import { PNG } from "pngjs";

/** Pixels of rows y0..y1-1 whose red is above 128: text, the cursor, reverse video. */
export function litPixels(png: PNG, y0 = 0, y1 = png.height): number {
  let n = 0;
  for (let y = y0; y < y1; y++)
    for (let x = 0; x < png.width; x++) if (png.data[(y * png.width + x) * 4]! > 128) n++;
  return n;
}

/**
 * Takes screenshots with `shoot` (undefined: none to be had yet) until one satisfies `ok`;
 * resolves to it. Throws naming `what` and the last screenshot's lit pixels after `ms`.
 */
export async function untilScreen(
  shoot: () => Promise<PNG | undefined>,
  ok: (png: PNG) => boolean,
  what: string,
  ms = 120_000,
): Promise<PNG> {
  const end = Date.now() + ms;
  let last: PNG | undefined;
  for (;;) {
    const png = await shoot();
    if (png) {
      if (ok(png)) return png;
      last = png;
    }
    if (Date.now() > end) {
      const seen = last ? `${litPixels(last)} lit pixels` : "no screenshot";
      throw new Error(`timed out waiting for ${what} (last: ${seen})`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
