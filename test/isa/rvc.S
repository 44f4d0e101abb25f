// RV64C: every compressed instruction of RV64GC, each checked against a
// known value and (where the expansion is a plain computation) against its
// 32-bit expansion run on the same inputs.
// The CX macro fails the build if the instruction did not assemble to 16
// bits.  Also: c.jalr/c.jr link pc+2, branches to 2-byte aligned targets,
// HINT encodings execute as no-ops, the all-zero halfword is illegal and a
// compressed FP instruction with mstatus.FS = Off traps with the 16-bit
// instruction in mtval, c.ebreak raises a breakpoint.
#include "common.h"

// Emit one instruction that must be 16 bits long.
        .macro CX insn:vararg
        .option push
        .option rvc
8811:   \insn
8812:
        .option pop
        .if (8812b - 8811b) != 2
        .error "not a compressed instruction"
        .endif
        .endm

// Same for branches and jumps, whose size the assembler fixes only at the
// end of the section (an explicit c.* mnemonic never becomes 32 bits).
        .macro CXB insn:vararg
        .option push
        .option rvc
        \insn
        .option pop
        .endm

// Compare register \a (compressed result) with \b (expanded result) and the
// constant \exp.
        .macro SAME a, b, exp
        CHECKR  \a, \b
        CHECK   \a, \exp
        .endm

// ------------------------------------------------ quadrant 1: integer ops
        TEST_CASE                       // c.li: 6-bit sign-extended immediate
        CX      c.li a0, -32
        addi    a1, zero, -32
        SAME    a0, a1, -32
        CX      c.li s1, 31
        addi    a1, zero, 31
        SAME    s1, a1, 31
        CX      c.li t6, 0
        SAME    t6, zero, 0

        TEST_CASE                       // c.lui: nzimm[17:12], sign-extended from bit 17
        CX      c.lui a0, 0xfffe0
        lui     a1, 0xfffe0
        SAME    a0, a1, 0xfffffffffffe0000
        CX      c.lui s0, 0x1f
        lui     a1, 0x1f
        SAME    s0, a1, 0x1f000
        CX      c.lui t3, 1
        lui     a1, 1
        SAME    t3, a1, 0x1000

        TEST_CASE                       // c.addi
        li      a0, 100
        mv      a1, a0
        CX      c.addi a0, -32
        addi    a1, a1, -32
        SAME    a0, a1, 68
        li      t5, 0xffffffffffffffff
        mv      a1, t5
        CX      c.addi t5, 31
        addi    a1, a1, 31
        SAME    t5, a1, 30
        li      a0, 0x7fffffffffffffff
        CX      c.addi a0, 1
        CHECK   a0, 0x8000000000000000

        TEST_CASE                       // c.addiw: 32-bit add, sign-extend
        li      a0, 0x7fffffff
        mv      a1, a0
        CX      c.addiw a0, 1
        addiw   a1, a1, 1
        SAME    a0, a1, 0xffffffff80000000
        li      s1, 0x12345678ffffffff
        mv      a1, s1
        CX      c.addiw s1, 0           // sext.w
        addiw   a1, a1, 0
        SAME    s1, a1, -1
        li      t4, 0x100000000
        CX      c.addiw t4, -1
        CHECK   t4, -1

        TEST_CASE                       // c.addi16sp: sp += nzimm*16 (-512..496)
        la      sp, cbuf + 1024
        mv      a1, sp
        CX      c.addi16sp sp, -512
        addi    a1, a1, -512
        CHECKR  sp, a1
        CX      c.addi16sp sp, 496
        addi    a1, a1, 496
        CHECKR  sp, a1
        la      a2, cbuf + 1024 - 16
        CHECKR  sp, a2

        TEST_CASE                       // c.addi4spn: rd' = sp + nzuimm (4..1020)
        la      sp, cbuf
        CX      c.addi4spn a0, sp, 1020
        addi    a1, sp, 1020
        CHECKR  a0, a1
        CX      c.addi4spn s0, sp, 4
        addi    a1, sp, 4
        CHECKR  s0, a1

        TEST_CASE                       // c.slli / c.srli / c.srai, 6-bit shamt
        li      a0, 0x8000000000000001
        mv      a1, a0
        CX      c.slli a0, 63
        slli    a1, a1, 63
        SAME    a0, a1, 0x8000000000000000
        li      t0, 0x123456789abcdef0
        CX      c.slli t0, 4
        CHECK   t0, 0x23456789abcdef00
        li      a2, 0x8000000000000000
        mv      a1, a2
        CX      c.srli a2, 63
        srli    a1, a1, 63
        SAME    a2, a1, 1
        li      a3, 0x8000000000000000
        CX      c.srli a3, 32
        CHECK   a3, 0x80000000
        li      a4, 0x8000000000000000
        mv      a1, a4
        CX      c.srai a4, 63
        srai    a1, a1, 63
        SAME    a4, a1, -1
        li      a5, 0x8000000000000000
        CX      c.srai a5, 1
        CHECK   a5, 0xc000000000000000
        li      s0, 0x7000000000000000
        CX      c.srai s0, 60
        CHECK   s0, 7

        TEST_CASE                       // c.andi: sign-extended 6-bit immediate
        li      a0, 0x123456789abcdef7
        mv      a1, a0
        CX      c.andi a0, -8
        andi    a1, a1, -8
        SAME    a0, a1, 0x123456789abcdef0
        li      s1, 0x123456789abcdef7
        CX      c.andi s1, 31
        CHECK   s1, 0x17

        TEST_CASE                       // c.mv / c.add (full register set)
        li      t6, 0x0123456789abcdef
        CX      c.mv ra, t6
        addi    a3, t6, 0
        SAME    ra, a3, 0x0123456789abcdef
        li      t1, 0x1000000000000001
        CX      c.add ra, t1
        add     a1, t6, t1
        SAME    ra, a1, 0x1123456789abcdf0
        li      a0, 0xffffffffffffffff
        CX      c.add a0, a0
        CHECK   a0, 0xfffffffffffffffe

        TEST_CASE                       // c.sub / c.xor / c.or / c.and
        li      a0, 10
        li      a1, 25
        CX      c.sub a0, a1
        li      a2, 10
        sub     a2, a2, a1
        SAME    a0, a2, -15
        li      a2, 0xff00ff00ff00ff00
        li      a3, 0x0ff00ff00ff00ff0
        mv      a4, a2
        CX      c.xor a4, a3
        xor     a5, a2, a3
        SAME    a4, a5, 0xf0f0f0f0f0f0f0f0
        mv      a4, a2
        CX      c.or a4, a3
        or      a5, a2, a3
        SAME    a4, a5, 0xfff0fff0fff0fff0
        mv      a4, a2
        CX      c.and a4, a3
        and     a5, a2, a3
        SAME    a4, a5, 0x0f000f000f000f00

        TEST_CASE                       // c.subw / c.addw
        li      s0, 0x80000000
        li      s1, 1
        CX      c.subw s0, s1
        li      a2, 0x80000000
        subw    a2, a2, s1
        SAME    s0, a2, 0x7fffffff
        li      s0, 0
        CX      c.subw s0, s1
        CHECK   s0, -1
        li      a0, 0x7fffffff
        li      a1, 1
        CX      c.addw a0, a1
        CHECK   a0, 0xffffffff80000000
        li      a0, 0x12345678ffffffff
        li      a1, 0x0000000100000001
        mv      a2, a0
        CX      c.addw a0, a1
        addw    a2, a2, a1
        SAME    a0, a2, 0

