// common.h - shared runtime and macros for moat's bare-metal ISA tests.
//
// Included (via the C preprocessor) at the very top of every test program:
//
//     #include "common.h"
//         ... test body, starting in M-mode at label test_main ...
//         PASS
//
// The machine is QEMU `virt` compatible (see docs/machine.md and
// docs/testing-isa.md): UART 16550 at 0x1000_0000, finisher at 0x10_0000,
// CLINT at 0x200_0000, RAM at 0x8000_0000.
//
// Register conventions for test bodies:
//   gp  (x3)  current test number (set by TEST_CASE, printed on failure)
//   s10 (x26) scratch for the macros; may be passed as `reg` to CHECK
//   s11 (x27) scratch for the macros; never pass it to a macro
//   everything else is free.  The default trap handlers preserve every
//   register except that they clobber mscratch / sscratch.
//
// Comments use `//`: the file goes through cpp, so `#` starts a directive.

#ifndef MOAT_ISA_COMMON_H
#define MOAT_ISA_COMMON_H

// ---------------------------------------------------------------- devices
#define UART_BASE       0x10000000
#define UART_LSR        5
#define FINISHER_BASE   0x100000
#define FINISHER_PASS   0x5555
#define FINISHER_FAIL   0x3333
#define CLINT_BASE      0x2000000
#define CLINT_MSIP      0x2000000
#define CLINT_MTIMECMP  0x2004000
#define CLINT_MTIME     0x200bff8

// ---------------------------------------------------------------- CSR bits
#define MSTATUS_SIE     (1 << 1)
#define MSTATUS_MIE     (1 << 3)
#define MSTATUS_SPIE    (1 << 5)
#define MSTATUS_MPIE    (1 << 7)
#define MSTATUS_SPP     (1 << 8)
#define MSTATUS_MPP     (3 << 11)
#define MSTATUS_MPP_S   (1 << 11)
#define MSTATUS_MPP_M   (3 << 11)
#define MSTATUS_FS      (3 << 13)
#define MSTATUS_FS_INITIAL (1 << 13)
#define MSTATUS_FS_CLEAN   (2 << 13)
#define MSTATUS_FS_DIRTY   (3 << 13)
#define MSTATUS_MPRV    (1 << 17)
#define MSTATUS_SUM     (1 << 18)
#define MSTATUS_MXR     (1 << 19)
#define MSTATUS_TVM     (1 << 20)
#define MSTATUS_TW      (1 << 21)
#define MSTATUS_TSR     (1 << 22)
#define MSTATUS_SD      (1 << 63)

#define PRV_U 0
#define PRV_S 1
#define PRV_M 3

#define IRQ_SSI 1
#define IRQ_MSI 3
#define IRQ_STI 5
#define IRQ_MTI 7
#define IRQ_SEI 9
#define IRQ_MEI 11
#define MIP_SSIP (1 << IRQ_SSI)
#define MIP_MSIP (1 << IRQ_MSI)
#define MIP_STIP (1 << IRQ_STI)
#define MIP_MTIP (1 << IRQ_MTI)
#define INTERRUPT_BIT (1 << 63)

#define CAUSE_MISALIGNED_FETCH  0
#define CAUSE_FETCH_ACCESS      1
#define CAUSE_ILLEGAL           2
#define CAUSE_BREAKPOINT        3
#define CAUSE_MISALIGNED_LOAD   4
#define CAUSE_LOAD_ACCESS       5
#define CAUSE_MISALIGNED_STORE  6
#define CAUSE_STORE_ACCESS      7
#define CAUSE_ECALL_U           8
#define CAUSE_ECALL_S           9
#define CAUSE_ECALL_M           11
#define CAUSE_FETCH_PAGE        12
#define CAUSE_LOAD_PAGE         13
#define CAUSE_STORE_PAGE        15

#define SATP_MODE_BARE  0
#define SATP_MODE_SV39  8
#define SATP_MODE_SV48  9

#define PTE_V (1 << 0)
#define PTE_R (1 << 1)
#define PTE_W (1 << 2)
#define PTE_X (1 << 3)
#define PTE_U (1 << 4)
#define PTE_G (1 << 5)
#define PTE_A (1 << 6)
#define PTE_D (1 << 7)

