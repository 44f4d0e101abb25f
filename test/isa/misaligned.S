// Misaligned atomics (spec-mandated behaviour only; ordinary misaligned
// loads/stores may legally be done in hardware or trap, see
// misaligned_moat.S):
//  - LR.W/LR.D at a misaligned address raise a load address-misaligned
//    exception (cause 4), every AMO (.W and .D) a store/AMO address-
//    misaligned exception (cause 6), with mtval = the address;
//  - the faulting instruction writes neither memory nor rd.
// (The spec also allows an access-fault instead; QEMU and moat both raise
// the misaligned exception, which is what is checked.)
// Runs with harts = 2: QEMU 7.2 with a single hart performs AMOs as a load
// plus a store and reports cause 4 for a misaligned AMO.
#include "common.h"

// \op at mbuf + \off must trap with cause 6, mtval = address; no effects
        .macro MIS_AMO op, off
        TEST_CASE
        la      a1, mbuf
        li      a2, 0x1122334455667788
        sd      a2, 0(a1)
        sd      a2, 8(a1)
        addi    a3, a1, \off
        li      a0, 0x5a5a
        li      a4, 1
        ARM_TRAP 8891f
        \op     a0, a4, (a3)
8891:   DISARM_TRAP
        CHECK_MCAUSE CAUSE_MISALIGNED_STORE
        la      s10, trap_info
        ld      s10, TI_TVAL(s10)
        CHECKR  s10, a3
        CHECK   a0, 0x5a5a
        ld      a2, 0(a1)
        CHECK   a2, 0x1122334455667788
        ld      a2, 8(a1)
        CHECK   a2, 0x1122334455667788
        .endm

        TEST_CASE                       // LR.W / LR.D
        la      a1, mbuf
        addi    a3, a1, 2
        li      a0, 0x5a5a
        ARM_TRAP 1f
        lr.w    a0, (a3)
1:      CHECK_MCAUSE CAUSE_MISALIGNED_LOAD
        la      s10, trap_info
        ld      s10, TI_TVAL(s10)
        CHECKR  s10, a3
        CHECK   a0, 0x5a5a
        TEST_CASE
        addi    a3, a1, 4
        ARM_TRAP 1f
        lr.d    a0, (a3)
1:      CHECK_MCAUSE CAUSE_MISALIGNED_LOAD
        la      s10, trap_info
        ld      s10, TI_TVAL(s10)
        CHECKR  s10, a3
        CHECK   a0, 0x5a5a

// (A misaligned SC.W/SC.D must raise cause 6 as well, but QEMU 7.2 lets an
// SC whose address differs from the reservation fail without trapping -
// and a misaligned address can never hold a reservation - so SC is not
// checked here.)

        MIS_AMO amoswap.w, 2
        MIS_AMO amoswap.d, 4
        MIS_AMO amoadd.w, 2
        MIS_AMO amoadd.d, 4
        MIS_AMO amoxor.w, 2
        MIS_AMO amoxor.d, 4
        MIS_AMO amoand.w, 2
        MIS_AMO amoand.d, 4
        MIS_AMO amoor.w, 2
        MIS_AMO amoor.d, 4
        MIS_AMO amomin.w, 2
        MIS_AMO amomin.d, 4
        MIS_AMO amomax.w, 2
        MIS_AMO amomax.d, 4
        MIS_AMO amominu.w, 2
        MIS_AMO amominu.d, 4
        MIS_AMO amomaxu.w, 2
        MIS_AMO amomaxu.d, 4
        MIS_AMO amoadd.w, 1
        MIS_AMO amoor.d, 7
        PASS

        .data
        .balign 16
mbuf:   .dword  0, 0, 0
