// The MSRs a boot loader or firmware leaves set when it hands over to a kernel (the rest Linux
// programs itself): fast string operations enabled, and MTRRs enabled with write-back as the
// default memory type (without firmware, the MTRRs would say "uncached" for all of RAM).
export const MSR_IA32_MISC_ENABLE = 0x1a0;
export const MSR_MTRR_DEF_TYPE = 0x2ff;
const MISC_ENABLE_FAST_STRING = 1n;
const MTRR_ENABLE = 1n << 11n;
const MTRR_TYPE_WRBACK = 6n;

export const BOOT_MSRS: { index: number; value: bigint }[] = [
  { index: MSR_IA32_MISC_ENABLE, value: MISC_ENABLE_FAST_STRING },
  { index: MSR_MTRR_DEF_TYPE, value: MTRR_ENABLE | MTRR_TYPE_WRBACK },
];
