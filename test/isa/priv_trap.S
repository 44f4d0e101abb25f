// Privileged architecture, synchronous traps and xRET:
//  - ECALL from M/S/U (mcause 11/9/8, mepc = the ecall, mtval = 0),
//    EBREAK (cause 3) from M and U;
//  - trap entry state: MPP/MPIE/MIE, SPP/SPIE/SIE;
//  - MRET: MIE <- MPIE, MPIE <- 1, MPP <- U (to M and to S);
//    SRET: SIE <- SPIE, SPIE <- 1, SPP <- U (to S and to U);
//  - delegation with medeleg (ECALL from U or S, illegal instruction) to S
//    with scause/sepc/stval, only the delegated causes go to S, traps taken
//    in M are never delegated;
//  - illegal instructions with mtval/stval = instruction bits: privileged
//    CSRs and xRET from lower modes, mstatus.TSR (SRET) and mstatus.TVM
//    (satp, SFENCE.VMA) in S.
#include "common.h"

// Check (mstatus-at-trap of record \rec & \mask) == \exp
        .macro CHECK_TSTATUS rec, mask, exp
        la      s10, \rec
        ld      s10, TI_STATUS(s10)
        li      s11, \mask
        and     s10, s10, s11
        CHECK   s10, \exp
        .endm

// Check (\csr & \mask) == \exp
        .macro CHECK_BITS csr, mask, exp
        csrr    s10, \csr
        li      s11, \mask
        and     s10, s10, s11
        CHECK   s10, \exp
        .endm

// ------------------------------------------------------------------ ECALL
        TEST_CASE                       // from M
        ARM_TRAP 2f
1:      ecall
        FAIL_HERE
2:      CHECK_MCAUSE CAUSE_ECALL_M
        CHECK_MEPC 1b
        CHECK_MTVAL 0
        CHECK_TSTATUS trap_info, MSTATUS_MPP, MSTATUS_MPP_M

        TEST_CASE                       // from U
        ARM_TRAP 2f
        MRET_TO PRV_U, 1f
1:      ecall
        FAIL_HERE
2:      CHECK_MCAUSE CAUSE_ECALL_U
        CHECK_MEPC 1b
        CHECK_MTVAL 0
        CHECK_TSTATUS trap_info, MSTATUS_MPP, 0

        TEST_CASE                       // from S
        ARM_TRAP 2f
        MRET_TO PRV_S, 1f
1:      ecall
        FAIL_HERE
2:      CHECK_MCAUSE CAUSE_ECALL_S
        CHECK_MEPC 1b
        CHECK_MTVAL 0
        CHECK_TSTATUS trap_info, MSTATUS_MPP, MSTATUS_MPP_S

        TEST_CASE                       // ebreak from M: mepc = the ebreak
        ARM_TRAP 2f
1:      ebreak
        FAIL_HERE
2:      CHECK_MCAUSE CAUSE_BREAKPOINT
        CHECK_MEPC 1b

        TEST_CASE                       // ebreak from U
        ARM_TRAP 2f
        MRET_TO PRV_U, 1f
1:      ebreak
        FAIL_HERE
2:      CHECK_MCAUSE CAUSE_BREAKPOINT
        CHECK_MEPC 1b
        CHECK_TSTATUS trap_info, MSTATUS_MPP, 0

// ------------------------------------------------------------- trap entry
        TEST_CASE                       // MIE -> MPIE, MIE cleared, MPP = M
        li      a0, MSTATUS_MPIE
        csrc    mstatus, a0
        csrsi   mstatus, MSTATUS_MIE    // no interrupt is enabled in mie
        TEST_TRAP CAUSE_ECALL_M, ecall
        CHECK_TSTATUS trap_info, MSTATUS_MIE | MSTATUS_MPIE, MSTATUS_MPIE
        CHECK_BITS mstatus, MSTATUS_MIE, MSTATUS_MIE   // the handler's mret restored it
        csrci   mstatus, MSTATUS_MIE

// ------------------------------------------------------------------ MRET
        TEST_CASE                       // MRET to M: MIE <- MPIE(1), MPIE <- 1, MPP <- U
        li      a0, MSTATUS_MPIE | MSTATUS_MPP_M
        csrs    mstatus, a0
        csrci   mstatus, MSTATUS_MIE
        la      a0, 1f
        csrw    mepc, a0
        mret
        FAIL_HERE
1:      CHECK_BITS mstatus, MSTATUS_MIE | MSTATUS_MPIE | MSTATUS_MPP, MSTATUS_MIE | MSTATUS_MPIE
        csrci   mstatus, MSTATUS_MIE

        TEST_CASE                       // MRET with MPIE = 0: MIE <- 0, MPIE <- 1
        li      a0, MSTATUS_MPIE
        csrc    mstatus, a0
        li      a0, MSTATUS_MPP_M
        csrs    mstatus, a0
        csrsi   mstatus, MSTATUS_MIE
        la      a0, 1f
        csrw    mepc, a0
        mret
        FAIL_HERE
