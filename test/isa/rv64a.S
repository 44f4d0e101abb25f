// RV64A: LR/SC (success, failure without a reservation, failure on a
// different address, reservation cleared by any SC, sign extension of LR.W,
// aq/rl variants) and every AMO in .W and .D width: the old memory value is
// returned (sign-extended for .W), only the addressed word is written, the
// upper bits of rs2 are ignored by .W, min/max signed vs unsigned.
#include "common.h"

// mem64 = init; a0 = op(rs2 = \src) on mem64; check a0 and the whole dword
        .macro TEST_AMO op, init, src, exp_rd, exp_mem
        TEST_CASE
        la      a1, mem64
        li      a2, \init
        sd      a2, 0(a1)
        li      a2, \src
        \op     a0, a2, (a1)
        CHECK   a0, \exp_rd
        ld      a3, 0(a1)
        CHECK   a3, \exp_mem
        CHECK   a2, \src                // rs2 unchanged
        .endm

        TEST_AMO amoswap.w, 0xdeadbeef80000001, 0xffffffff00000001, 0xffffffff80000001, 0xdeadbeef00000001
        TEST_AMO amoswap.w, 0xdeadbeef7fffffff, 0x0000000080000000, 0x000000007fffffff, 0xdeadbeef80000000
        TEST_AMO amoswap.w, 0x0123456712345678, 0x00000000f0f0f0f0, 0x0000000012345678, 0x01234567f0f0f0f0
        TEST_AMO amoswap.w, 0xdeadbeefffffffff, 0x0000000000000001, 0xffffffffffffffff, 0xdeadbeef00000001
        TEST_AMO amoswap.d, 0x8000000000000001, 0x0000000000000001, 0x8000000000000001, 0x0000000000000001
        TEST_AMO amoswap.d, 0x7fffffffffffffff, 0x8000000000000000, 0x7fffffffffffffff, 0x8000000000000000
        TEST_AMO amoswap.d, 0x0123456789abcdef, 0xf0f0f0f00f0f0f0f, 0x0123456789abcdef, 0xf0f0f0f00f0f0f0f
        TEST_AMO amoswap.d, 0xffffffffffffffff, 0x0000000000000001, 0xffffffffffffffff, 0x0000000000000001

        TEST_AMO amoadd.w, 0xdeadbeef80000001, 0xffffffff00000001, 0xffffffff80000001, 0xdeadbeef80000002
        TEST_AMO amoadd.w, 0xdeadbeef7fffffff, 0x0000000080000000, 0x000000007fffffff, 0xdeadbeefffffffff
        TEST_AMO amoadd.w, 0x0123456712345678, 0x00000000f0f0f0f0, 0x0000000012345678, 0x0123456703254768
        TEST_AMO amoadd.w, 0xdeadbeefffffffff, 0x0000000000000001, 0xffffffffffffffff, 0xdeadbeef00000000
        TEST_AMO amoadd.d, 0x8000000000000001, 0x0000000000000001, 0x8000000000000001, 0x8000000000000002
        TEST_AMO amoadd.d, 0x7fffffffffffffff, 0x8000000000000000, 0x7fffffffffffffff, 0xffffffffffffffff
        TEST_AMO amoadd.d, 0x0123456789abcdef, 0xf0f0f0f00f0f0f0f, 0x0123456789abcdef, 0xf214365798badcfe
        TEST_AMO amoadd.d, 0xffffffffffffffff, 0x0000000000000001, 0xffffffffffffffff, 0x0000000000000000

        TEST_AMO amoxor.w, 0xdeadbeef80000001, 0xffffffff00000001, 0xffffffff80000001, 0xdeadbeef80000000
        TEST_AMO amoxor.w, 0xdeadbeef7fffffff, 0x0000000080000000, 0x000000007fffffff, 0xdeadbeefffffffff
        TEST_AMO amoxor.w, 0x0123456712345678, 0x00000000f0f0f0f0, 0x0000000012345678, 0x01234567e2c4a688
        TEST_AMO amoxor.w, 0xdeadbeefffffffff, 0x0000000000000001, 0xffffffffffffffff, 0xdeadbeeffffffffe
        TEST_AMO amoxor.d, 0x8000000000000001, 0x0000000000000001, 0x8000000000000001, 0x8000000000000000
        TEST_AMO amoxor.d, 0x7fffffffffffffff, 0x8000000000000000, 0x7fffffffffffffff, 0xffffffffffffffff
        TEST_AMO amoxor.d, 0x0123456789abcdef, 0xf0f0f0f00f0f0f0f, 0x0123456789abcdef, 0xf1d3b59786a4c2e0
        TEST_AMO amoxor.d, 0xffffffffffffffff, 0x0000000000000001, 0xffffffffffffffff, 0xfffffffffffffffe

        TEST_AMO amoand.w, 0xdeadbeef80000001, 0xffffffff00000001, 0xffffffff80000001, 0xdeadbeef00000001
        TEST_AMO amoand.w, 0xdeadbeef7fffffff, 0x0000000080000000, 0x000000007fffffff, 0xdeadbeef00000000
        TEST_AMO amoand.w, 0x0123456712345678, 0x00000000f0f0f0f0, 0x0000000012345678, 0x0123456710305070
        TEST_AMO amoand.w, 0xdeadbeefffffffff, 0x0000000000000001, 0xffffffffffffffff, 0xdeadbeef00000001
        TEST_AMO amoand.d, 0x8000000000000001, 0x0000000000000001, 0x8000000000000001, 0x0000000000000001
        TEST_AMO amoand.d, 0x7fffffffffffffff, 0x8000000000000000, 0x7fffffffffffffff, 0x0000000000000000
        TEST_AMO amoand.d, 0x0123456789abcdef, 0xf0f0f0f00f0f0f0f, 0x0123456789abcdef, 0x00204060090b0d0f
        TEST_AMO amoand.d, 0xffffffffffffffff, 0x0000000000000001, 0xffffffffffffffff, 0x0000000000000001

        TEST_AMO amoor.w, 0xdeadbeef80000001, 0xffffffff00000001, 0xffffffff80000001, 0xdeadbeef80000001
        TEST_AMO amoor.w, 0xdeadbeef7fffffff, 0x0000000080000000, 0x000000007fffffff, 0xdeadbeefffffffff
        TEST_AMO amoor.w, 0x0123456712345678, 0x00000000f0f0f0f0, 0x0000000012345678, 0x01234567f2f4f6f8
        TEST_AMO amoor.w, 0xdeadbeefffffffff, 0x0000000000000001, 0xffffffffffffffff, 0xdeadbeefffffffff
        TEST_AMO amoor.d, 0x8000000000000001, 0x0000000000000001, 0x8000000000000001, 0x8000000000000001
        TEST_AMO amoor.d, 0x7fffffffffffffff, 0x8000000000000000, 0x7fffffffffffffff, 0xffffffffffffffff
        TEST_AMO amoor.d, 0x0123456789abcdef, 0xf0f0f0f00f0f0f0f, 0x0123456789abcdef, 0xf1f3f5f78fafcfef
        TEST_AMO amoor.d, 0xffffffffffffffff, 0x0000000000000001, 0xffffffffffffffff, 0xffffffffffffffff

        TEST_AMO amomin.w, 0xdeadbeef80000001, 0xffffffff00000001, 0xffffffff80000001, 0xdeadbeef80000001
        TEST_AMO amomin.w, 0xdeadbeef7fffffff, 0x0000000080000000, 0x000000007fffffff, 0xdeadbeef80000000
        TEST_AMO amomin.w, 0x0123456712345678, 0x00000000f0f0f0f0, 0x0000000012345678, 0x01234567f0f0f0f0
        TEST_AMO amomin.w, 0xdeadbeefffffffff, 0x0000000000000001, 0xffffffffffffffff, 0xdeadbeefffffffff
        TEST_AMO amomin.d, 0x8000000000000001, 0x0000000000000001, 0x8000000000000001, 0x8000000000000001
        TEST_AMO amomin.d, 0x7fffffffffffffff, 0x8000000000000000, 0x7fffffffffffffff, 0x8000000000000000
        TEST_AMO amomin.d, 0x0123456789abcdef, 0xf0f0f0f00f0f0f0f, 0x0123456789abcdef, 0xf0f0f0f00f0f0f0f
        TEST_AMO amomin.d, 0xffffffffffffffff, 0x0000000000000001, 0xffffffffffffffff, 0xffffffffffffffff

        TEST_AMO amomax.w, 0xdeadbeef80000001, 0xffffffff00000001, 0xffffffff80000001, 0xdeadbeef00000001
        TEST_AMO amomax.w, 0xdeadbeef7fffffff, 0x0000000080000000, 0x000000007fffffff, 0xdeadbeef7fffffff
        TEST_AMO amomax.w, 0x0123456712345678, 0x00000000f0f0f0f0, 0x0000000012345678, 0x0123456712345678
        TEST_AMO amomax.w, 0xdeadbeefffffffff, 0x0000000000000001, 0xffffffffffffffff, 0xdeadbeef00000001
        TEST_AMO amomax.d, 0x8000000000000001, 0x0000000000000001, 0x8000000000000001, 0x0000000000000001
        TEST_AMO amomax.d, 0x7fffffffffffffff, 0x8000000000000000, 0x7fffffffffffffff, 0x7fffffffffffffff
        TEST_AMO amomax.d, 0x0123456789abcdef, 0xf0f0f0f00f0f0f0f, 0x0123456789abcdef, 0x0123456789abcdef
        TEST_AMO amomax.d, 0xffffffffffffffff, 0x0000000000000001, 0xffffffffffffffff, 0x0000000000000001

        TEST_AMO amominu.w, 0xdeadbeef80000001, 0xffffffff00000001, 0xffffffff80000001, 0xdeadbeef00000001
        TEST_AMO amominu.w, 0xdeadbeef7fffffff, 0x0000000080000000, 0x000000007fffffff, 0xdeadbeef7fffffff
        TEST_AMO amominu.w, 0x0123456712345678, 0x00000000f0f0f0f0, 0x0000000012345678, 0x0123456712345678
        TEST_AMO amominu.w, 0xdeadbeefffffffff, 0x0000000000000001, 0xffffffffffffffff, 0xdeadbeef00000001
        TEST_AMO amominu.d, 0x8000000000000001, 0x0000000000000001, 0x8000000000000001, 0x0000000000000001
        TEST_AMO amominu.d, 0x7fffffffffffffff, 0x8000000000000000, 0x7fffffffffffffff, 0x7fffffffffffffff
        TEST_AMO amominu.d, 0x0123456789abcdef, 0xf0f0f0f00f0f0f0f, 0x0123456789abcdef, 0x0123456789abcdef
        TEST_AMO amominu.d, 0xffffffffffffffff, 0x0000000000000001, 0xffffffffffffffff, 0x0000000000000001

        TEST_AMO amomaxu.w, 0xdeadbeef80000001, 0xffffffff00000001, 0xffffffff80000001, 0xdeadbeef80000001
        TEST_AMO amomaxu.w, 0xdeadbeef7fffffff, 0x0000000080000000, 0x000000007fffffff, 0xdeadbeef80000000
        TEST_AMO amomaxu.w, 0x0123456712345678, 0x00000000f0f0f0f0, 0x0000000012345678, 0x01234567f0f0f0f0
        TEST_AMO amomaxu.w, 0xdeadbeefffffffff, 0x0000000000000001, 0xffffffffffffffff, 0xdeadbeefffffffff
        TEST_AMO amomaxu.d, 0x8000000000000001, 0x0000000000000001, 0x8000000000000001, 0x8000000000000001
        TEST_AMO amomaxu.d, 0x7fffffffffffffff, 0x8000000000000000, 0x7fffffffffffffff, 0x8000000000000000
        TEST_AMO amomaxu.d, 0x0123456789abcdef, 0xf0f0f0f00f0f0f0f, 0x0123456789abcdef, 0xf0f0f0f00f0f0f0f
        TEST_AMO amomaxu.d, 0xffffffffffffffff, 0x0000000000000001, 0xffffffffffffffff, 0xffffffffffffffff