// fflags bits
#define FF_NX 1
#define FF_UF 2
#define FF_OF 4
#define FF_DZ 8
#define FF_NV 16

// -------------------------------------------------- trap_info record layout
// One record for M-mode traps (trap_info) and one for S-mode traps
// (strap_info).  ARM_TRAP / S_ARM_TRAP fill cause/epc/tval with -1 so that a
// missing trap is visible.
#define TI_T1     0
#define TI_T2     8
#define TI_CAUSE  16
#define TI_EPC    24
#define TI_TVAL   32
#define TI_RESUME 40
#define TI_COUNT  48
#define TI_STATUS 56
#define TI_SIZE   64

// ================================================================ runtime
        .option nopic           // `la` is pc-relative, never via a GOT
        .option norelax         // no linker relaxation: code layout (alignment,
                                // instruction sizes) is exactly as written
        .option norvc           // 32-bit encodings unless a test opts in

        .section .text.init, "ax", @progbits
        .globl _start
_start:
        csrr    t0, mhartid
        bnez    t0, __park

        // Open PMP entry 0 to everything (NAPOT, RWX) so S/U may access
        // memory.  If PMP is not implemented the CSR accesses may trap:
        // the temporary trap vector just continues at 1f.
        la      t0, 1f
        csrw    mtvec, t0
        li      t0, (1 << 53) - 1
        csrw    pmpaddr0, t0
        li      t0, 0x1f
        csrw    pmpcfg0, t0
        .balign 4
1:      la      t0, __trap_vector
        csrw    mtvec, t0

        // Zero .bss (RAM is zeroed by QEMU and moat, but do not rely on it).
        la      t0, __bss_start
        la      t1, __bss_end
2:      bgeu    t0, t1, 3f
        sd      zero, 0(t0)
        addi    t0, t0, 8
        j       2b
3:
        la      sp, __stack_top
        // Quiet, known machine state.
        csrw    mie, zero
        csrw    mip, zero
        csrw    medeleg, zero
        csrw    mideleg, zero
        csrw    satp, zero
        li      t0, -1
        li      t1, CLINT_MTIMECMP
        sd      t0, 0(t1)
        li      t1, CLINT_MSIP
        sw      zero, 0(t1)
        li      t0, MSTATUS_FS | MSTATUS_MPP | MSTATUS_MIE | MSTATUS_SIE | MSTATUS_MPRV
        csrc    mstatus, t0
        li      t0, MSTATUS_FS_INITIAL
        csrs    mstatus, t0
        csrwi   fcsr, 0
        la      t0, __strap_vector
        csrw    stvec, t0
        li      gp, 0
        j       test_main

__park:
        csrw    mie, zero
1:      wfi
        j       1b

// ------------------------------------------------------- M-mode trap vector
// Records cause/epc/tval/mstatus in trap_info.  If a resume address was
// armed (ARM_TRAP) it returns there in M-mode; otherwise reports an
// unexpected trap and fails with exit code 250.
        .balign 64
        .globl __trap_vector
__trap_vector:
        csrw    mscratch, t0
        la      t0, trap_info
        sd      t1, TI_T1(t0)
        sd      t2, TI_T2(t0)
        csrr    t1, mcause
        sd      t1, TI_CAUSE(t0)
        csrr    t1, mepc
        sd      t1, TI_EPC(t0)
        csrr    t1, mtval
        sd      t1, TI_TVAL(t0)
        csrr    t1, mstatus
        sd      t1, TI_STATUS(t0)
        ld      t1, TI_COUNT(t0)
        addi    t1, t1, 1
        sd      t1, TI_COUNT(t0)
        ld      t2, TI_RESUME(t0)
        beqz    t2, __unexpected_m
        sd      zero, TI_RESUME(t0)
        csrw    mepc, t2
        li      t1, MSTATUS_MPP
        csrs    mstatus, t1
        ld      t1, TI_T1(t0)
        ld      t2, TI_T2(t0)
        csrr    t0, mscratch
        mret