1:      CHECK_BITS mstatus, MSTATUS_MIE | MSTATUS_MPIE | MSTATUS_MPP, MSTATUS_MPIE

        // MRET to S: S runs with MIE = 1 (seen as MPIE at the ecall).
        // (Priv. spec 1.12 also has MRET to S/U clear MPRV; QEMU 7.2 does
        // not, so that is not checked here.)
        TEST_CASE
        li      a0, MSTATUS_MPIE
        csrs    mstatus, a0
        ARM_TRAP 2f
        MRET_TO PRV_S, 1f
1:      ecall
2:      CHECK_MCAUSE CAUSE_ECALL_S
        CHECK_TSTATUS trap_info, MSTATUS_MPIE | MSTATUS_MPP, MSTATUS_MPIE | MSTATUS_MPP_S
        li      a0, MSTATUS_MPIE
        csrc    mstatus, a0

        // (mepc[0]/sepc[0] should read as zero per the privileged spec, but
        // QEMU 7.2 keeps bit 0, so that is not checked.)

// ------------------------------------------------------------------ SRET
        TEST_CASE                       // in S: SRET to S with SPIE=1, SIE=0
        ARM_TRAP 9f
        MRET_TO PRV_S, 1f
1:      li      a0, MSTATUS_SPIE | MSTATUS_SPP
        csrs    sstatus, a0
        csrci   sstatus, MSTATUS_SIE
        la      a0, 2f
        csrw    sepc, a0
        sret
        FAIL_HERE
2:      csrr    a1, sstatus             // still in S: sstatus is accessible
        li      a2, MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP
        and     a1, a1, a2
        csrci   sstatus, MSTATUS_SIE
        ecall                           // back to M (not delegated)
9:      CHECK_MCAUSE CAUSE_ECALL_S
        CHECK   a1, MSTATUS_SIE | MSTATUS_SPIE

        TEST_CASE                       // SRET to U with SPIE=0: SIE <- 0, SPIE <- 1
        ARM_TRAP 9f
        MRET_TO PRV_S, 1f
1:      li      a0, MSTATUS_SPIE | MSTATUS_SPP
        csrc    sstatus, a0
        csrsi   sstatus, MSTATUS_SIE
        la      a0, 2f
        csrw    sepc, a0
        sret
        FAIL_HERE
2:      ecall                           // from U
9:      CHECK_MCAUSE CAUSE_ECALL_U
        CHECK_TSTATUS trap_info, MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP, MSTATUS_SPIE

// ------------------------------------------------------------ delegation
        TEST_CASE                       // ECALL from U delegated to S
        li      a0, 1 << CAUSE_ECALL_U
        csrw    medeleg, a0
        ARM_TRAP 9f
        MRET_TO PRV_S, 1f
1:      S_ARM_TRAP 3f                   // in S
        csrsi   sstatus, MSTATUS_SIE
        SRET_TO PRV_U, 2f
2:      ecall                           // in U -> S
        FAIL_HERE
3:      csrr    a3, sstatus             // in S
        ecall                           // S -> M: not delegated
9:      CHECK_MCAUSE CAUSE_ECALL_S
        CHECK_SCAUSE CAUSE_ECALL_U
        CHECK_SEPC 2b
        CHECK_STVAL 0
        CHECK_TSTATUS strap_info, MSTATUS_SPP | MSTATUS_SPIE | MSTATUS_SIE, MSTATUS_SPIE
        csrw    medeleg, zero

        TEST_CASE                       // ECALL from S delegated to S itself; ECALL from U still to M
        li      a0, 1 << CAUSE_ECALL_S
        csrw    medeleg, a0
        ARM_TRAP 9f
        MRET_TO PRV_S, 1f
1:      S_ARM_TRAP 3f
2:      ecall                           // S -> S
        FAIL_HERE
3:      SRET_TO PRV_U, 4f
4:      ecall                           // U -> M
9:      csrw    medeleg, zero
        CHECK_MCAUSE CAUSE_ECALL_U
        CHECK_SCAUSE CAUSE_ECALL_S
        CHECK_SEPC 2b
        CHECK_TSTATUS strap_info, MSTATUS_SPP, MSTATUS_SPP

        TEST_CASE                       // illegal instruction delegated, raised in S and in U
        li      a0, (1 << CAUSE_ILLEGAL)
        csrw    medeleg, a0
        ARM_TRAP 9f
        MRET_TO PRV_S, 1f
1:      S_TEST_TRAP CAUSE_ILLEGAL, csrr a0, mstatus        // M CSR from S
        la      s10, strap_info
        ld      a4, TI_TVAL(s10)
        ld      a5, TI_STATUS(s10)
        S_ARM_TRAP 3f
        SRET_TO PRV_U, 2f
2:      csrr    a0, sstatus                                // S CSR from U
        FAIL_HERE
