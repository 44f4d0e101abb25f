// Zicsr, Zifencei and the counters:
//  - CSRRW/CSRRS/CSRRC and the immediate forms: old value returned, set /
//    clear masks, rs1 = x0 / zimm = 0 do not write, rd = x0, rd == rs1;
//  - writes to read-only CSRs (including CSRRW with rs1 = x0 and CSRRSI
//    with a non-zero zimm) raise illegal instruction with mtval = the
//    instruction, reads of them do not; a non-existent CSR is illegal;
//  - misa/mhartid/mstatus.UXL/SXL basics, sstatus as a view of mstatus;
//  - cycle/instret/time increase, time agrees with the CLINT's mtime;
//  - FENCE.I makes stores to instruction memory visible to fetch.
#include "common.h"

// ------------------------------------------------------- read/write/set/clear
        TEST_CASE
        li      a1, 0x1234
        csrw    mscratch, a1
        li      a2, 0xf0f0
        csrrw   a0, mscratch, a2
        CHECK   a0, 0x1234
        csrr    a0, mscratch
        CHECK   a0, 0xf0f0

        TEST_CASE                       // csrrs: set bits, return old
        li      a2, 0x000f
        csrrs   a0, mscratch, a2
        CHECK   a0, 0xf0f0
        csrr    a0, mscratch
        CHECK   a0, 0xf0ff

        TEST_CASE                       // csrrc: clear bits, return old
        li      a2, 0x00f0
        csrrc   a0, mscratch, a2
        CHECK   a0, 0xf0ff
        csrr    a0, mscratch
        CHECK   a0, 0xf00f

        TEST_CASE                       // csrrs / csrrc with rs1 = x0 only read
        csrrs   a0, mscratch, x0
        CHECK   a0, 0xf00f
        csrrc   a0, mscratch, x0
        CHECK   a0, 0xf00f
        csrr    a0, mscratch
        CHECK   a0, 0xf00f

        TEST_CASE                       // full 64-bit values
        li      a1, 0x8000000000000001
        csrw    mscratch, a1
        csrr    a0, mscratch
        CHECK   a0, 0x8000000000000001
        li      a1, -1
        csrs    mscratch, a1
        csrr    a0, mscratch
        CHECK   a0, -1
        li      a1, 0x7ffffffffffffffe
        csrc    mscratch, a1
        csrr    a0, mscratch
        CHECK   a0, 0x8000000000000001

        TEST_CASE                       // immediate forms: 5-bit zero-extended zimm
        csrrwi  a0, mscratch, 31
        CHECK   a0, 0x8000000000000001
        csrr    a0, mscratch
        CHECK   a0, 31
        csrrci  a0, mscratch, 0x15
        CHECK   a0, 31
        csrr    a0, mscratch
        CHECK   a0, 0x0a
        csrrsi  a0, mscratch, 0x10
        CHECK   a0, 0x0a
        csrr    a0, mscratch
        CHECK   a0, 0x1a
        csrrsi  a0, mscratch, 0         // no write
        CHECK   a0, 0x1a
        csrrci  a0, mscratch, 0
        CHECK   a0, 0x1a
        csrrwi  a0, mscratch, 0
        csrr    a0, mscratch
        CHECK   a0, 0

        TEST_CASE                       // rd = x0 (csrw) and rd == rs1 (swap)
        li      a0, 111
        csrw    mscratch, a0
        li      a0, 222
        csrrw   a0, mscratch, a0
        CHECK   a0, 111
        csrr    a0, mscratch
        CHECK   a0, 222
        li      a0, 0x300
        csrrs   a0, mscratch, a0
        CHECK   a0, 222
        csrr    a0, mscratch
        CHECK   a0, 0x3de
        csrrw   x0, mscratch, x0
        csrr    a0, mscratch
        CHECK   a0, 0

        TEST_CASE                       // sscratch is an independent register
        li      a0, 5
        csrw    mscratch, a0
        li      a0, 6
        csrw    sscratch, a0
        csrr    a1, mscratch
        CHECK   a1, 5
        csrr    a1, sscratch
        CHECK   a1, 6

// --------------------------------------------------------- read-only CSRs
        TEST_CASE                       // reads are fine
        csrr    a0, mhartid
        CHECK   a0, 0
        csrr    a0, mvendorid
        csrr    a0, marchid
        csrr    a0, mimpid
        csrrs   a0, mhartid, x0
        csrrc   a0, mhartid, x0
        csrrsi  a0, mhartid, 0
        csrrci  a0, mvendorid, 0
        TEST_TRAP_TVAL CAUSE_ILLEGAL, 0xf1101073, csrrw x0, mvendorid, x0   // csrw mvendorid, zero
        TEST_TRAP_TVAL CAUSE_ILLEGAL, 0xf1459573, csrrw a0, mhartid, a1
        TEST_TRAP_TVAL CAUSE_ILLEGAL, 0xf120e573, csrrsi a0, marchid, 1
        TEST_TRAP_TVAL CAUSE_ILLEGAL, 0xf135f573, csrrci a0, mimpid, 11
        TEST_TRAP_TVAL CAUSE_ILLEGAL, 0xc0059073, csrw cycle, a1
        TEST_TRAP_TVAL CAUSE_ILLEGAL, 0xc0101573, csrrw a0, time, x0        // rs1 = x0 still writes
        TEST_TRAP_TVAL CAUSE_ILLEGAL, 0xc0262573, csrrs a0, instret, a2    // with a2 != 0
        TEST_TRAP CAUSE_ILLEGAL, csrrs a0, 0x0ff, x0                       // non-existent CSR

        TEST_CASE                       // the trapping csrrw did not write rd
        li      a0, 0x55
        ARM_TRAP 1f
        csrrw   a0, mhartid, a0
