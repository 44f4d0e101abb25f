// RV64M: MUL/MULH/MULHSU/MULHU/DIV/DIVU/REM/REMU and MULW/DIVW/DIVUW/REMW/
// REMUW, including division by zero (quotient all ones, remainder = dividend)
// and signed overflow (INT_MIN / -1 = INT_MIN, remainder 0).  The *W forms
// use only the low 32 bits of the operands and sign-extend the 32-bit result.
#include "common.h"

// --------------------------------------------------------------------- MUL
        TEST_RR mul, 21, 3, 7
        TEST_RR mul, -21, -3, 7
        TEST_RR mul, 21, -3, -7
        TEST_RR mul, 0xfffffffffffffffe, 0x7fffffffffffffff, 2
        TEST_RR mul, 0x8000000000000000, 0x8000000000000000, -1
        TEST_RR mul, 0, 0x100000000, 0x100000000
        TEST_RR mul, 1, -1, -1
        TEST_RR mul, 0x2236d88fe5618cf0, 0x123456789abcdef0, 0x0fedcba987654321
        TEST_RR mul, 0, 0x123456789abcdef0, 0
        TEST_RR_SAME mul, 0x0000000100000000, 0x10000

// high halves of the 128-bit product
        TEST_RR mulh,   0, -1, -1
        TEST_RR mulhu,  0xfffffffffffffffe, -1, -1
        TEST_RR mulhsu, 0xffffffffffffffff, -1, -1
        TEST_RR mulh,   0xffffffffffffffff, -1, 1
        TEST_RR mulhu,  0, -1, 1
        TEST_RR mulhsu, 0xffffffffffffffff, -1, 1
        TEST_RR mulhsu, 0, 1, -1
        TEST_RR mulh,   0x4000000000000000, 0x8000000000000000, 0x8000000000000000
        TEST_RR mulhu,  0x4000000000000000, 0x8000000000000000, 0x8000000000000000
        TEST_RR mulhsu, 0xc000000000000000, 0x8000000000000000, 0x8000000000000000
        TEST_RR mulh,   0x3fffffffffffffff, 0x7fffffffffffffff, 0x7fffffffffffffff
        TEST_RR mulhu,  0x3fffffffffffffff, 0x7fffffffffffffff, 0x7fffffffffffffff
        TEST_RR mulh,   0xc000000000000000, 0x8000000000000000, 0x7fffffffffffffff
        TEST_RR mulhu,  0x3fffffffffffffff, 0x8000000000000000, 0x7fffffffffffffff
        TEST_RR mulhsu, 0xc000000000000000, 0x8000000000000000, 0x7fffffffffffffff
        TEST_RR mulh,   0xffffffffffffffff, 2, 0x8000000000000000
        TEST_RR mulhu,  1, 2, 0x8000000000000000
        TEST_RR mulhsu, 1, 2, 0x8000000000000000
        TEST_RR mulh,   0x0121fa00ad77d742, 0x123456789abcdef0, 0x0fedcba987654321
        TEST_RR mulh,   0xfede05ff528828bd, 0xedcba98765432110, 0x0fedcba987654321
        TEST_RR mulhu,  0x0ecbd1a8d9ed6bde, 0xedcba98765432110, 0x0fedcba987654321
        TEST_RR mulhsu, 0xfede05ff528828bd, 0xedcba98765432110, 0x0fedcba987654321
        TEST_RR mulh,   0, -1, 0x8000000000000000
        TEST_RR mulhu,  0x7fffffffffffffff, -1, 0x8000000000000000
        TEST_RR mulhsu, 0xffffffffffffffff, -1, 0x8000000000000000
        TEST_RR mulhu,  1, 0x100000000, 0x100000000
        TEST_RR mulh,   0, 5, 0
        TEST_RR mulhsu, 0, 0, -1