// .W on the upper word of a dword
        TEST_CASE
        la      a1, mem64
        li      a2, 0x8000000012345678
        sd      a2, 0(a1)
        li      a2, 0x10
        addi    a4, a1, 4
        amoadd.w a0, a2, (a4)
        CHECK   a0, 0xffffffff80000000
        ld      a3, 0(a1)
        CHECK   a3, 0x8000001012345678
        li      a2, -1
        amominu.w.aq a0, a2, (a4)
        CHECK   a0, 0xffffffff80000010
        ld      a3, 0(a1)
        CHECK   a3, 0x8000001012345678
        amomax.w.rl a0, a2, (a4)
        CHECK   a0, 0xffffffff80000010
        ld      a3, 0(a1)
        CHECK   a3, 0xffffffff12345678

// aq/rl encodings
        TEST_CASE
        la      a1, mem64
        sd      zero, 0(a1)
        li      a2, 3
        amoadd.d.aq   a0, a2, (a1)
        amoadd.d.rl   a0, a2, (a1)
        amoadd.d.aqrl a0, a2, (a1)
        amoor.w.aqrl  a0, a2, (a1)
        amoswap.d.aqrl a0, a2, (a1)
        CHECK   a0, 11
        ld      a0, 0(a1)
        CHECK   a0, 3

