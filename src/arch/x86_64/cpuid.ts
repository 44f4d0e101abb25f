// CPU templates: which of the host's CPUID features (as KVM_GET_SUPPORTED_CPUID reports them)
// a guest sees. Every template hides hardware virtualisation (no nested guests, a smaller
// attack surface); the "pvm" template also hides what KVM's emulator cannot run on a
// PVM-nested host (seen here, DESIGN.md: cmpxchg16b, the xsave family, pcid, ...).
import type { CpuidEntry } from "../../kvm/kvm.js";

export type CpuTemplateName = "default" | "pvm";

interface Mask {
  fn: number;
  reg: "eax" | "ebx" | "ecx" | "edx";
  bits: number[];
}

const bit = {
  leaf1Ecx: { VMX: 5, CX16: 13, PCID: 17, XSAVE: 26, OSXSAVE: 27, AVX: 28 },
  leaf7Ebx: { AVX2: 5, AVX512F: 16, AVX512DQ: 17, AVX512CD: 28, AVX512BW: 30, AVX512VL: 31 },
  ext1Ecx: { SVM: 2 },
};

const DEFAULT_MASKS: Mask[] = [
  { fn: 1, reg: "ecx", bits: [bit.leaf1Ecx.VMX] },
  { fn: 0x8000_0001, reg: "ecx", bits: [bit.ext1Ecx.SVM] },
];

const PVM_MASKS: Mask[] = [
  ...DEFAULT_MASKS,
  {
    fn: 1,
    reg: "ecx",
    bits: [
      bit.leaf1Ecx.CX16,
      bit.leaf1Ecx.PCID,
      bit.leaf1Ecx.XSAVE,
      bit.leaf1Ecx.OSXSAVE,
      bit.leaf1Ecx.AVX,
    ],
  },
  { fn: 7, reg: "ebx", bits: Object.values(bit.leaf7Ebx) },
];

/** Leaves a template removes entirely (0xd describes the xsave state components). */
const PVM_DROPPED_LEAVES = [0xd];

/** The guest's CPUID: `supported` with the template's features cleared. Does not modify input. */
export function applyCpuTemplate(supported: CpuidEntry[], name: CpuTemplateName): CpuidEntry[] {
  const masks = name === "pvm" ? PVM_MASKS : DEFAULT_MASKS;
  const dropped = name === "pvm" ? PVM_DROPPED_LEAVES : [];
  return supported
    .filter((e) => !dropped.includes(e.function))
    .map((e) => {
      const out = { ...e };
      for (const m of masks) {
        if (m.fn !== e.function) continue;
        for (const b of m.bits) out[m.reg] = (out[m.reg] & ~(1 << b)) >>> 0;
      }
      return out;
    });
}

export const CPUID_BITS = bit;