// ------------------------------------------------ control transfer
        TEST_CASE                       // c.j forward and backward
        li      a0, 0
        CXB     c.j 2f
1:      addi    a0, a0, 1
        CXB     c.j 3f
2:      CXB     c.j 1b
        FAIL_HERE
3:      CHECK   a0, 1

        TEST_CASE                       // c.beqz / c.bnez, both directions, 64-bit compare
        li      s0, 0
        li      s1, 0x100000000         // zero in the low 32 bits only
        li      a0, 0
        CXB     c.beqz s1, 8f           // not taken
        CXB     c.bnez s0, 8f           // not taken
        CXB     c.beqz s0, 2f           // taken forward
        j       8f
1:      addi    a0, a0, 1
        CXB     c.bnez s1, 3f           // taken forward
        j       8f
2:      CXB     c.bnez s1, 1b           // taken backward
8:      FAIL_HERE
3:      CHECK   a0, 1
        li      a1, 2
4:      addi    a1, a1, -1
        CXB     c.beqz a1, 5f
        CXB     c.j 4b
5:      CHECK   a1, 0

        TEST_CASE                       // c.jalr links pc + 2
        la      t0, 2f
1:      CX      c.jalr t0
        FAIL_HERE
2:      la      a1, 1b + 2
        CHECKR  ra, a1
        TEST_CASE                       // c.jr does not link, target bit 0 cleared
        la      a5, 2f + 1
        li      ra, 77
        CX      c.jr a5
        FAIL_HERE
2:      CHECK   ra, 77

        TEST_CASE                       // targets that are only 2-byte aligned
        la      a0, 2f
        andi    a1, a0, 3
        CHECK   a1, 2
        li      a2, 0
        jalr    ra, 0(a0)               // 32-bit jalr to a halfword boundary
        CHECK   a2, 5
        j       3f
        .balign 4
        CX      c.nop
2:      CX      c.li a2, 5              // at 4n + 2
        CX      c.jr ra
3:
        TEST_CASE                       // a 32-bit instruction at a 4n+2 address
        .balign 4
        CX      c.nop
        li      a0, 0x12345
        addi    a0, a0, 1
        CHECK   a0, 0x12346

