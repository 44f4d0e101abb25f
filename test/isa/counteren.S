// Counter access control with mcounteren / scounteren:
//  - S-mode may read cycle/time/instret only if the mcounteren bit (CY=0,
//    TM=1, IR=2) is set, otherwise illegal instruction (to M, mtval = the
//    instruction);
//  - U-mode needs both the mcounteren and the scounteren bit;
//  - M-mode is never restricted;
//  - the CY/TM/IR bits of both registers are writable.
#include "common.h"

// From mode \mode, run "csrr a0, \csr"; \ok = 1: must work, 0: must trap.
        .macro TRY mode, csr, ok
        TEST_CASE
        ARM_TRAP 8851f
        MRET_TO \mode, 8850f
8850:   csrr    a0, \csr
        li      a1, 0x600d
        ecall
8851:
        .if \ok
        .if \mode == PRV_U
        CHECK_MCAUSE CAUSE_ECALL_U
        .else
        CHECK_MCAUSE CAUSE_ECALL_S
        .endif
        CHECK   a1, 0x600d
        .else
        CHECK_MCAUSE CAUSE_ILLEGAL
        la      s10, 8850b
        lwu     s10, 0(s10)
        la      s11, trap_info
        ld      s11, TI_TVAL(s11)
        CHECKR  s11, s10
        .endif
        .endm

        TEST_CASE                       // CY/TM/IR writable
        li      a0, 7
        csrw    mcounteren, a0
        csrw    scounteren, a0
        csrr    a1, mcounteren
        andi    a1, a1, 7
        CHECK   a1, 7
        csrr    a1, scounteren
        andi    a1, a1, 7
        CHECK   a1, 7

// ------------------------------------------------------------------ S-mode
        csrw    mcounteren, zero
        csrw    scounteren, zero
        TRY     PRV_S, cycle, 0
        TRY     PRV_S, time, 0
        TRY     PRV_S, instret, 0
        li      a0, 1                   // CY only
        csrw    mcounteren, a0
        TRY     PRV_S, cycle, 1
        TRY     PRV_S, time, 0
        TRY     PRV_S, instret, 0
        li      a0, 2                   // TM only
        csrw    mcounteren, a0
        TRY     PRV_S, cycle, 0
        TRY     PRV_S, time, 1
        TRY     PRV_S, instret, 0
        li      a0, 4                   // IR only
        csrw    mcounteren, a0
        TRY     PRV_S, cycle, 0
        TRY     PRV_S, time, 0
        TRY     PRV_S, instret, 1
        li      a0, 7                   // scounteren does not matter for S
        csrw    mcounteren, a0
        csrw    scounteren, zero
        TRY     PRV_S, cycle, 1
        TRY     PRV_S, time, 1
        TRY     PRV_S, instret, 1

// ------------------------------------------------------------------ U-mode
        li      a0, 7
        csrw    mcounteren, a0
        csrw    scounteren, zero
        TRY     PRV_U, cycle, 0
        TRY     PRV_U, time, 0
        TRY     PRV_U, instret, 0
        csrw    mcounteren, zero
        li      a0, 7
        csrw    scounteren, a0
        TRY     PRV_U, cycle, 0
        TRY     PRV_U, time, 0
        TRY     PRV_U, instret, 0
        li      a0, 7
        csrw    mcounteren, a0
        TRY     PRV_U, cycle, 1
        TRY     PRV_U, time, 1
        TRY     PRV_U, instret, 1
        li      a0, 5                   // CY, IR in M; CY, TM in S
        csrw    mcounteren, a0
        li      a0, 3
        csrw    scounteren, a0
        TRY     PRV_U, cycle, 1
        TRY     PRV_U, time, 0
        TRY     PRV_U, instret, 0

// ------------------------------------------------------------------ M-mode
        TEST_CASE
        csrw    mcounteren, zero
        csrw    scounteren, zero
        rdcycle a0
        rdtime  a0
        rdinstret a0
        csrr    a0, mcycle
        csrr    a0, minstret

        TEST_CASE                       // counting continues in U
        li      a0, 7
        csrw    mcounteren, a0
        csrw    scounteren, a0
        ARM_TRAP 2f
        MRET_TO PRV_U, 1f
1:      rdinstret a2
        nop
        nop
        rdinstret a3
        rdtime  a4
        ecall
2:      CHECK_MCAUSE CAUSE_ECALL_U
        sltu    a0, a2, a3
        CHECK   a0, 1
        snez    a0, a4
        CHECK   a0, 1
        PASS