1:      DISARM_TRAP
        CHECK   a0, 0x55

// ---------------------------------------------------------- machine basics
        TEST_CASE                       // misa: MXL = 64, I M A F D C S U present
        csrr    a0, misa
        srli    a1, a0, 62
        CHECK   a1, 2
        li      a2, (1 << 8) | (1 << 12) | (1 << 0) | (1 << 5) | (1 << 3) | (1 << 2) | (1 << 18) | (1 << 20)
        and     a1, a0, a2
        CHECKR  a1, a2

        TEST_CASE                       // mstatus.UXL = SXL = 2 (64-bit)
        csrr    a0, mstatus
        srli    a0, a0, 32
        andi    a0, a0, 0xf
        CHECK   a0, 0xa

        TEST_CASE                       // sstatus is a restricted view of mstatus
        li      a1, MSTATUS_SIE | MSTATUS_MIE
        csrc    mstatus, a1
        csrsi   sstatus, MSTATUS_SIE
        csrr    a0, mstatus
        andi    a0, a0, MSTATUS_SIE | MSTATUS_MIE
        CHECK   a0, MSTATUS_SIE
        csrsi   sstatus, MSTATUS_MIE    // MIE is not visible through sstatus
        csrr    a0, mstatus
        andi    a0, a0, MSTATUS_SIE | MSTATUS_MIE
        CHECK   a0, MSTATUS_SIE
        csrr    a0, sstatus
        andi    a0, a0, MSTATUS_MIE
        CHECK   a0, 0
        li      a1, MSTATUS_MPP
        csrs    mstatus, a1
        csrr    a0, sstatus             // nor is MPP
        and     a0, a0, a1
        CHECK   a0, 0
        csrc    mstatus, a1
        csrci   sstatus, MSTATUS_SIE
        csrr    a0, mstatus
        andi    a0, a0, MSTATUS_SIE
        CHECK   a0, 0

// ------------------------------------------------------------- counters
        TEST_CASE                       // cycle increases
        rdcycle a0
        li      a2, 100
1:      addi    a2, a2, -1
        bnez    a2, 1b
        rdcycle a1
        sltu    a3, a0, a1
        CHECK   a3, 1

        TEST_CASE                       // instret increases
        rdinstret a0
        nop
        nop
        nop
        rdinstret a1
        sltu    a3, a0, a1
        CHECK   a3, 1

        TEST_CASE                       // mcycle / minstret are the same counters
        csrr    a0, mcycle
        csrr    a1, minstret
        rdcycle a2
        rdinstret a3
        sltu    a4, a2, a0
        CHECK   a4, 0
        sltu    a4, a3, a1
        CHECK   a4, 0

        TEST_CASE                       // time ticks (bounded wait)
        rdtime  a0
        li      a2, 10000000
1:      rdtime  a1
        bne     a1, a0, 2f
        addi    a2, a2, -1
        bnez    a2, 1b
2:      sltu    a3, a0, a1
        CHECK   a3, 1

        TEST_CASE                       // mtime <= time <= mtime
        li      a4, CLINT_MTIME
        ld      a0, 0(a4)
        rdtime  a1
        ld      a2, 0(a4)
        sltu    a3, a1, a0
        CHECK   a3, 0
        sltu    a3, a2, a1
        CHECK   a3, 0

// --------------------------------------------------------------- FENCE.I
        TEST_CASE                       // patch code, fence.i, run it
        la      a1, patch
        li      a2, 0x00100513          // addi a0, zero, 1
        sw      a2, 0(a1)
        li      a2, 0x00008067          // jalr zero, 0(ra)
        sw      a2, 4(a1)
        fence.i
        li      a0, 0
        jalr    ra, 0(a1)
        CHECK   a0, 1
        li      a2, 0x00200513          // addi a0, zero, 2
        sw      a2, 0(a1)
        fence.i
        jalr    ra, 0(a1)
        CHECK   a0, 2
        li      a2, 0x7ff00513          // addi a0, zero, 2047
        sw      a2, 0(a1)
        fence.i
        jalr    ra, 0(a1)
        CHECK   a0, 2047
        PASS

        .data
        .balign 16
patch:  .word   0, 0, 0, 0