// rd == x0: memory still updated
        TEST_CASE
        la      a1, mem64
        li      a2, 40
        sd      a2, 0(a1)
        li      a2, 2
        amoadd.d x0, a2, (a1)
        amoadd.w x0, a2, (a1)
        ld      a0, 0(a1)
        CHECK   a0, 44
        mv      a0, x0
        CHECK   a0, 0

// rd == rs2: the old value ends up in rd, memory gets the old rs2
        TEST_CASE
        la      a1, mem64
        li      a2, 100
        sd      a2, 0(a1)
        li      a2, 5
        amoswap.d a2, a2, (a1)
        CHECK   a2, 100
        ld      a0, 0(a1)
        CHECK   a0, 5
        li      a2, 7
        amoadd.w a2, a2, (a1)
        CHECK   a2, 5
        ld      a0, 0(a1)
        CHECK   a0, 12

// ------------------------------------------------------------------ LR/SC
        TEST_CASE                       // LR.W sign-extends; SC.W succeeds
        la      a1, mem64
        li      a2, 0x1111111180000000
        sd      a2, 0(a1)
        lr.w    a0, (a1)
        CHECK   a0, 0xffffffff80000000
        li      a2, 0x2222222233333333
        sc.w    a3, a2, (a1)
        CHECK   a3, 0
        ld      a0, 0(a1)
        CHECK   a0, 0x1111111133333333

        TEST_CASE                       // SC again without a new LR fails
        li      a2, 0x44444444
        sc.w    a3, a2, (a1)
        snez    a3, a3
        CHECK   a3, 1
        ld      a0, 0(a1)
        CHECK   a0, 0x1111111133333333

        TEST_CASE                       // LR.D / SC.D
        la      a1, mem64
        li      a2, 0x8000000000000001
        sd      a2, 0(a1)
        lr.d    a0, (a1)
        CHECK   a0, 0x8000000000000001
        addi    a0, a0, 1
        sc.d    a3, a0, (a1)
        CHECK   a3, 0
        ld      a0, 0(a1)
        CHECK   a0, 0x8000000000000002
        sc.d    a3, zero, (a1)           // reservation consumed
        snez    a3, a3
        CHECK   a3, 1
        ld      a0, 0(a1)
        CHECK   a0, 0x8000000000000002

        TEST_CASE                       // SC.D to an address outside the reservation set fails
        la      a1, mem64
        la      a4, far64
        li      a2, 77
        sd      a2, 0(a4)
        lr.d    a0, (a1)
        li      a2, 99
        sc.d    a3, a2, (a4)
        snez    a3, a3
        CHECK   a3, 1
        ld      a0, 0(a4)
        CHECK   a0, 77

        TEST_CASE                       // ... and that failed SC also ended the reservation
        sc.d    a3, a2, (a1)
        snez    a3, a3
        CHECK   a3, 1
        ld      a0, 0(a1)
        CHECK   a0, 0x8000000000000002

        TEST_CASE                       // aq/rl forms, rd == rs2 for SC
        la      a1, mem64
        lr.d.aq a0, (a1)
        li      a2, 0x55
        sc.d.rl a2, a2, (a1)
        CHECK   a2, 0
        ld      a0, 0(a1)
        CHECK   a0, 0x55
        lr.w.aqrl a0, (a1)
        CHECK   a0, 0x55
        li      a2, -7
        sc.w.aqrl a3, a2, (a1)
        CHECK   a3, 0
        ld      a0, 0(a1)
        CHECK   a0, 0x00000000fffffff9

        TEST_CASE                       // a classic LR/SC increment loop
        la      a1, mem64
        sd      zero, 0(a1)
        li      a4, 10
1:      lr.d    a0, (a1)
        addi    a0, a0, 3
        sc.d    a3, a0, (a1)
        bnez    a3, 1b
        addi    a4, a4, -1
        bnez    a4, 1b
        ld      a0, 0(a1)
        CHECK   a0, 30

        TEST_CASE                       // newest LR wins: SC to the first address fails
        la      a1, mem64
        la      a4, far64
        lr.d    a0, (a1)
        lr.d    a0, (a4)
        li      a2, 1234
        sc.d    a3, a2, (a1)
        snez    a3, a3
        CHECK   a3, 1
        sc.d    a3, a2, (a4)            // reservation was consumed by the SC above
        snez    a3, a3
        CHECK   a3, 1
        PASS

        .data
        .balign 16
mem64:  .dword  0, 0
        .balign 4096
        .skip   2048
far64:  .dword  0