// ------------------------------------------------ loads and stores
        TEST_CASE                       // c.lw (sign-extends) / c.ld / c.sw / c.sd
        la      s0, cbuf
        li      a1, 0x80000000fedcba98
        sd      a1, 0(s0)
        li      a1, 0x1122334455667788
        sd      a1, 248(s0)
        CX      c.lw a0, 0(s0)
        lw      a1, 0(s0)
        SAME    a0, a1, 0xfffffffffedcba98
        CX      c.lw a0, 4(s0)
        CHECK   a0, 0xffffffff80000000
        CX      c.ld a2, 248(s0)
        ld      a1, 248(s0)
        SAME    a2, a1, 0x1122334455667788
        CX      c.lw a3, 124(s0)
        lw      a1, 124(s0)
        CHECKR  a3, a1
        li      a4, 0x0123456789abcdef
        CX      c.sw a4, 124(s0)
        lwu     a1, 124(s0)
        CHECK   a1, 0x89abcdef
        CX      c.sd a4, 240(s0)
        ld      a1, 240(s0)
        CHECK   a1, 0x0123456789abcdef
        CX      c.sw a4, 8(s0)
        ld      a1, 8(s0)
        CHECK   a1, 0x0000000089abcdef

        TEST_CASE                       // c.fld / c.fsd
        la      a5, cbuf
        li      a1, 0x7ff0000000000001  // sNaN: loads/stores keep it
        sd      a1, 16(a5)
        CX      c.fld fa0, 16(a5)
        fmv.x.d a0, fa0
        CHECK   a0, 0x7ff0000000000001
        CX      c.fsd fa0, 248(a5)
        ld      a0, 248(a5)
        CHECK   a0, 0x7ff0000000000001
        li      a1, 0x400921fb54442d18
        fmv.d.x fs1, a1
        CX      c.fsd fs1, 0(a5)
        CX      c.fld fs0, 0(a5)
        fmv.x.d a0, fs0
        CHECK   a0, 0x400921fb54442d18

        TEST_CASE                       // sp-relative: c.lwsp/c.ldsp/c.swsp/c.sdsp/c.fldsp/c.fsdsp
        la      sp, cbuf
        li      a1, 0xa5a5a5a5deadbeef
        CX      c.sdsp a1, 504(sp)
        ld      a0, 504(sp)
        CHECK   a0, 0xa5a5a5a5deadbeef
        CX      c.ldsp t2, 504(sp)
        CHECK   t2, 0xa5a5a5a5deadbeef
        sd      a1, 248(sp)
        CX      c.lwsp ra, 248(sp)
        CHECK   ra, 0xffffffffdeadbeef
        CX      c.lwsp t0, 252(sp)
        CHECK   t0, 0xffffffffa5a5a5a5
        li      a1, 0x1234567876543210
        CX      c.swsp a1, 252(sp)
        lwu     a0, 252(sp)
        CHECK   a0, 0x76543210
        CX      c.lwsp s11, 252(sp)     // any rd, even s11
        mv      s10, s11
        CHECK   s10, 0x76543210
        li      a1, 0x3ff8000000000000
        fmv.d.x ft7, a1
        CX      c.fsdsp ft7, 256(sp)
        ld      a0, 256(sp)
        CHECK   a0, 0x3ff8000000000000
        CX      c.fldsp ft11, 256(sp)
        fmv.x.d a0, ft11
        CHECK   a0, 0x3ff8000000000000
        CX      c.sdsp zero, 0(sp)
        ld      a0, 0(sp)
        CHECK   a0, 0

// ------------------------------------------------ HINTs execute as no-ops
        TEST_CASE
        li      a0, 42
        li      a1, 43
        .option push
        .option rvc
        .half   0x0015                  // c.nop 5
        .half   0x4015                  // c.li x0, 5
        .half   0x802a                  // c.mv x0, a0
        .half   0x902a                  // c.add x0, a0
        .half   0x0006                  // c.slli x0, 1
        .half   0x0501                  // c.addi a0, 0
        .half   0x6005                  // c.lui x0, 1
        .option pop
        CHECK   a0, 42
        CHECK   a1, 43
        mv      a2, x0
        CHECK   a2, 0

// ------------------------------------------------ traps
        TEST_TRAP_TVAL CAUSE_ILLEGAL, 0, .half 0x0000     // defined illegal
        .balign 4
        TEST_CASE                       // c.ebreak: breakpoint, mepc = its address
        ARM_TRAP 2f
1:      CX      c.ebreak
        .balign 4
2:      DISARM_TRAP
        CHECK_MCAUSE CAUSE_BREAKPOINT
        CHECK_MEPC 1b

        TEST_CASE                       // FS = Off: c.fldsp is illegal, mtval = 16-bit encoding
        li      a1, MSTATUS_FS
        csrc    mstatus, a1
        la      sp, cbuf
        ARM_TRAP 2f
        CX      c.fldsp fa0, 8(sp)      // 001 0 01010 01000 10 = 0x2522
        .balign 4
2:      DISARM_TRAP
        li      a1, MSTATUS_FS_INITIAL
        csrs    mstatus, a1
        CHECK_MCAUSE CAUSE_ILLEGAL
        CHECK_MTVAL 0x2522
        PASS

        .bss
        .balign 16
cbuf:   .skip   2048
