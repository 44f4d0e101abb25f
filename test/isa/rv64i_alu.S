// RV64I integer computational instructions: register-register, register-
// immediate, shifts, the *W forms (32-bit result sign-extended to 64), LUI,
// AUIPC and writes to x0.
#include "common.h"

// ----------------------------------------------------------------- ADD/SUB
        TEST_RR add, 0, 0, 0
        TEST_RR add, 2, 1, 1
        TEST_RR add, 10, 3, 7
        TEST_RR add, 0, -1, 1
        TEST_RR add, 0x8000000000000000, 0x7fffffffffffffff, 1
        TEST_RR add, 0x7fffffffffffffff, 0x8000000000000000, -1
        TEST_RR add, 0x100000000, 0xffffffff, 1
        TEST_RR add, 0xfffffffffffffffe, -1, -1
        TEST_RR_SAME add, 0x2468acf13579bde0, 0x123456789abcdef0

        TEST_RR sub, 0, 0, 0
        TEST_RR sub, 0, 1, 1
        TEST_RR sub, -4, 3, 7
        TEST_RR sub, 0x7fffffffffffffff, 0x8000000000000000, 1
        TEST_RR sub, -1, 0, 1
        TEST_RR sub, 0x8000000000000000, 0, 0x8000000000000000
        TEST_RR sub, 0xffffffff00000000, 0, 0x100000000
        TEST_RR_SAME sub, 0, 0x123456789abcdef0

// ------------------------------------------------------------ logical ops
        TEST_RR and, 0x0f000f000f000f00, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0
        TEST_RR and, 0, 0xaaaaaaaaaaaaaaaa, 0x5555555555555555
        TEST_RR and, 0x123456789abcdef0, 0x123456789abcdef0, -1
        TEST_RR or,  0xfff0fff0fff0fff0, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0
        TEST_RR or,  -1, 0xaaaaaaaaaaaaaaaa, 0x5555555555555555
        TEST_RR or,  0x123456789abcdef0, 0x123456789abcdef0, 0
        TEST_RR xor, 0xf0f0f0f0f0f0f0f0, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0
        TEST_RR xor, 0xedcba9876543210f, 0x123456789abcdef0, -1
        TEST_RR_SAME xor, 0, 0x123456789abcdef0
        TEST_RR_SAME or, 0x123456789abcdef0, 0x123456789abcdef0

// ---------------------------------------------------------------- compares
        TEST_RR slt,  1, -1, 1
        TEST_RR sltu, 0, -1, 1
        TEST_RR slt,  0, 1, -1
        TEST_RR sltu, 1, 1, -1
        TEST_RR slt,  0, 5, 5
        TEST_RR sltu, 0, 5, 5
        TEST_RR slt,  1, 0x8000000000000000, 0x7fffffffffffffff
        TEST_RR sltu, 0, 0x8000000000000000, 0x7fffffffffffffff
        TEST_RR slt,  1, 0x7ffffffffffffffe, 0x7fffffffffffffff
        TEST_RR sltu, 1, 0, 1
        TEST_RR sltu, 0, 0, 0
        TEST_RR slt,  1, 0xffffffff00000000, 0
        TEST_RR sltu, 1, 0xffffffff, 0x100000000

// ------------------------------------------------------------------ shifts
        TEST_RR sll, 0x8000000000000000, 1, 63
        TEST_RR sll, 1, 1, 64                   // only shamt[5:0] is used
        TEST_RR sll, 0xfffffffffffffff0, -1, 4
        TEST_RR sll, 2, 1, 0xffffffffffffffc1
        TEST_RR sll, 0x0000000100000000, 1, 32
        TEST_RR sll, 0x123456789abcdef0, 0x123456789abcdef0, 0
        TEST_RR srl, 1, 0x8000000000000000, 63
        TEST_RR srl, 0x7fffffffffffffff, -1, 1
        TEST_RR srl, -1, -1, 64
        TEST_RR srl, 0x00000000ffffffff, -1, 32
        TEST_RR srl, 0x0123456789abcdef, 0x123456789abcdef0, 0xfffffffffffffc04
        TEST_RR sra, -1, 0x8000000000000000, 63
        TEST_RR sra, 0xc000000000000000, 0x8000000000000000, 1
        TEST_RR sra, 1, 0x7fffffffffffffff, 62
        TEST_RR sra, 0xffffffff80000000, 0x8000000000000000, 32
        TEST_RR sra, 0x8000000000000000, 0x8000000000000000, 64
        TEST_RR sra, 0xf923456789abcdef, 0x923456789abcdef0, 0xfffffffffffffc04
        TEST_RR sra, 0x0123456789abcdef, 0x123456789abcdef0, 4