__unexpected_m:
        la      a1, __str_unexp_m
        jal     t2, __puts
        la      t0, trap_info
        ld      a1, TI_CAUSE(t0)
        jal     t2, __puthex
        la      a1, __str_epc
        jal     t2, __puts
        la      t0, trap_info
        ld      a1, TI_EPC(t0)
        jal     t2, __puthex
        la      a1, __str_tval
        jal     t2, __puts
        la      t0, trap_info
        ld      a1, TI_TVAL(t0)
        jal     t2, __puthex
        la      a1, __str_testno
        jal     t2, __puts
        mv      a1, gp
        jal     t2, __putdec
        li      a0, '\n'
        jal     t3, __putc
        li      a0, 250
        j       __exit

// ------------------------------------------------------- S-mode trap vector
// Same protocol for traps delegated to S-mode (strap_info, S_ARM_TRAP): an
// armed trap returns to the resume address in S-mode.  An unexpected one
// switches translation off (all test code is identity mapped) and fails
// with exit code 251.
        .balign 64
        .globl __strap_vector
__strap_vector:
        csrw    sscratch, t0
        la      t0, strap_info
        sd      t1, TI_T1(t0)
        sd      t2, TI_T2(t0)
        csrr    t1, scause
        sd      t1, TI_CAUSE(t0)
        csrr    t1, sepc
        sd      t1, TI_EPC(t0)
        csrr    t1, stval
        sd      t1, TI_TVAL(t0)
        csrr    t1, sstatus
        sd      t1, TI_STATUS(t0)
        ld      t1, TI_COUNT(t0)
        addi    t1, t1, 1
        sd      t1, TI_COUNT(t0)
        ld      t2, TI_RESUME(t0)
        beqz    t2, __unexpected_s
        sd      zero, TI_RESUME(t0)
        csrw    sepc, t2
        li      t1, MSTATUS_SPP
        csrs    sstatus, t1
        ld      t1, TI_T1(t0)
        ld      t2, TI_T2(t0)
        csrr    t0, sscratch
        sret

__unexpected_s:
        csrw    satp, zero
        sfence.vma
        la      a1, __str_unexp_s
        jal     t2, __puts
        la      t0, strap_info
        ld      a1, TI_CAUSE(t0)
        jal     t2, __puthex
        la      a1, __str_epc
        jal     t2, __puts
        la      t0, strap_info
        ld      a1, TI_EPC(t0)
        jal     t2, __puthex
        la      a1, __str_tval
        jal     t2, __puts
        la      t0, strap_info
        ld      a1, TI_TVAL(t0)
        jal     t2, __puthex
        la      a1, __str_testno
        jal     t2, __puts
        mv      a1, gp
        jal     t2, __putdec
        li      a0, '\n'
        jal     t3, __putc
        li      a0, 251
        j       __exit

// ------------------------------------------------------------ UART output
// __putc:   a0 = byte.          link t3; clobbers t4-t6.
// __puts:   a1 = NUL-terminated string.        link t2; clobbers a0, a1, t3-t6.
// __puthex: a1 = value, 16 hex digits.          link t2; clobbers a0, t0, t1, t3-t6.
// __putdec: a1 = unsigned value in decimal.     link t2; clobbers a0, a1, t0, t1, t3-t6.
        .globl __putc, __puts, __puthex, __putdec
__putc:
        li      t6, UART_BASE
        li      t5, 50000000            // wait for THR empty (bounded: ~1 s)
1:      lbu     t4, UART_LSR(t6)
        andi    t4, t4, 0x20
        bnez    t4, 2f
        addi    t5, t5, -1
        bnez    t5, 1b
2:      sb      a0, 0(t6)
        jr      t3

__puts:
1:      lbu     a0, 0(a1)
        beqz    a0, 2f
        jal     t3, __putc
        addi    a1, a1, 1
        j       1b
2:      jr      t2

__puthex:
        li      t0, 60
1:      srl     a0, a1, t0
        andi    a0, a0, 15
        li      t1, 10
        blt     a0, t1, 2f
        addi    a0, a0, 'a' - '0' - 10
