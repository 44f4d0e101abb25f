// RV64I loads and stores of every width: sign/zero extension, little-endian
// byte order, positive/negative/extreme 12-bit offsets, partial stores that
// leave neighbouring bytes alone, loads into x0, rd == rs1, FENCE forms.
#include "common.h"

// a1 = base, load \op at \off, expect \exp
        .macro TEST_LD op, exp, off
        TEST_CASE
        la      a1, mem
        \op     a0, \off(a1)
        CHECK   a0, \exp
        .endm

// Fill mem2 with all-ones, store \val with \op at \off, read back the two
// dwords.
        .macro TEST_ST op, val, off, exp0, exp1
        TEST_CASE
        la      a1, mem2
        li      a2, -1
        sd      a2, 0(a1)
        sd      a2, 8(a1)
        li      a2, \val
        \op     a2, \off(a1)
        ld      a0, 0(a1)
        CHECK   a0, \exp0
        ld      a0, 8(a1)
        CHECK   a0, \exp1
        .endm

// mem = 81 92 a3 b4 c5 d6 e7 f8  71 62 53 44 35 26 17 08
        TEST_LD lb,  0xffffffffffffff81, 0
        TEST_LD lb,  0xffffffffffffff92, 1
        TEST_LD lb,  0x71, 8
        TEST_LD lb,  0x08, 15
        TEST_LD lbu, 0x81, 0
        TEST_LD lbu, 0xf8, 7
        TEST_LD lbu, 0x71, 8
        TEST_LD lh,  0xffffffffffff9281, 0
        TEST_LD lh,  0xffffffffffffb4a3, 2
        TEST_LD lh,  0x6271, 8
        TEST_LD lh,  0x0817, 14
        TEST_LD lhu, 0x9281, 0
        TEST_LD lhu, 0xf8e7, 6
        TEST_LD lhu, 0x4453, 10
        TEST_LD lw,  0xffffffffb4a39281, 0
        TEST_LD lw,  0xfffffffff8e7d6c5, 4
        TEST_LD lw,  0x44536271, 8
        TEST_LD lw,  0x08172635, 12
        TEST_LD lwu, 0xb4a39281, 0
        TEST_LD lwu, 0xf8e7d6c5, 4
        TEST_LD lwu, 0x44536271, 8
        TEST_LD ld,  0xf8e7d6c5b4a39281, 0
        TEST_LD ld,  0x0817263544536271, 8

// negative offsets from a base past the data
        TEST_CASE
        la      a1, mem + 16
        lb      a0, -16(a1)
        CHECK   a0, 0xffffffffffffff81
        lhu     a0, -2(a1)
        CHECK   a0, 0x0817
        lw      a0, -8(a1)
        CHECK   a0, 0x44536271
        ld      a0, -16(a1)
        CHECK   a0, 0xf8e7d6c5b4a39281
        lwu     a0, -12(a1)
        CHECK   a0, 0xf8e7d6c5

// extreme offsets +2047 / -2048 on a 4 KiB buffer
        TEST_CASE
        la      a1, big
        li      a2, 0x5a
        sb      a2, 2047(a1)
        la      a3, big + 2047
        lbu     a0, 0(a3)
        CHECK   a0, 0x5a
        la      a1, big + 4096
        li      a2, 0x1122334455667788
        sd      a2, -2048(a1)
        la      a3, big + 2048
        ld      a0, 0(a3)
        CHECK   a0, 0x1122334455667788
        ld      a0, -2048(a1)
        CHECK   a0, 0x1122334455667788
        la      a1, big + 2048 + 2048
        lw      a0, -2048(a1)
        CHECK   a0, 0x55667788
        la      a1, big
        lbu     a0, 2047(a1)
        CHECK   a0, 0x5a

// stores: only the addressed bytes change, value truncated
        TEST_ST sb, 0x55, 3, 0xffffffff55ffffff, -1
        TEST_ST sb, 0x1234, 8, -1, 0xffffffffffffff34
        TEST_ST sb, 0, 15, -1, 0x00ffffffffffffff
        TEST_ST sh, 0xaabb, 2, 0xffffffffaabbffff, -1
        TEST_ST sh, 0x12345678, 14, -1, 0x5678ffffffffffff
        TEST_ST sh, 0, 0, 0xffffffffffff0000, -1
        TEST_ST sw, 0x12345678, 4, 0x12345678ffffffff, -1
        TEST_ST sw, 0x123456789abcdef0, 8, -1, 0xffffffff9abcdef0
        TEST_ST sw, 0, 0, 0xffffffff00000000, -1
        TEST_ST sd, 0x0102030405060708, 8, -1, 0x0102030405060708
        TEST_ST sd, 0, 0, 0, -1

// store little-endian, load back by pieces
        TEST_CASE
        la      a1, mem2
        li      a2, 0x8090a0b0c0d0e0f0
        sd      a2, 0(a1)
        lbu     a0, 0(a1)
        CHECK   a0, 0xf0
        lb      a0, 7(a1)
        CHECK   a0, 0xffffffffffffff80
        lh      a0, 4(a1)
        CHECK   a0, 0xffffffffffffa0b0
        lhu     a0, 6(a1)
        CHECK   a0, 0x8090
        lw      a0, 4(a1)
        CHECK   a0, 0xffffffff8090a0b0
        lwu     a0, 0(a1)
        CHECK   a0, 0xc0d0e0f0

// byte-by-byte stores assemble a dword
        TEST_CASE
        la      a1, mem2
        li      a2, 0x11
        sb      a2, 0(a1)
        li      a2, 0x22
        sb      a2, 1(a1)
        li      a2, 0x4433
        sh      a2, 2(a1)
        li      a2, 0x88776655
        sw      a2, 4(a1)
        ld      a0, 0(a1)
        CHECK   a0, 0x8877665544332211

// a load into x0 is performed but x0 stays zero
        TEST_CASE
        la      a1, mem
        ld      x0, 0(a1)
        lb      x0, 1(a1)
        lwu     x0, 4(a1)
        mv      a0, x0
        CHECK   a0, 0

// rd == rs1
        TEST_CASE
        la      a1, mem
        ld      a1, 8(a1)
        CHECK   a1, 0x0817263544536271
        TEST_CASE
        la      a1, mem
        lb      a1, 1(a1)
        CHECK   a1, 0xffffffffffffff92

// store of the base register itself
        TEST_CASE
        la      a1, mem2
        sd      a1, 0(a1)
        ld      a0, 0(a1)
        CHECKR  a0, a1
        sd      x0, 8(a1)
        ld      a0, 8(a1)
        CHECK   a0, 0

// fences are harmless in a single hart
        TEST_CASE
        la      a1, mem2
        li      a2, 77
        sd      a2, 0(a1)
        fence
        fence   rw, rw
        fence   r, w
        fence   iorw, iorw
        fence.tso
        .word   0x0100000f              // pause (fence w, 0): a HINT
        ld      a0, 0(a1)
        CHECK   a0, 77
        PASS

        .data
        .balign 16
mem:    .dword  0xf8e7d6c5b4a39281, 0x0817263544536271
mem2:   .dword  0, 0
        .bss
        .balign 16
big:    .skip   4096 + 16