// ------------------------------------------------------- immediate forms
        TEST_RI addi, 0x7ff, 0, 0x7ff
        TEST_RI addi, -2048, 0, -0x800
        TEST_RI addi, 0x8000000000000000, 0x7fffffffffffffff, 1
        TEST_RI addi, -2, -1, -1
        TEST_RI addi, 0x100000000, 0xffffffff, 1
        TEST_RI addi, 0x123456789abcdef0, 0x123456789abcdef0, 0
        TEST_RI slti, 1, -1, 0
        TEST_RI slti, 0, 0, -1
        TEST_RI slti, 1, 0x8000000000000000, -2048
        TEST_RI slti, 0, 0x7ff, 0x7ff
        TEST_RI slti, 1, 0x7fe, 0x7ff
        TEST_RI sltiu, 1, 0, -1                 // imm is sign-extended, then unsigned compare
        TEST_RI sltiu, 0, -1, -1
        TEST_RI sltiu, 1, -2, -1
        TEST_RI sltiu, 1, 0, 1                  // seqz
        TEST_RI sltiu, 0, 5, 1
        TEST_RI sltiu, 0, 0x800, 0x7ff
        TEST_RI andi, 0x123456789abcdef0, 0x123456789abcdef0, -16
        TEST_RI andi, 0x7ff, -1, 0x7ff
        TEST_RI andi, 0xfffffffffffff800, -1, -2048
        TEST_RI andi, 0, 0x123456789abcd000, 0x7ff
        TEST_RI ori, 0xfffffffffffff800, 0, -2048
        TEST_RI ori, 0x123456789abcd7ff, 0x123456789abcd000, 0x7ff
        TEST_RI ori, -1, 0x5555555555555555, -1
        TEST_RI xori, 0xffffffffffffff00, 0xff, -1
        TEST_RI xori, 0x123456789abcd8f0, 0x123456789abcdef0, 0x600
        TEST_RI xori, 0xedcba9876543230f, 0x123456789abcdef0, -0x400 + 0x1ff

        TEST_RI slli, 0x8000000000000000, 1, 63
        TEST_RI slli, 0xfffffffffffffff0, -1, 4
        TEST_RI slli, 0x9abcdef000000000, 0x123456789abcdef0, 32
        TEST_RI slli, 0x123456789abcdef0, 0x123456789abcdef0, 0
        TEST_RI srli, 1, 0x8000000000000000, 63
        TEST_RI srli, 0x7fffffffffffffff, -1, 1
        TEST_RI srli, 0x0000000012345678, 0x123456789abcdef0, 32
        TEST_RI srli, -1, -1, 0
        TEST_RI srai, -1, 0x8000000000000000, 63
        TEST_RI srai, 0xc000000000000000, 0x8000000000000000, 1
        TEST_RI srai, 0xffffffff92345678, 0x923456789abcdef0, 32
        TEST_RI srai, 0x0000000012345678, 0x123456789abcdef0, 32
        TEST_RI srai, 0, 0x7fffffffffffffff, 63