2:      addi    a0, a0, '0'
        jal     t3, __putc
        addi    t0, t0, -4
        bgez    t0, 1b
        jr      t2

__putdec:
        la      t0, __decbuf + 24
        sb      zero, 0(t0)
        li      t1, 10
1:      addi    t0, t0, -1
        remu    a0, a1, t1
        addi    a0, a0, '0'
        sb      a0, 0(t0)
        divu    a1, a1, t1
        bnez    a1, 1b
        mv      a1, t0
        j       __puts                  // tail call, returns via t2

// ------------------------------------------------------------- pass / fail
        .globl __pass, __fail_assert, __exit
__pass:
        la      a1, __str_pass
        jal     t2, __puts
        li      t0, FINISHER_BASE
        li      t1, FINISHER_PASS
        sw      t1, 0(t0)
1:      j       1b

// gp = test number, s10 = value got, s11 = value expected, ra = pc of check
__fail_assert:
        mv      s9, ra
        la      a1, __str_fail
        jal     t2, __puts
        mv      a1, gp
        jal     t2, __putdec
        la      a1, __str_at
        jal     t2, __puts
        mv      a1, s9
        jal     t2, __puthex
        la      a1, __str_got
        jal     t2, __puts
        mv      a1, s10
        jal     t2, __puthex
        la      a1, __str_exp
        jal     t2, __puts
        mv      a1, s11
        jal     t2, __puthex
        li      a0, '\n'
        jal     t3, __putc
        // exit code = test number, clamped to 1..240
        mv      a0, gp
        li      t0, 240
        bleu    a0, t0, 1f
        mv      a0, t0
1:      bnez    a0, __exit
        li      a0, 1
// a0 = exit code (non-zero)
__exit:
        slli    a0, a0, 16
        li      t0, FINISHER_FAIL
        or      a0, a0, t0
        li      t0, FINISHER_BASE
        sw      a0, 0(t0)
1:      j       1b

        .section .rodata
__str_pass:     .asciz "PASS\n"
__str_fail:     .asciz "\nFAIL test "
__str_at:       .asciz " at pc 0x"
__str_got:      .asciz ": got 0x"
__str_exp:      .asciz " expected 0x"
__str_unexp_m:  .asciz "\nUNEXPECTED TRAP (M) mcause=0x"
__str_unexp_s:  .asciz "\nUNEXPECTED TRAP (S) scause=0x"
__str_epc:      .asciz " epc=0x"
__str_tval:     .asciz " tval=0x"
__str_testno:   .asciz " test "

        .section .bss
        .balign 64
        .globl trap_info, strap_info
trap_info:      .skip TI_SIZE
strap_info:     .skip TI_SIZE
__decbuf:       .skip 32
        .balign 16
__stack:        .skip 4096
__stack_top:

// ================================================================= macros

        .set __tn, 0

// Start a new test case: gp = next test number.
        .macro TEST_CASE
        .set __tn, __tn + 1
        li      gp, __tn
        .endm

        .macro PASS
        tail    __pass
        .endm

// Fail unless register \reg equals register \expreg.
        .macro CHECKR reg, expreg
        beq     \reg, \expreg, 8801f
        mv      s11, \expreg
        mv      s10, \reg
        auipc   ra, 0
        tail    __fail_assert           // (any distance; clobbers t1)
8801:
        .endm

// Fail unless register \reg equals the constant \exp (64-bit).
        .macro CHECK reg, exp
        li      s11, \exp
        CHECKR  \reg, s11
        .endm

// Fail unless FP register \freg holds the bit pattern \exp (all 64 bits).
        .macro CHECKF freg, exp
        fmv.x.d s10, \freg
        CHECK   s10, \exp
        .endm

// Fail unless FP register \freg holds the properly NaN-boxed single \exp.
        .macro CHECKFS freg, exp
        fmv.x.d s10, \freg
        CHECK   s10, (0xffffffff00000000 | ((\exp) & 0xffffffff))
        .endm