// ------------------------------------------------------------ DIV / REM
        TEST_RR div, 3, 20, 6
        TEST_RR div, -3, -20, 6                 // rounds toward zero
        TEST_RR div, -3, 20, -6
        TEST_RR div, 3, -20, -6
        TEST_RR div, 0, 5, 7
        TEST_RR div, -1, 20, 0                  // divide by zero
        TEST_RR div, -1, 0, 0
        TEST_RR div, -1, 0x8000000000000000, 0
        TEST_RR div, 0x8000000000000000, 0x8000000000000000, -1    // overflow
        TEST_RR div, 0xc000000000000000, 0x8000000000000000, 2
        TEST_RR div, -0x7fffffffffffffff, 0x7fffffffffffffff, -1

        TEST_RR divu, 3, 20, 6
        TEST_RR divu, 0x2aaaaaaaaaaaaaa7, -20, 6
        TEST_RR divu, 0, 20, -6
        TEST_RR divu, 0xffffffffffffffff, 20, 0
        TEST_RR divu, 0xffffffffffffffff, 0, 0
        TEST_RR divu, 0, 0x8000000000000000, -1
        TEST_RR divu, 1, -1, -1
        TEST_RR divu, 0x4000000000000000, 0x8000000000000000, 2

        TEST_RR rem, 2, 20, 6
        TEST_RR rem, -2, -20, 6                 // sign of the dividend
        TEST_RR rem, 2, 20, -6
        TEST_RR rem, -2, -20, -6
        TEST_RR rem, 20, 20, 0                  // divide by zero: dividend
        TEST_RR rem, -20, -20, 0
        TEST_RR rem, 0x8000000000000000, 0x8000000000000000, 0
        TEST_RR rem, 0, 0x8000000000000000, -1  // overflow: 0
        TEST_RR rem, 0, 0, 5

        TEST_RR remu, 2, 20, 6
        TEST_RR remu, 2, -20, 6
        TEST_RR remu, 20, 20, -6
        TEST_RR remu, 20, 20, 0
        TEST_RR remu, -20, -20, 0
        TEST_RR remu, 0x8000000000000000, 0x8000000000000000, -1
        TEST_RR remu, 0, -1, -1

// ---------------------------------------------------------------- *W forms
        TEST_RR mulw, -2, 0x7fffffff, 2
        TEST_RR mulw, 15, 0x100000003, 5        // upper bits ignored
        TEST_RR mulw, 1, -1, -1
        TEST_RR mulw, 0, 0x10000, 0x10000
        TEST_RR mulw, 0xffffffff80000000, 0x8000, 0x10000
        TEST_RR mulw, 0x7fffffff, 0xffffffff7fffffff, 0x1234567800000001
        TEST_RR mulw, 0xffffffff9abcdef0, 0x123456789abcdef0, 1

        TEST_RR divw, 3, 20, 6
        TEST_RR divw, -3, -20, 6
        TEST_RR divw, -3, 20, -6
        TEST_RR divw, 0xffffffff80000000, 0x80000000, -1            // overflow
        TEST_RR divw, 0xffffffff80000000, 0xffffffff80000000, 0xffffffff
        TEST_RR divw, -1, 20, 0
        TEST_RR divw, -1, 20, 0x100000000       // divisor's low 32 bits are 0
        TEST_RR divw, 3, 0x100000014, 6
        TEST_RR divw, 0xffffffffc0000000, 0x80000000, 2

        TEST_RR divuw, 3, 20, 6
        TEST_RR divuw, 0x2aaaaaa7, -20, 6
        TEST_RR divuw, -1, 20, 0                // 0xffffffff, sign-extended
        TEST_RR divuw, 0xffffffff80000000, 0x80000000, 1           // result sign-extended
        TEST_RR divuw, 0, 0x80000000, -1
        TEST_RR divuw, 1, 0xffffffff, 0x7fffffffffffffff

        TEST_RR remw, 2, 20, 6
        TEST_RR remw, -2, -20, 6
        TEST_RR remw, 2, 20, -6
        TEST_RR remw, 0, 0x80000000, -1         // overflow
        TEST_RR remw, 0xffffffff80000000, 0x180000000, 0           // divide by zero: sext(dividend)
        TEST_RR remw, 20, 20, 0x100000000
        TEST_RR remw, 2, 0x100000014, 6

        TEST_RR remuw, 2, 20, 6
        TEST_RR remuw, 2, -20, 6
        TEST_RR remuw, 0xffffffff80000001, 0xffffffff80000001, 0   // sext(dividend)
        TEST_RR remuw, 0xffffffff80000000, 0x80000000, -1
        TEST_RR remuw, 0, 0xffffffff, 0xffffffff
        TEST_RR remuw, 20, 20, 0x100000000

// x0 destination and rd == rs1 == rs2
        TEST_CASE
        li      a1, 7
        mul     x0, a1, a1
        div     x0, a1, a1
        mv      a0, x0
        CHECK   a0, 0
        TEST_RR_SAME div, 1, -7
        TEST_RR_SAME rem, 0, -7
        TEST_RR_SAME mulhu, 0, 0xffffffff
        TEST_RR_SAME mulw, 0x40000000, 0x8000
        PASS
