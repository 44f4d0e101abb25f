// Text for a person at a terminal: aligned columns, sizes in binary units.

/** Rows as columns padded to their widest cell, two spaces apart. */
export function table(rows: string[][]): string {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return (
    rows
      .map((r) =>
        r
          .map((c, i) => c.padEnd(w[i]!))
          .join("  ")
          .trimEnd(),
      )
      .join("\n") + "\n"
  );
}

/** Bytes as a person reads them: "512 bytes", "4 MiB", "1.5 GiB" (to a tenth at most). */
export function sizeText(bytes: number): string {
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let n = bytes;
  for (; n >= 1024 && i < units.length - 1; i++) n /= 1024;
  return `${Number(n.toFixed(1))} ${units[i]}`;
}