// Fail unless the masked CSR bits equal \exp.
        .macro CHECK_CSR_BITS csr, mask, exp
        csrr    s10, \csr
        li      s11, \mask
        and     s10, s10, s11
        CHECK   s10, \exp
        .endm

// Fail unconditionally (reached code that must be unreachable).
        .macro FAIL_HERE
        li      s10, 0xbad
        li      s11, 0
        auipc   ra, 0
        tail    __fail_assert           // (any distance; clobbers t1)
        .endm

// ------------------------------------------------------------ trap helpers
// Arm the M-mode handler: the next trap resumes at \label in M-mode.
        .macro ARM_TRAP label
        la      s11, trap_info
        la      s10, \label
        sd      s10, TI_RESUME(s11)
        li      s10, -1
        sd      s10, TI_CAUSE(s11)
        sd      s10, TI_EPC(s11)
        sd      s10, TI_TVAL(s11)
        .endm

        .macro DISARM_TRAP
        la      s11, trap_info
        sd      zero, TI_RESUME(s11)
        .endm

// Arm the S-mode handler: the next trap taken in S resumes at \label in S.
        .macro S_ARM_TRAP label
        la      s11, strap_info
        la      s10, \label
        sd      s10, TI_RESUME(s11)
        li      s10, -1
        sd      s10, TI_CAUSE(s11)
        sd      s10, TI_EPC(s11)
        sd      s10, TI_TVAL(s11)
        .endm

        .macro S_DISARM_TRAP
        la      s11, strap_info
        sd      zero, TI_RESUME(s11)
        .endm

// Check a field of the last M-mode (CHECK_MTRAP_*) / S-mode trap record.
        .macro CHECK_TI rec, field, exp
        la      s10, \rec
        ld      s10, \field(s10)
        CHECK   s10, \exp
        .endm
        .macro CHECK_MCAUSE exp
        CHECK_TI trap_info, TI_CAUSE, \exp
        .endm
        .macro CHECK_MTVAL exp
        CHECK_TI trap_info, TI_TVAL, \exp
        .endm
        .macro CHECK_MEPC label
        la      s10, trap_info
        ld      s10, TI_EPC(s10)
        la      s11, \label
        CHECKR  s10, s11
        .endm
        .macro CHECK_SCAUSE exp
        CHECK_TI strap_info, TI_CAUSE, \exp
        .endm
        .macro CHECK_STVAL exp
        CHECK_TI strap_info, TI_TVAL, \exp
        .endm
        .macro CHECK_SEPC label
        la      s10, strap_info
        ld      s10, TI_EPC(s10)
        la      s11, \label
        CHECKR  s10, s11
        .endm

// Run \insn (from M-mode) expecting a synchronous trap with mcause \cause;
// execution continues after \insn.
        .macro TEST_TRAP cause, insn:vararg
        TEST_CASE
        ARM_TRAP 8802f
        \insn
8802:
        DISARM_TRAP
        CHECK_MCAUSE \cause
        .endm

// Same, and also check mtval.
        .macro TEST_TRAP_TVAL cause, tval, insn:vararg
        TEST_CASE
        ARM_TRAP 8803f
        \insn
8803:
        DISARM_TRAP
        CHECK_MCAUSE \cause
        CHECK_MTVAL \tval
        .endm

// Run the 32-bit instruction \insn (from M-mode) expecting an illegal
// instruction trap whose mtval is the instruction's own encoding (read back
// from memory, so no hand-encoded constants are needed).
        .macro TEST_ILLEGAL insn:vararg
        TEST_CASE
        ARM_TRAP 8806f
8805:   \insn
8806:
        DISARM_TRAP
        CHECK_MCAUSE CAUSE_ILLEGAL
        la      s10, 8805b
        lwu     s10, 0(s10)
        la      s11, trap_info
        ld      s11, TI_TVAL(s11)
        CHECKR  s11, s10
        .endm

// Same as TEST_TRAP but for code running in S-mode with the trap delegated.
        .macro S_TEST_TRAP cause, insn:vararg
        TEST_CASE
        S_ARM_TRAP 8804f
        \insn
