// A screenshot's encoder, on a worker thread of its own (display.ts starts it with one job and
// ends it when it answers): the scanout's pixels to RGBA, then a PNG by pngjs, streamed through
// zlib. It answers as soon as the PNG passes the job's maxBytes, so a guest's incompressible
// scanout costs a bounded part of the work and of the output's memory.
import { parentPort, workerData } from "node:worker_threads";
import { PNG } from "pngjs";
import { toRgba, type PngJob, type PngReply } from "./display.js";

const job = workerData as PngJob;
const answer = (m: PngReply): void => parentPort!.postMessage(m);

toRgba(job.pixels, job.format);
const png = new PNG();
png.width = job.width;
png.height = job.height;
png.data = Buffer.from(job.pixels.buffer, job.pixels.byteOffset, job.pixels.byteLength);
const chunks: Buffer[] = [];
let total = 0;
let done = false;
png.on("data", (c: Buffer) => {
  if (done) return;
  total += c.length;
  if (total > job.maxBytes) {
    done = true;
    chunks.length = 0;
    answer({ tooBig: total });
    return;
  }
  chunks.push(c);
});
png.on("end", () => {
  if (!done) answer({ png: Buffer.concat(chunks) });
  done = true;
});
png.on("error", (e: unknown) => {
  if (!done) answer({ error: String(e) });
  done = true;
});
png.pack();