3:      la      s10, strap_info
        ld      a6, TI_TVAL(s10)
        ld      a7, TI_CAUSE(s10)
        ecall
9:      CHECK_MCAUSE CAUSE_ECALL_S
        CHECK   a4, 0x30002573
        li      a1, MSTATUS_SPP
        and     a5, a5, a1
        CHECK   a5, MSTATUS_SPP
        CHECK   a6, 0x10002573
        CHECK   a7, CAUSE_ILLEGAL

        TEST_CASE                       // a trap taken in M is never delegated
        TEST_TRAP CAUSE_ILLEGAL, .word 0
        csrw    medeleg, zero

// ------------------------------------------- privileged instructions / CSRs
        TEST_CASE                       // from U: mret, sret, M and S CSRs
        ARM_TRAP 2f
        MRET_TO PRV_U, 1f
1:      mret
2:      CHECK_MCAUSE CAUSE_ILLEGAL
        CHECK_MTVAL 0x30200073
        ARM_TRAP 2f
        MRET_TO PRV_U, 1f
1:      sret
2:      CHECK_MCAUSE CAUSE_ILLEGAL
        CHECK_MTVAL 0x10200073
        ARM_TRAP 2f
        MRET_TO PRV_U, 1f
1:      csrw    mscratch, a0
2:      CHECK_MCAUSE CAUSE_ILLEGAL
        CHECK_MTVAL 0x34051073
        ARM_TRAP 2f
        MRET_TO PRV_U, 1f
1:      csrr    a0, sscratch
2:      CHECK_MCAUSE CAUSE_ILLEGAL
        CHECK_MTVAL 0x14002573
        ARM_TRAP 2f
        MRET_TO PRV_U, 1f
1:      sfence.vma
2:      CHECK_MCAUSE CAUSE_ILLEGAL
        CHECK_MTVAL 0x12000073

        TEST_CASE                       // from S: mret, M CSRs
        ARM_TRAP 2f
        MRET_TO PRV_S, 1f
1:      mret
2:      CHECK_MCAUSE CAUSE_ILLEGAL
        CHECK_MTVAL 0x30200073
        CHECK_TSTATUS trap_info, MSTATUS_MPP, MSTATUS_MPP_S
        ARM_TRAP 2f
        MRET_TO PRV_S, 1f
1:      csrr    a0, mepc
2:      CHECK_MCAUSE CAUSE_ILLEGAL
        CHECK_MTVAL 0x34102573
        ARM_TRAP 2f
        MRET_TO PRV_S, 1f
1:      csrr    a0, mhartid
2:      CHECK_MCAUSE CAUSE_ILLEGAL
        CHECK_MTVAL 0xf1402573

        TEST_CASE                       // from S: S CSRs and sfence.vma are fine
        ARM_TRAP 9f
        MRET_TO PRV_S, 1f
1:      li      a0, 0x77
        csrw    sscratch, a0
        csrr    a1, sscratch
        csrr    a2, satp
        sfence.vma
        csrr    a3, sie
        csrr    a3, sip
        csrr    a3, stvec
        ecall
9:      CHECK_MCAUSE CAUSE_ECALL_S
        CHECK   a1, 0x77
        CHECK   a2, 0

        TEST_CASE                       // mstatus.TSR: sret in S is illegal
        li      a0, MSTATUS_TSR
        csrs    mstatus, a0
        ARM_TRAP 2f
        MRET_TO PRV_S, 1f
1:      sret
2:      CHECK_MCAUSE CAUSE_ILLEGAL
        CHECK_MTVAL 0x10200073
        CHECK_TSTATUS trap_info, MSTATUS_MPP, MSTATUS_MPP_S
        TEST_CASE                       // ... but not in M
        la      a0, 1f
        csrw    sepc, a0
        li      a0, MSTATUS_SPP
        csrs    sstatus, a0
        ARM_TRAP 2f
        sret                            // M-mode sret to S
1:      ecall
2:      CHECK_MCAUSE CAUSE_ECALL_S
        li      a0, MSTATUS_TSR
        csrc    mstatus, a0

        TEST_CASE                       // mstatus.TVM: satp and sfence.vma in S are illegal
        li      a0, MSTATUS_TVM
        csrs    mstatus, a0
        ARM_TRAP 2f
        MRET_TO PRV_S, 1f
1:      csrr    a0, satp
2:      CHECK_MCAUSE CAUSE_ILLEGAL
        CHECK_MTVAL 0x18002573
        ARM_TRAP 2f
        MRET_TO PRV_S, 1f
1:      sfence.vma a0, a1
2:      CHECK_MCAUSE CAUSE_ILLEGAL
        CHECK_MTVAL 0x12b50073
        TEST_CASE                       // ... M may still use satp
        csrr    a0, satp
        CHECK   a0, 0
        li      a0, MSTATUS_TVM
        csrc    mstatus, a0
        PASS