8804:
        S_DISARM_TRAP
        CHECK_SCAUSE \cause
        .endm

// Leave M-mode: mret to privilege \mode (PRV_U/PRV_S/PRV_M) at \label.
// mstatus.MPIE is left as it is.
        .macro MRET_TO mode, label
        li      s10, MSTATUS_MPP
        csrc    mstatus, s10
        li      s10, (\mode) << 11
        csrs    mstatus, s10
        la      s10, \label
        csrw    mepc, s10
        mret
        .endm

// Leave S-mode: sret to U (\mode = PRV_U) or S (PRV_S) at \label.
        .macro SRET_TO mode, label
        li      s10, MSTATUS_SPP
        csrc    sstatus, s10
        .if \mode == PRV_S
        csrs    sstatus, s10
        .endif
        la      s10, \label
        csrw    sepc, s10
        sret
        .endm

// ------------------------------------------------------ integer op helpers
// rd <- op(rs1, rs2) with a0 = op(a1, a2); also checks the rd=rs1 and
// rd=rs2 aliasing forms.
        .macro TEST_RR op, exp, v1, v2
        TEST_CASE
        li      a1, \v1
        li      a2, \v2
        \op     a0, a1, a2
        CHECK   a0, \exp
        mv      a3, a1
        \op     a3, a3, a2
        CHECK   a3, \exp
        mv      a4, a2
        \op     a4, a1, a4
        CHECK   a4, \exp
        .endm

// a0 = op(a1, imm); also rd = rs1.
        .macro TEST_RI op, exp, v1, imm
        TEST_CASE
        li      a1, \v1
        \op     a0, a1, \imm
        CHECK   a0, \exp
        \op     a1, a1, \imm
        CHECK   a1, \exp
        .endm

// a0 = op(a1, a1)
        .macro TEST_RR_SAME op, exp, v1
        TEST_CASE
        li      a1, \v1
        \op     a0, a1, a1
        CHECK   a0, \exp
        .endm

// ------------------------------------------------------------ FP helpers
// All FP helpers load operands from 64-bit patterns with fmv.d.x (singles
// are NaN-boxed by the macro), clear fflags, run the instruction with the
// static rounding mode \rm (blank = no rm operand), then check the result
// bits and the exact fflags value.

        .macro __LDF_D freg, bits
        li      s10, \bits
        fmv.d.x \freg, s10
        .endm
        .macro __LDF_S freg, bits
        li      s10, (0xffffffff00000000 | ((\bits) & 0xffffffff))
        fmv.d.x \freg, s10
        .endm

        .macro __RM_OP3 op, rm, d, a, b
        .ifb \rm
        \op     \d, \a, \b
        .else
        \op     \d, \a, \b, \rm
        .endif
        .endm
        .macro __RM_OP2 op, rm, d, a
        .ifb \rm
        \op     \d, \a
        .else
        \op     \d, \a, \rm
        .endif
        .endm
        .macro __RM_OP4 op, rm, d, a, b, c
        .ifb \rm
        \op     \d, \a, \b, \c
        .else
        \op     \d, \a, \b, \c, \rm
        .endif
        .endm

        .macro __CHECK_FFLAGS flags
        frflags s10
        CHECK   s10, \flags
        .endm

// double: fa2 = op(fa0, fa1)
        .macro FD_RR op, rm, exp, flags, a, b
        TEST_CASE
        __LDF_D fa0, \a
        __LDF_D fa1, \b
        fsflags zero
        __RM_OP3 \op, \rm, fa2, fa0, fa1
        __CHECK_FFLAGS \flags
        CHECKF  fa2, \exp
        .endm
// single: fa2 = op(fa0, fa1); result must be NaN-boxed
        .macro FS_RR op, rm, exp, flags, a, b
        TEST_CASE
        __LDF_S fa0, \a
        __LDF_S fa1, \b
        fsflags zero
        __RM_OP3 \op, \rm, fa2, fa0, fa1
        __CHECK_FFLAGS \flags
        CHECKFS fa2, \exp
        .endm
