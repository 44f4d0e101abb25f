// Bit positions of the status and interrupt CSRs (privileged spec 1.12).

export const MSTATUS_SIE: u64 = 1 << 1;
export const MSTATUS_MIE: u64 = 1 << 3;
export const MSTATUS_SPIE: u64 = 1 << 5;
export const MSTATUS_MPIE: u64 = 1 << 7;
export const MSTATUS_SPP: u64 = 1 << 8;
export const MSTATUS_MPP_SHIFT: u64 = 11;
export const MSTATUS_MPP: u64 = 3 << 11;
export const MSTATUS_FS_SHIFT: u64 = 13;
export const MSTATUS_FS: u64 = 3 << 13;
export const MSTATUS_MPRV: u64 = 1 << 17;
export const MSTATUS_SUM: u64 = 1 << 18;
export const MSTATUS_MXR: u64 = 1 << 19;
export const MSTATUS_TVM: u64 = 1 << 20;
export const MSTATUS_TW: u64 = 1 << 21;
export const MSTATUS_TSR: u64 = 1 << 22;
export const MSTATUS_UXL: u64 = <u64>2 << 32;
export const MSTATUS_SXL: u64 = <u64>2 << 34;
export const MSTATUS_SD: u64 = <u64>1 << 63;

export const MSTATUS_WRITABLE: u64 =
  MSTATUS_SIE | MSTATUS_MIE | MSTATUS_SPIE | MSTATUS_MPIE | MSTATUS_SPP | MSTATUS_MPP |
  MSTATUS_FS | MSTATUS_MPRV | MSTATUS_SUM | MSTATUS_MXR | MSTATUS_TVM | MSTATUS_TW | MSTATUS_TSR;
export const SSTATUS_READABLE: u64 =
  MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_FS | MSTATUS_SUM | MSTATUS_MXR |
  MSTATUS_UXL | MSTATUS_SD;
export const SSTATUS_WRITABLE: u64 =
  MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_FS | MSTATUS_SUM | MSTATUS_MXR;

export const MIP_SSIP: u32 = 1 << 1;
export const MIP_MSIP: u32 = 1 << 3;
export const MIP_STIP: u32 = 1 << 5;
export const MIP_MTIP: u32 = 1 << 7;
export const MIP_SEIP: u32 = 1 << 9;
export const MIP_MEIP: u32 = 1 << 11;
export const MIE_WRITABLE: u64 = 0xaaa;
export const MIDELEG_WRITABLE: u64 = 0x222;
export const MIP_M_WRITABLE: u32 = 0x222;
// Exceptions M-mode may delegate: all but ecall-from-M (11) and the reserved 10 and 14.
export const MEDELEG_WRITABLE: u64 = 0xb3ff;

// Exception causes.
export const EXC_INST_MISALIGNED: u64 = 0;
export const EXC_INST_ACCESS: u64 = 1;
export const EXC_ILLEGAL: u64 = 2;
export const EXC_BREAKPOINT: u64 = 3;
export const EXC_LOAD_MISALIGNED: u64 = 4;
export const EXC_LOAD_ACCESS: u64 = 5;
export const EXC_STORE_MISALIGNED: u64 = 6;
export const EXC_STORE_ACCESS: u64 = 7;
export const EXC_ECALL_U: u64 = 8;
export const EXC_ECALL_S: u64 = 9;
export const EXC_ECALL_M: u64 = 11;
export const EXC_INST_PAGE: u64 = 12;
export const EXC_LOAD_PAGE: u64 = 13;
export const EXC_STORE_PAGE: u64 = 15;
export const INTERRUPT: u64 = <u64>1 << 63;
