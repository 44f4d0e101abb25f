// The table of bare-metal ISA test programs (test/isa/*.S) run by
// test/isa.test.ts under QEMU (the oracle) and under moat.  See
// docs/testing-isa.md for how to add one.

export interface IsaProgram {
  /** File stem in test/isa/ (the source is test/isa/<name>.S). */
  name: string;
  /** What it covers, one line. */
  covers: string;
  /** Harts to start (default 1); the extra harts park in WFI. */
  harts?: number;
  /** Per-run timeout (default 10 s; moat runs get 6x that). */
  timeoutMs?: number;
  /**
   * The program checks implementation-defined behaviour of moat (allowed but
   * not required by the spec), so it runs under moat only.  Everything else
   * must pass under QEMU too.
   */
  moatOnly?: boolean;
}

export const ISA_PROGRAMS: readonly IsaProgram[] = [
  {
    name: "smp_atomics",
    covers: "two harts at once: amoadd.d/.w, LR/SC loops and an amoswap spinlock lose no update",
    harts: 2,
  },
  {
    name: "rv64i_alu",
    covers: "RV64I register/immediate ALU ops, shifts, *W forms, LUI, AUIPC, x0",
  },
  {
    name: "rv64i_mem",
    covers: "RV64I loads/stores of every width, sign/zero extension, offsets, FENCE",
  },
  {
    name: "rv64i_ctrl",
    covers: "RV64I branches (both directions), JAL/JALR link values and bit-0 clearing",
  },
  { name: "rv64m", covers: "RV64M multiply/divide incl. W forms, divide by zero, overflow" },
  {
    name: "rv64a",
    covers:
      "RV64A LR/SC success/failure, every AMO in .W/.D, sign extension, signed/unsigned min/max",
  },
  {
    name: "rv64f",
    covers:
      "F arithmetic/FMA/sign-injection/min-max/compare/classify, all rounding modes, flags, NaN boxing",
  },
  {
    name: "rv64d",
    covers:
      "D arithmetic/FMA/sign-injection/min-max/compare/classify, all rounding modes, flags, moves",
  },
  {
    name: "fp_cvt",
    covers:
      "every FCVT with each rounding mode, dynamic rm from frm, fflags accrual, fcsr, illegal rm",
  },
  {
    name: "rvc",
    covers: "every RV64C instruction against its expansion, HINTs, c.ebreak, 16-bit mtval",
  },
  {
    name: "zicsr",
    covers: "Zicsr forms, read-only/non-existent CSRs trap, counters tick, time = mtime, FENCE.I",
  },
  {
    name: "priv_trap",
    covers:
      "ECALL/EBREAK from M/S/U, medeleg, MRET/SRET state, illegal instructions + mtval, TSR/TVM",
  },
  {
    name: "priv_irq",
    covers:
      "CLINT timer/software interrupts, SSIP, mideleg, sie/sip views, WFI wake-up, vectored mtvec",
  },
  { name: "fs_state", covers: "mstatus.FS: Off makes FP illegal, Initial/Clean become Dirty, SD" },
  { name: "counteren", covers: "mcounteren/scounteren gating of cycle/time/instret from S and U" },
  // The VM and misaligned-AMO programs run with 2 harts: QEMU 7.2 with one
  // hart executes AMOs as a plain load + store and then reports load faults
  // (cause 4/13) where the spec wants store/AMO faults (6/15).
  {
    name: "vm_sv39",
    covers:
      "Sv39 translation, superpages, every page-fault cause/tval, SUM/MXR, A/D, sfence.vma, satp",
    harts: 2,
  },
  {
    name: "vm_sv48",
    covers: "Sv48 translation incl. terapages and 48-bit canonical addresses, Sv39/Sv48 switch",
    harts: 2,
  },
  {
    name: "misaligned",
    covers: "misaligned LR/AMO raise address-misaligned exceptions (4 / 6) with mtval",
    harts: 2,
  },
  {
    name: "misaligned_moat",
    covers: "misaligned loads/stores done in hardware (moat's choice; not spec-mandated)",
    moatOnly: true,
  },
];