// double: fa3 = op(fa0, fa1, fa2)
        .macro FD_RRR op, rm, exp, flags, a, b, c
        TEST_CASE
        __LDF_D fa0, \a
        __LDF_D fa1, \b
        __LDF_D fa2, \c
        fsflags zero
        __RM_OP4 \op, \rm, fa3, fa0, fa1, fa2
        __CHECK_FFLAGS \flags
        CHECKF  fa3, \exp
        .endm
        .macro FS_RRR op, rm, exp, flags, a, b, c
        TEST_CASE
        __LDF_S fa0, \a
        __LDF_S fa1, \b
        __LDF_S fa2, \c
        fsflags zero
        __RM_OP4 \op, \rm, fa3, fa0, fa1, fa2
        __CHECK_FFLAGS \flags
        CHECKFS fa3, \exp
        .endm
// double source, FP result: fa2 = op(fa0)   (fsqrt.d, fcvt.s.d via FD_R_S)
        .macro FD_R op, rm, exp, flags, a
        TEST_CASE
        __LDF_D fa0, \a
        fsflags zero
        __RM_OP2 \op, \rm, fa2, fa0
        __CHECK_FFLAGS \flags
        CHECKF  fa2, \exp
        .endm
        .macro FS_R op, rm, exp, flags, a
        TEST_CASE
        __LDF_S fa0, \a
        fsflags zero
        __RM_OP2 \op, \rm, fa2, fa0
        __CHECK_FFLAGS \flags
        CHECKFS fa2, \exp
        .endm
// fcvt.s.d: double in, boxed single out
        .macro FD_R_S op, rm, exp, flags, a
        TEST_CASE
        __LDF_D fa0, \a
        fsflags zero
        __RM_OP2 \op, \rm, fa2, fa0
        __CHECK_FFLAGS \flags
        CHECKFS fa2, \exp
        .endm
// fcvt.d.s: single in, double out
        .macro FS_R_D op, rm, exp, flags, a
        TEST_CASE
        __LDF_S fa0, \a
        fsflags zero
        __RM_OP2 \op, \rm, fa2, fa0
        __CHECK_FFLAGS \flags
        CHECKF  fa2, \exp
        .endm
// FP source(s), integer result: a0 = op(fa0 [, rm])
        .macro FD_X op, rm, exp, flags, a
        TEST_CASE
        __LDF_D fa0, \a
        fsflags zero
        __RM_OP2 \op, \rm, a0, fa0
        __CHECK_FFLAGS \flags
        CHECK   a0, \exp
        .endm
        .macro FS_X op, rm, exp, flags, a
        TEST_CASE
        __LDF_S fa0, \a
        fsflags zero
        __RM_OP2 \op, \rm, a0, fa0
        __CHECK_FFLAGS \flags
        CHECK   a0, \exp
        .endm
// compares: a0 = op(fa0, fa1)
        .macro FD_CMP op, exp, flags, a, b
        TEST_CASE
        __LDF_D fa0, \a
        __LDF_D fa1, \b
        fsflags zero
        \op     a0, fa0, fa1
        __CHECK_FFLAGS \flags
        CHECK   a0, \exp
        .endm
        .macro FS_CMP op, exp, flags, a, b
        TEST_CASE
        __LDF_S fa0, \a
        __LDF_S fa1, \b
        fsflags zero
        \op     a0, fa0, fa1
        __CHECK_FFLAGS \flags
        CHECK   a0, \exp
        .endm
// integer source, FP result: fa2 = op(a1 [, rm])
        .macro FD_FX op, rm, exp, flags, ival
        TEST_CASE
        li      a1, \ival
        fsflags zero
        __RM_OP2 \op, \rm, fa2, a1
        __CHECK_FFLAGS \flags
        CHECKF  fa2, \exp
        .endm
        .macro FS_FX op, rm, exp, flags, ival
        TEST_CASE
        li      a1, \ival
        fsflags zero
        __RM_OP2 \op, \rm, fa2, a1
        __CHECK_FFLAGS \flags
        CHECKFS fa2, \exp
        .endm

// ----------------------------------------------------------- program body
        .text
        .balign 4
        .globl test_main
test_main:

#endif
