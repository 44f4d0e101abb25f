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
  leaf1Ecx: {
    VMX: 5,
    FMA: 12,
    CX16: 13,
    PCID: 17,
    MOVBE: 22,
    POPCNT: 23,
    XSAVE: 26,
    OSXSAVE: 27,
    AVX: 28,
    F16C: 29,
    RDRAND: 30,
  },
  leaf7Ebx: {
    FSGSBASE: 0,
    BMI1: 3,
    AVX2: 5,
    BMI2: 8,
    AVX512F: 16,
    AVX512DQ: 17,
    RDSEED: 18,
    SMAP: 20,
    AVX512CD: 28,
    AVX512BW: 30,
    AVX512VL: 31,
  },
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
    // What the kernel would otherwise run through KVM's instruction emulator, which lacks
    // them: popcnt (measured: the boot stops in bitmap_weight), movbe, rdrand/rdseed,
    // rd/wrfsbase, stac/clac, the BMI and AVX families.
    bits: [
      bit.leaf1Ecx.FMA,
      bit.leaf1Ecx.CX16,
      bit.leaf1Ecx.PCID,
      bit.leaf1Ecx.MOVBE,
      bit.leaf1Ecx.POPCNT,
      bit.leaf1Ecx.XSAVE,
      bit.leaf1Ecx.OSXSAVE,
      bit.leaf1Ecx.AVX,
      bit.leaf1Ecx.F16C,
      bit.leaf1Ecx.RDRAND,
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

/** Linux's cpufeature word for each CPUID register a template masks (arch/x86 cpufeatures.h). */
const LINUX_WORD: Record<string, number> = { "1:ecx": 4, "7:ebx": 9, "2147483649:ecx": 6 };

/**
 * The template's hidden features as Linux feature numbers (word * 32 + bit), for
 * `clearcpuid=`: on a PVM-nested host the guest kernel sees the host's CPUID whatever
 * KVM_SET_CPUID2 says (measured: xsave, popcnt), so the kernel is told as well.
 */
export function linuxFeatureNumbers(name: CpuTemplateName): number[] {
  if (name !== "pvm") return [];
  const out: number[] = [];
  for (const m of PVM_MASKS) {
    const word = LINUX_WORD[`${m.fn}:${m.reg}`];
    if (word === undefined) continue;
    for (const b of m.bits) out.push(word * 32 + b);
  }
  return [...new Set(out)].sort((a, b) => a - b);
}

/**
 * `entries` for vCPU `apicId`: KVM leaves the APIC id fields to userspace (leaf 1 EBX[31:24],
 * the x2APIC id in EDX of leaves 0xb and 0x1f); a kernel that sees the same id on every CPU
 * cannot bring up the secondaries.
 */
export function cpuidForVcpu(entries: CpuidEntry[], apicId: number): CpuidEntry[] {
  return entries.map((e) => {
    if (e.function === 1) return { ...e, ebx: ((e.ebx & 0x00ff_ffff) | (apicId << 24)) >>> 0 };
    if (e.function === 0xb || e.function === 0x1f) return { ...e, edx: apicId >>> 0 };
    return e;
  });
}
