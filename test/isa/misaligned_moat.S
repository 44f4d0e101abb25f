// Misaligned ordinary loads and stores performed in hardware.
//
// The privileged spec lets an implementation either perform misaligned
// loads/stores or raise an address-misaligned (or access-fault) exception,
// so this is NOT spec-mandated behaviour: it checks moat's choice (moat does
// them in hardware).  The test table marks it moatOnly, so it is not run
// under the QEMU oracle by default.  (QEMU 7.2 happens to do them in
// hardware too and passes it, which was used to validate the values.)
//
// Covers every integer width with sign/zero extension, FP loads/stores
// (FLW NaN-boxes), offsets crossing 8-byte boundaries and a 4 KiB page
// boundary, compressed loads/stores with an odd base, and stores that only
// touch the addressed bytes.
#include "common.h"

// buf holds bytes 0x00, 0x81, 0x02, 0x83, ... (i | (i & 1) << 7) for i < 64,
// rebuilt before every case.
        .macro FILL
        la      a1, buf
        li      a2, 0
        li      a4, 64
8881:   andi    a3, a2, 1
        slli    a3, a3, 7
        or      a3, a3, a2
        add     a5, a1, a2
        sb      a3, 0(a5)
        addi    a2, a2, 1
        bne     a2, a4, 8881b
        .endm

        .macro TEST_MLD op, off, exp
        TEST_CASE
        FILL
        \op     a0, \off(a1)
        CHECK   a0, \exp
        .endm

        TEST_MLD lh,  1, 0x0000000000000281
        TEST_MLD lh,  3, 0x0000000000000483
        TEST_MLD lh,  2, 0xffffffffffff8302         // aligned control
        TEST_MLD lh,  7, 0x0000000000000887         // crosses 8 bytes
        TEST_MLD lhu, 5, 0x0000000000000685
        TEST_MLD lh,  0x1f, 0x000000000000209f
        TEST_MLD lw,  1, 0x0000000004830281
        TEST_MLD lw,  2, 0xffffffff85048302
        TEST_MLD lw,  6, 0xffffffff89088706
        TEST_MLD lwu, 3, 0x0000000006850483
        TEST_MLD lw,  7, 0x000000000a890887
        TEST_MLD lw,  0x3b, 0x000000003ebd3cbb
        TEST_MLD lwu, 0x39, 0x000000003cbb3ab9
        TEST_MLD ld,  1, 0x0887068504830281
        TEST_MLD ld,  4, 0x8b0a890887068504
        TEST_MLD ld,  7, 0x0e8d0c8b0a890887
        TEST_MLD ld,  0x37, 0x3ebd3cbb3ab938b7

        TEST_CASE                       // stores touch only the addressed bytes
        FILL
        li      a2, 0x1122
        sh      a2, 3(a1)
        ld      a0, 0(a1)
        CHECK   a0, 0x8706851122028100
        FILL
        li      a2, 0x11223344
        sw      a2, 5(a1)
        ld      a0, 0(a1)
        CHECK   a0, 0x2233440483028100
        ld      a0, 8(a1)
        CHECK   a0, 0x8f0e8d0c8b0a8911
        FILL
        li      a2, 0x0102030405060708
        sd      a2, 9(a1)
        ld      a0, 8(a1)
        CHECK   a0, 0x0203040506070808
        ld      a0, 16(a1)
        CHECK   a0, 0x9716951493129101
        sd      a2, 0x13(a1)
        ld      a0, 16(a1)
        CHECK   a0, 0x0405060708129101
        ld      a0, 24(a1)
        CHECK   a0, 0x9f1e9d1c9b010203

        TEST_CASE                       // FP: flw boxes, fld/fsd/fsw
        FILL
        flw     fa0, 1(a1)
        CHECKF  fa0, 0xffffffff04830281
        fld     fa1, 3(a1)
        CHECKF  fa1, 0x0a89088706850483
        fsd     fa1, 0x21(a1)
        ld      a0, 0x20(a1)
        CHECK   a0, 0x8908870685048320
        fsw     fa0, 0x2a(a1)
        lwu     a0, 0x2a(a1)
        CHECK   a0, 0x04830281

        TEST_CASE                       // across a 4 KiB page boundary
        la      a1, pagebuf + 4096 - 3
        li      a2, 0x8877665544332211
        sd      a2, 0(a1)
        ld      a0, 0(a1)
        CHECK   a0, 0x8877665544332211
        la      a3, pagebuf + 4096
        lbu     a0, 0(a3)
        CHECK   a0, 0x44
        lbu     a0, -1(a3)
        CHECK   a0, 0x33
        lw      a0, -2(a3)
        CHECK   a0, 0x55443322
        lh      a0, -1(a3)
        CHECK   a0, 0x4433

        TEST_CASE                       // compressed forms with an odd base
        FILL
        addi    s0, a1, 1
        .option push
        .option rvc
        c.lw    a0, 4(s0)
        c.ld    a2, 8(s0)
        .option pop
        CHECK   a0, 0x0000000008870685
        CHECK   a2, 0x108f0e8d0c8b0a89
        PASS

        .data
        .balign 64
buf:    .skip   64
        .bss
        .balign 4096
pagebuf: .skip  8192