// ------------------------------------------------------------- *W forms
        TEST_RR addw, 0xffffffff80000000, 0x7fffffff, 1
        TEST_RR addw, 0, 0xffffffff, 1
        TEST_RR addw, 0x23456789, 0x123456789, 0
        TEST_RR addw, 0, 0x80000000, 0x80000000
        TEST_RR addw, -2, 0xffffffffffffffff, 0x00000000ffffffff
        TEST_RR addw, 0x7fffffff, 0xffffffff80000000, -1
        TEST_RR subw, -1, 0, 1
        TEST_RR subw, 0x7fffffff, 0x80000000, 1
        TEST_RR subw, -1, 0x100000000, 1
        TEST_RR subw, 0xffffffff80000000, 0, 0x80000000
        TEST_RR subw, 0, 0x1234567800000000, 0x8765432100000000
        TEST_RR sllw, 0xffffffff80000000, 1, 31
        TEST_RR sllw, 1, 1, 32                  // only shamt[4:0] is used
        TEST_RR sllw, 0x10, 0xffffffff00000001, 4
        TEST_RR sllw, 0xffffffffbcdef000, 0x123456789abcdef, 12
        TEST_RR srlw, 1, 0x80000000, 31
        TEST_RR srlw, 0xffffffff80000000, 0x80000000, 0
        TEST_RR srlw, 0x40000000, 0x80000000, 1
        TEST_RR srlw, 0x7fffffff, -1, 1
        TEST_RR srlw, 0x7fffffff, -1, 33
        TEST_RR srlw, 0xab, 0xffffffff0abcdef0, 0xfffffffffffffff4
        TEST_RR sraw, -1, 0x80000000, 31
        TEST_RR sraw, 0, 0x7fffffff, 31
        TEST_RR sraw, 0xfffffffff8000000, 0x80000000, 4
        TEST_RR sraw, 0, 0x100000000, 0
        TEST_RR sraw, 0x07ffffff, 0xffffffff7fffffff, 36
        TEST_RI addiw, 0xffffffff80000000, 0x7fffffff, 1
        TEST_RI addiw, -1, 0xffffffff, 0        // sext.w
        TEST_RI addiw, 0x23456000, 0x123456789, -0x789
        TEST_RI addiw, 0x7fffffff, 0x80000000, -1
        TEST_RI addiw, 0x7ff, 0xffffffff00000000, 0x7ff
        TEST_RI slliw, 0xffffffff80000000, 1, 31
        TEST_RI slliw, -1, 0xffffffff, 0
        TEST_RI slliw, 0xffffffff9abcdef0, 0x0123456789abcdef, 4
        TEST_RI srliw, 1, 0xffffffff80000000, 31
        TEST_RI srliw, -1, -1, 0
        TEST_RI srliw, 0x7fffffff, -1, 1
        TEST_RI srliw, 0x09abcdef, 0x123456789abcdef0, 4
        TEST_RI sraiw, -1, 0x80000000, 31
        TEST_RI sraiw, 0x7fffffff, 0xffffffff7fffffff, 0
        TEST_RI sraiw, 0xfffffffff9abcdef, 0x123456789abcdef0, 4
        TEST_RI sraiw, 0, 0x7fffffff00000000, 31

// -------------------------------------------------------------- LUI/AUIPC
        TEST_CASE
        lui     a0, 0x80000
        CHECK   a0, 0xffffffff80000000
        TEST_CASE
        lui     a0, 0x7ffff
        CHECK   a0, 0x7ffff000
        TEST_CASE
        lui     a0, 0xfffff
        CHECK   a0, 0xfffffffffffff000
        TEST_CASE
        li      a0, 55
        lui     a0, 0
        CHECK   a0, 0
        TEST_CASE
        lui     a0, 0x12345
        addi    a0, a0, 0x678
        CHECK   a0, 0x12345678

        TEST_CASE
1:      auipc   a0, 0
        la      a1, 1b
        CHECKR  a0, a1
        TEST_CASE
1:      auipc   a0, 1
        la      a1, 1b
        li      a2, 0x1000
        add     a1, a1, a2
        CHECKR  a0, a1
        TEST_CASE
1:      auipc   a0, 0xfffff             // pc - 0x1000
        la      a1, 1b
        li      a2, -0x1000
        add     a1, a1, a2
        CHECKR  a0, a1
        TEST_CASE
1:      auipc   a0, 0x80000             // pc + sext(0x80000000)
        la      a1, 1b
        li      a2, 0xffffffff80000000
        add     a1, a1, a2
        CHECKR  a0, a1

// ------------------------------------------------------------- writes to x0
        TEST_CASE
        li      a1, 5
        li      a2, 6
        add     x0, a1, a2
        addi    x0, x0, 7
        lui     x0, 0x12345
        auipc   x0, 1
        sllw    x0, a1, a2
        mv      a0, x0
        CHECK   a0, 0
        TEST_CASE
        li      a1, 0x7ff
        add     a0, x0, a1
        CHECK   a0, 0x7ff
        sub     a0, x0, a1
        CHECK   a0, -0x7ff
        nop
        PASS
