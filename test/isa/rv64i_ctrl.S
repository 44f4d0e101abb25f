// RV64I control transfer: every conditional branch taken and not taken, in
// both directions; JAL and JALR link values (pc + 4), JALR offset and
// clearing of bit 0 of the target, rd == rs1, x0 as link register.
// Everything uses 32-bit encodings (.option norvc from common.h), so the
// link value is always pc + 4.
#include "common.h"

// Branch \op with operands v1, v2 must be taken, forward and backward.
        .macro BR_TAKEN op, v1, v2
        TEST_CASE
        li      a1, \v1
        li      a2, \v2
        li      a0, 0
        \op     a1, a2, 1f              // forward
        li      a0, 1
1:      CHECK   a0, 0
        li      a0, 0
        j       3f
2:      addi    a0, a0, 1               // backward target
        j       4f
3:      \op     a1, a2, 2b
        li      a0, 7
4:      CHECK   a0, 1
        .endm

// Branch \op with operands v1, v2 must fall through, forward and backward.
        .macro BR_NOT_TAKEN op, v1, v2
        TEST_CASE
        li      a1, \v1
        li      a2, \v2
        li      a0, 0
        j       2f
1:      li      a0, 9                   // backward target: wrong
        j       3f
2:      \op     a1, a2, 1b
        addi    a0, a0, 1
        \op     a1, a2, 3f              // forward
        addi    a0, a0, 1
3:      CHECK   a0, 2
        .endm

        BR_TAKEN     beq, 0, 0
        BR_TAKEN     beq, 1, 1
        BR_TAKEN     beq, -1, -1
        BR_TAKEN     beq, 0x8000000000000000, 0x8000000000000000
        BR_NOT_TAKEN beq, 0, 1
        BR_NOT_TAKEN beq, 1, 0
        BR_NOT_TAKEN beq, 0x100000000, 0        // upper bits matter
        BR_NOT_TAKEN beq, -1, 0x7fffffffffffffff

        BR_TAKEN     bne, 0, 1
        BR_TAKEN     bne, 1, 0
        BR_TAKEN     bne, 0x100000000, 0
        BR_TAKEN     bne, -1, 0xffffffff
        BR_NOT_TAKEN bne, 0, 0
        BR_NOT_TAKEN bne, -1, -1
        BR_NOT_TAKEN bne, 0x123456789abcdef0, 0x123456789abcdef0

        BR_TAKEN     blt, 0, 1
        BR_TAKEN     blt, -1, 1
        BR_TAKEN     blt, -2, -1
        BR_TAKEN     blt, 0x8000000000000000, 0x7fffffffffffffff
        BR_TAKEN     blt, 0xffffffff00000000, 0
        BR_NOT_TAKEN blt, 1, 0
        BR_NOT_TAKEN blt, 1, -1
        BR_NOT_TAKEN blt, 0, 0
        BR_NOT_TAKEN blt, 0x7fffffffffffffff, 0x8000000000000000

        BR_TAKEN     bge, 0, 0
        BR_TAKEN     bge, 1, 0
        BR_TAKEN     bge, 1, -1
        BR_TAKEN     bge, -1, -1
        BR_TAKEN     bge, 0x7fffffffffffffff, 0x8000000000000000
        BR_NOT_TAKEN bge, 0, 1
        BR_NOT_TAKEN bge, -1, 0
        BR_NOT_TAKEN bge, 0x8000000000000000, -1

        BR_TAKEN     bltu, 0, 1
        BR_TAKEN     bltu, 1, -1
        BR_TAKEN     bltu, 0x7fffffffffffffff, 0x8000000000000000
        BR_TAKEN     bltu, 0xffffffff, 0x100000000
        BR_NOT_TAKEN bltu, -1, 1
        BR_NOT_TAKEN bltu, 0, 0
        BR_NOT_TAKEN bltu, -1, -1
        BR_NOT_TAKEN bltu, 0x8000000000000000, 0x7fffffffffffffff

        BR_TAKEN     bgeu, -1, 1
        BR_TAKEN     bgeu, 0, 0
        BR_TAKEN     bgeu, -1, -1
        BR_TAKEN     bgeu, 0x8000000000000000, 0x7fffffffffffffff
        BR_NOT_TAKEN bgeu, 1, -1
        BR_NOT_TAKEN bgeu, 0, 1
        BR_NOT_TAKEN bgeu, 0xffffffff, 0x100000000

