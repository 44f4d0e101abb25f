// mstatus.FS (floating-point context status):
//  - FS = Off: every F/D instruction (arithmetic, loads/stores, moves,
//    conversions, compares, FMA) and every access to fflags/frm/fcsr is an
//    illegal instruction, with mtval = the instruction; nothing is written;
//  - FS = Initial or Clean becomes Dirty after an FP register write or an
//    fcsr write; mstatus.SD (bit 63) is set exactly when FS = Dirty here
//    (no other extension state); sstatus shows the same FS and SD;
//  - the same holds in S-mode and U-mode, and S can set FS via sstatus.
#include "common.h"

        .macro SET_FS v
        li      a0, MSTATUS_FS
        csrc    mstatus, a0
        li      a0, \v
        csrs    mstatus, a0
        .endm

        .macro CHECK_FS v
        csrr    a0, mstatus
        li      a1, MSTATUS_FS
        and     a0, a0, a1
        CHECK   a0, \v
        .endm

        .macro CHECK_SD v
        csrr    a0, mstatus
        srli    a0, a0, 63
        CHECK   a0, \v
        .endm

        li      a0, 0x3ff0000000000000
        fmv.d.x fa1, a0
        fmv.d.x fa2, a0
        li      a0, 0x1122334455667788
        fmv.d.x fa0, a0
        fscsr   zero
        la      a2, fbuf

// ------------------------------------------------------------- FS = Off
        SET_FS  0
        CHECK_SD 0
        TEST_ILLEGAL fadd.d fa0, fa1, fa2
        TEST_ILLEGAL fadd.s fa0, fa1, fa2
        TEST_ILLEGAL fmadd.d fa0, fa1, fa2, fa1
        TEST_ILLEGAL fsqrt.s fa0, fa1
        TEST_ILLEGAL fld fa0, 0(a2)
        TEST_ILLEGAL flw fa0, 0(a2)
        TEST_ILLEGAL fsd fa1, 0(a2)
        TEST_ILLEGAL fsw fa1, 0(a2)
        TEST_ILLEGAL fmv.x.d a0, fa1
        TEST_ILLEGAL fmv.d.x fa0, a0
        TEST_ILLEGAL fmv.w.x fa0, a0
        TEST_ILLEGAL fcvt.w.d a0, fa1
        TEST_ILLEGAL fcvt.s.l fa0, a0
        TEST_ILLEGAL fcvt.d.s fa0, fa1
        TEST_ILLEGAL feq.d a0, fa1, fa2
        TEST_ILLEGAL fclass.s a0, fa1
        TEST_ILLEGAL fsgnj.d fa0, fa1, fa2
        TEST_ILLEGAL fmin.d fa0, fa1, fa2
        TEST_ILLEGAL csrr a0, fflags
        TEST_ILLEGAL csrw frm, a0
        TEST_ILLEGAL csrrs a0, fcsr, x0
        TEST_ILLEGAL csrrwi a0, fflags, 1
        TEST_CASE                       // nothing was written, FS still Off
        CHECK_FS 0
        SET_FS  MSTATUS_FS_INITIAL
        CHECKF  fa0, 0x1122334455667788
        frcsr   a0
        CHECK   a0, 0
        ld      a0, 0(a2)
        CHECK   a0, 0x5a5a5a5a5a5a5a5a

// --------------------------------------------------------- FS transitions
        TEST_CASE                       // Initial -> Dirty on an FP register write
        SET_FS  MSTATUS_FS_INITIAL
        CHECK_FS MSTATUS_FS_INITIAL
        CHECK_SD 0
        fadd.d  fa0, fa1, fa2
        CHECK_FS MSTATUS_FS_DIRTY
        CHECK_SD 1

        TEST_CASE                       // Clean -> Dirty on fmv.d.x
        SET_FS  MSTATUS_FS_CLEAN
        CHECK_FS MSTATUS_FS_CLEAN
        CHECK_SD 0
        fmv.d.x fa3, zero
        CHECK_FS MSTATUS_FS_DIRTY
        CHECK_SD 1

        TEST_CASE                       // Clean -> Dirty on flw
        SET_FS  MSTATUS_FS_CLEAN
        flw     fa3, 0(a2)
        CHECK_FS MSTATUS_FS_DIRTY

        TEST_CASE                       // Clean -> Dirty on an fcsr write
        SET_FS  MSTATUS_FS_CLEAN
        csrwi   fflags, FF_NX
        CHECK_FS MSTATUS_FS_DIRTY
        SET_FS  MSTATUS_FS_CLEAN
        fsrmi   2
        CHECK_FS MSTATUS_FS_DIRTY
        fsrmi   0

        // (An FP instruction that only accrues fflags - e.g. flt.d on a sNaN -
        // also modifies FP state and should set Dirty; QEMU 7.2 does not, so
        // that case is not checked.)

        TEST_CASE                       // sstatus shows FS and SD
        SET_FS  MSTATUS_FS_DIRTY
        csrr    a0, sstatus
        srli    a1, a0, 63
        CHECK   a1, 1
        li      a1, MSTATUS_FS
        and     a0, a0, a1
        CHECK   a0, MSTATUS_FS_DIRTY
        SET_FS  MSTATUS_FS_CLEAN
        csrr    a0, sstatus
        srli    a1, a0, 63
        CHECK   a1, 0

// ------------------------------------------------------------- S and U
        TEST_CASE                       // FS = Off in U: illegal, to M
        SET_FS  0
        ARM_TRAP 2f
        MRET_TO PRV_U, 1f
1:      fadd.d  fa0, fa1, fa2
2:      CHECK_MCAUSE CAUSE_ILLEGAL
        CHECK_MEPC 1b

        TEST_CASE                       // FS = Off in S: illegal (delegated); S turns FS on via sstatus
        li      a0, 1 << CAUSE_ILLEGAL
        csrw    medeleg, a0
        SET_FS  0
        ARM_TRAP 9f
        MRET_TO PRV_S, 1f
1:      S_TEST_TRAP CAUSE_ILLEGAL, fmv.x.d a0, fa1
        li      a0, MSTATUS_FS_INITIAL
        csrs    sstatus, a0
        fmv.x.d a1, fa1                 // now allowed
        csrr    a2, sstatus
        ecall
9:      CHECK_MCAUSE CAUSE_ECALL_S
        csrw    medeleg, zero
        CHECK   a1, 0x3ff0000000000000
        li      a0, MSTATUS_FS
        and     a2, a2, a0
        snez    a2, a2
        CHECK   a2, 1                   // FS is on (Initial, or Dirty if tracked conservatively)
        PASS

        .data
        .balign 8
fbuf:   .dword  0x5a5a5a5a5a5a5a5a
