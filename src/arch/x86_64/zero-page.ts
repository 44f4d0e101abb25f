// The Linux x86 boot protocol's boot_params ("zero page"), for a bzImage entered at its 64-bit
// entry: the kernel's own setup header with the loader's fields filled in, the e820 map, the
// command line and the initrd.
import type { GuestMemory } from "../../memory/guest-memory.js";
import { SETUP_HEADER_OFFSET } from "../../boot/bzimage.js";
import type { E820Entry } from "./e820.js";
import { CMDLINE_ADDR, ZERO_PAGE_ADDR } from "./memory-map.js";

const ZERO_PAGE_SIZE = 4096;
const E820_MAX_ENTRIES = 128;
// boot_params offsets
const EXT_RAMDISK_IMAGE = 0x0c0;
const EXT_RAMDISK_SIZE = 0x0c4;
const EXT_CMD_LINE_PTR = 0x0c8;
const E820_ENTRIES = 0x1e8;
const TYPE_OF_LOADER = 0x210;
const LOADFLAGS = 0x211;
const RAMDISK_IMAGE = 0x218;
const RAMDISK_SIZE = 0x21c;
const HEAP_END_PTR = 0x224;
const CMD_LINE_PTR = 0x228;
const E820_TABLE = 0x2d0;
const CAN_USE_HEAP = 0x80;
const LOADER_UNDEFINED = 0xff;

export interface ZeroPage {
  setupHeader: Uint8Array;
  e820: E820Entry[];
  initrd?: { addr: bigint; size: number };
}

/**
 * Writes boot_params at ZERO_PAGE_ADDR (the command line must already be at CMDLINE_ADDR).
 * Bounds: at most 128 e820 entries; the setup header inside the page.
 */
export function writeZeroPage(mem: GuestMemory, z: ZeroPage): bigint {
  if (z.e820.length > E820_MAX_ENTRIES) throw new RangeError("too many e820 entries");
  if (SETUP_HEADER_OFFSET + z.setupHeader.length > E820_TABLE) {
    throw new RangeError("setup header too long for the zero page");
  }
  const page = new Uint8Array(ZERO_PAGE_SIZE);
  const v = new DataView(page.buffer);
  page.set(z.setupHeader, SETUP_HEADER_OFFSET);
  v.setUint8(TYPE_OF_LOADER, LOADER_UNDEFINED);
  v.setUint8(LOADFLAGS, v.getUint8(LOADFLAGS) | CAN_USE_HEAP);
  v.setUint16(HEAP_END_PTR, 0xfe00, true);
  const cmd = Number(CMDLINE_ADDR);
  v.setUint32(CMD_LINE_PTR, cmd >>> 0, true);
  v.setUint32(EXT_CMD_LINE_PTR, Math.floor(cmd / 2 ** 32), true);
  if (z.initrd) {
    const a = Number(z.initrd.addr);
    v.setUint32(RAMDISK_IMAGE, a >>> 0, true);
    v.setUint32(EXT_RAMDISK_IMAGE, Math.floor(a / 2 ** 32), true);
    v.setUint32(RAMDISK_SIZE, z.initrd.size >>> 0, true);
    v.setUint32(EXT_RAMDISK_SIZE, Math.floor(z.initrd.size / 2 ** 32), true);
  }
  v.setUint8(E820_ENTRIES, z.e820.length);
  z.e820.forEach((e, i) => {
    const o = E820_TABLE + i * 20;
    v.setBigUint64(o, e.addr, true);
    v.setBigUint64(o + 8, e.size, true);
    v.setUint32(o + 16, e.type, true);
  });
  mem.write(ZERO_PAGE_ADDR, page);
  return ZERO_PAGE_ADDR;
}