// a branch whose operands are the same register
        TEST_CASE
        li      a1, -5
        blt     a1, a1, 1f
        bltu    a1, a1, 1f
        bne     a1, a1, 1f
        bge     a1, a1, 2f
1:      FAIL_HERE
2:      bgeu    a1, a1, 3f
        FAIL_HERE
3:      beq     a1, a1, 4f
        FAIL_HERE
4:      beq     x0, x0, 5f              // x0 comparisons
        FAIL_HERE
5:      bltu    x0, a1, 6f
        FAIL_HERE
6:

// ------------------------------------------------------------------ JAL
        TEST_CASE
        li      a5, 0
1:      jal     a5, 2f
        FAIL_HERE
2:      la      a1, 1b + 4
        CHECKR  a5, a1

        TEST_CASE                       // backward jal with ra
        j       3f
2:      la      a1, 4f
        CHECKR  ra, a1
        j       5f
3:      jal     ra, 2b
4:      FAIL_HERE
5:

        TEST_CASE                       // jal x0 does not link
        li      a0, 0
        jal     x0, 1f
        li      a0, 1
1:      CHECK   a0, 0
        mv      a1, x0
        CHECK   a1, 0

        TEST_CASE                       // a longer jump over ~3 KiB
        jal     a5, 1f
9:      .skip   3000
        .balign 4
1:      la      a1, 9b                  // a5 == address after the jal
        CHECKR  a5, a1

// ------------------------------------------------------------------ JALR
        TEST_CASE
        la      a1, 2f
1:      jalr    a5, 0(a1)
        FAIL_HERE
2:      la      a2, 1b + 4
        CHECKR  a5, a2

        TEST_CASE                       // positive offset
        la      a1, 2f - 8
1:      jalr    a5, 8(a1)
        FAIL_HERE
2:      la      a2, 1b + 4
        CHECKR  a5, a2

        TEST_CASE                       // negative offset
        la      a1, 2f + 0x7f0
1:      jalr    a5, -0x7f0(a1)
        FAIL_HERE
2:      la      a2, 1b + 4
        CHECKR  a5, a2

        TEST_CASE                       // bit 0 of the target is cleared
        la      a1, 2f
        addi    a1, a1, 1
1:      jalr    a5, 0(a1)
        FAIL_HERE
2:      la      a2, 1b + 4
        CHECKR  a5, a2

        TEST_CASE                       // odd offset, even base
        la      a1, 2f - 1
        addi    a1, a1, 0
        andi    a3, a1, 1
        CHECK   a3, 1                   // base is odd
        la      a1, 2f
        addi    a1, a1, -2
1:      jalr    a5, 3(a1)               // 2f + 1 -> 2f
        FAIL_HERE
2:      la      a2, 1b + 4
        CHECKR  a5, a2

        TEST_CASE                       // rd == rs1: target uses the old value
        la      a1, 2f
1:      jalr    a1, 0(a1)
        FAIL_HERE
2:      la      a2, 1b + 4
        CHECKR  a1, a2

        TEST_CASE                       // jalr x0 (ret) does not link
        la      a1, 2f
        li      a5, 3
        jalr    x0, 0(a1)
        FAIL_HERE
2:      CHECK   a5, 3

        TEST_CASE                       // call / ret round trip
        li      a0, 0
        call    sub_inc
        call    sub_inc
        CHECK   a0, 2
        PASS

sub_inc:
        addi    a0, a0, 1
        ret
