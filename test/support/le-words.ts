// Little-endian words for hand-made guest requests: numbers as u32s, bigints as u64s.

export function u32s(words: (number | bigint)[]): Uint8Array {
  const out = new DataView(
    new ArrayBuffer(words.reduce<number>((n, w) => n + (typeof w === "bigint" ? 8 : 4), 0)),
  );
  let at = 0;
  for (const w of words) {
    if (typeof w === "bigint") {
      out.setBigUint64(at, w, true);
      at += 8;
    } else {
      out.setUint32(at, w, true);
      at += 4;
    }
  }
  return new Uint8Array(out.buffer, 0, at);
}
