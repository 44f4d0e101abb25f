// Numbers to and from their IEEE-754 bits, for the float tests.

const dv = new DataView(new ArrayBuffer(8));

/** The bits of `x` as a binary32 (rounded to it) or binary64. */
export function toBits(f: { width: 32 | 64 }, x: number): bigint {
  if (f.width === 32) {
    dv.setFloat32(0, x);
    return BigInt(dv.getUint32(0));
  }
  dv.setFloat64(0, x);
  return dv.getBigUint64(0);
}

/** The number whose binary32 or binary64 bits are `b`. */
export function fromBits(f: { width: 32 | 64 }, b: bigint): number {
  if (f.width === 32) {
    dv.setUint32(0, Number(b));
    return dv.getFloat32(0);
  }
  dv.setBigUint64(0, b);
  return dv.getFloat64(0);
}
