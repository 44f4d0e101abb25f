// Which disk image format a file's first sector names. A qcow2, vmdk, vhd/vhdx, vdi or qed file
// attached as raw would show the guest its header and metadata as disk sectors, and the
// guest's first write would destroy the image. So before a file is first used as a raw disk
// its first sector is looked at, and a known format refused with what to do. The answer never
// makes moat read a file as qcow2 by itself: that takes `format=qcow2`, said by the user or
// recorded by the daemon at create (as `format=raw` is), so nothing a guest later writes into
// its own disk changes how it is read.

/** Bytes of a file the check reads: one sector. */
export const FORMAT_PROBE_BYTES = 512;

interface Signature {
  /** qemu-img's name of the format (its -f argument). */
  name: string;
  at: number;
  magic: Uint8Array;
}

const ascii = (s: string): Uint8Array => new Uint8Array([...s].map((c) => c.charCodeAt(0)));

/** Header magics (facts from each format's specification), at their offsets in sector 0. */
const SIGNATURES: Signature[] = [
  { name: "qcow2", at: 0, magic: new Uint8Array([0x51, 0x46, 0x49, 0xfb]) }, // "QFI\xfb" (qcow too)
  { name: "qed", at: 0, magic: ascii("QED\0") },
  { name: "vmdk", at: 0, magic: ascii("KDMV") }, // a sparse extent
  { name: "vmdk", at: 0, magic: ascii("# Disk DescriptorFile") }, // a descriptor
  { name: "vmdk", at: 0, magic: ascii("COWD") }, // ESX's older sparse format
  { name: "vhdx", at: 0, magic: ascii("vhdxfile") },
  { name: "vpc", at: 0, magic: ascii("conectix") }, // a dynamic or differencing VHD
  { name: "vdi", at: 0x40, magic: new Uint8Array([0x7f, 0x10, 0xda, 0xbe]) }, // u32 LE 0xbeda107f
];

/**
 * The format a file's first sector names, or undefined for anything else (taken as raw).
 * Bound: reads only the `head` given (at most FORMAT_PROBE_BYTES are looked at).
 */
export function knownImageFormat(head: Uint8Array): string | undefined {
  for (const s of SIGNATURES) {
    if (head.length < s.at + s.magic.length) continue;
    if (s.magic.every((b, i) => head[s.at + i] === b)) return s.name;
  }
  return undefined;
}

/**
 * What a refusal says: the format found, and what to do: say ,format=qcow2 for a qcow2 image
 * (moat reads one as qcow2 only when told, so a raw disk whose guest wrote a qcow2 header into
 * it is never taken for one), or the command that makes a qcow2 image of another format.
 */
export function formatRefusal(path: string, format: string, sayRaw = ",format=raw"): string {
  const raw = `, or, if it is a raw disk that only starts with those bytes, say so with ${sayRaw}`;
  if (format === "qcow2")
    return (
      "is a qcow2 image: say so with ,format=qcow2 (moat reads a disk as qcow2 only when told, " +
      `never from its first bytes alone; as raw, the guest would see its metadata)${raw}`
    );
  const out = path.replace(/(\.[A-Za-z0-9]+)?$/, ".qcow2");
  const label = format === "vpc" ? "vpc (VHD)" : format;
  return (
    `is a ${label} image, and moat reads raw and qcow2 images (as raw, the guest would see its ` +
    `metadata and overwrite it): convert it with qemu-img convert -f ${format} -O qcow2 ${path} ` +
    `${out}${raw}`
  );
}
