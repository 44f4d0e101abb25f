// F/D conversions and the floating-point CSRs:
//  - FCVT.{W,WU,L,LU}.{S,D} with each static rounding mode: rounding of
//    ties and of inexact values, out-of-range / inf / NaN results (NV) and
//    the sign extension of 32-bit results (also for WU);
//  - FCVT.{S,D}.{W,WU,L,LU} incl. inexact conversions and the upper bits of
//    rs1 being ignored by W/WU;
//  - FCVT.S.D rounding, overflow, underflow, NaN canonicalisation and
//    FCVT.D.S (exact, sNaN -> NV);
//  - dynamic rounding from frm for each of the five modes (rm = dyn and rm
//    omitted), fsrm/frrm;
//  - fflags accrual, fcsr/frm/fflags field views, reserved fcsr bits;
//  - frm = 5/6/7 with a dynamic-rm instruction and static rm = 5/6 in the
//    encoding are illegal instructions.
#include "common.h"

// ------------------------------------------------- double -> integer
        FD_X fcvt.w.d, rne, 0x0000000000000002, FF_NX, 0x4004000000000000    // fcvt.w.d(2.5) rne
        FD_X fcvt.w.d, rtz, 0x0000000000000002, FF_NX, 0x4004000000000000    // fcvt.w.d(2.5) rtz
        FD_X fcvt.w.d, rdn, 0x0000000000000002, FF_NX, 0x4004000000000000    // fcvt.w.d(2.5) rdn
        FD_X fcvt.w.d, rup, 0x0000000000000003, FF_NX, 0x4004000000000000    // fcvt.w.d(2.5) rup
        FD_X fcvt.w.d, rmm, 0x0000000000000003, FF_NX, 0x4004000000000000    // fcvt.w.d(2.5) rmm
        FD_X fcvt.wu.d, rne, 0x0000000000000002, FF_NX, 0x4004000000000000    // fcvt.wu.d(2.5) rne
        FD_X fcvt.wu.d, rtz, 0x0000000000000002, FF_NX, 0x4004000000000000    // fcvt.wu.d(2.5) rtz
        FD_X fcvt.wu.d, rdn, 0x0000000000000002, FF_NX, 0x4004000000000000    // fcvt.wu.d(2.5) rdn
        FD_X fcvt.wu.d, rup, 0x0000000000000003, FF_NX, 0x4004000000000000    // fcvt.wu.d(2.5) rup
        FD_X fcvt.wu.d, rmm, 0x0000000000000003, FF_NX, 0x4004000000000000    // fcvt.wu.d(2.5) rmm
        FD_X fcvt.l.d, rne, 0x0000000000000002, FF_NX, 0x4004000000000000    // fcvt.l.d(2.5) rne
        FD_X fcvt.l.d, rtz, 0x0000000000000002, FF_NX, 0x4004000000000000    // fcvt.l.d(2.5) rtz
        FD_X fcvt.l.d, rdn, 0x0000000000000002, FF_NX, 0x4004000000000000    // fcvt.l.d(2.5) rdn
        FD_X fcvt.l.d, rup, 0x0000000000000003, FF_NX, 0x4004000000000000    // fcvt.l.d(2.5) rup
        FD_X fcvt.l.d, rmm, 0x0000000000000003, FF_NX, 0x4004000000000000    // fcvt.l.d(2.5) rmm
        FD_X fcvt.lu.d, rne, 0x0000000000000002, FF_NX, 0x4004000000000000    // fcvt.lu.d(2.5) rne
        FD_X fcvt.lu.d, rtz, 0x0000000000000002, FF_NX, 0x4004000000000000    // fcvt.lu.d(2.5) rtz
        FD_X fcvt.lu.d, rdn, 0x0000000000000002, FF_NX, 0x4004000000000000    // fcvt.lu.d(2.5) rdn
        FD_X fcvt.lu.d, rup, 0x0000000000000003, FF_NX, 0x4004000000000000    // fcvt.lu.d(2.5) rup
        FD_X fcvt.lu.d, rmm, 0x0000000000000003, FF_NX, 0x4004000000000000    // fcvt.lu.d(2.5) rmm
        FD_X fcvt.w.d, rne, 0xfffffffffffffffe, FF_NX, 0xc004000000000000    // fcvt.w.d(-2.5) rne
        FD_X fcvt.w.d, rtz, 0xfffffffffffffffe, FF_NX, 0xc004000000000000    // fcvt.w.d(-2.5) rtz
        FD_X fcvt.w.d, rdn, 0xfffffffffffffffd, FF_NX, 0xc004000000000000    // fcvt.w.d(-2.5) rdn
        FD_X fcvt.w.d, rup, 0xfffffffffffffffe, FF_NX, 0xc004000000000000    // fcvt.w.d(-2.5) rup
        FD_X fcvt.w.d, rmm, 0xfffffffffffffffd, FF_NX, 0xc004000000000000    // fcvt.w.d(-2.5) rmm
        FD_X fcvt.wu.d, rne, 0x0000000000000000, FF_NV, 0xc004000000000000    // fcvt.wu.d(-2.5) rne
        FD_X fcvt.wu.d, rtz, 0x0000000000000000, FF_NV, 0xc004000000000000    // fcvt.wu.d(-2.5) rtz
        FD_X fcvt.wu.d, rdn, 0x0000000000000000, FF_NV, 0xc004000000000000    // fcvt.wu.d(-2.5) rdn
        FD_X fcvt.wu.d, rup, 0x0000000000000000, FF_NV, 0xc004000000000000    // fcvt.wu.d(-2.5) rup
        FD_X fcvt.wu.d, rmm, 0x0000000000000000, FF_NV, 0xc004000000000000    // fcvt.wu.d(-2.5) rmm
        FD_X fcvt.l.d, rne, 0xfffffffffffffffe, FF_NX, 0xc004000000000000    // fcvt.l.d(-2.5) rne
        FD_X fcvt.l.d, rtz, 0xfffffffffffffffe, FF_NX, 0xc004000000000000    // fcvt.l.d(-2.5) rtz
        FD_X fcvt.l.d, rdn, 0xfffffffffffffffd, FF_NX, 0xc004000000000000    // fcvt.l.d(-2.5) rdn
        FD_X fcvt.l.d, rup, 0xfffffffffffffffe, FF_NX, 0xc004000000000000    // fcvt.l.d(-2.5) rup
        FD_X fcvt.l.d, rmm, 0xfffffffffffffffd, FF_NX, 0xc004000000000000    // fcvt.l.d(-2.5) rmm
        FD_X fcvt.lu.d, rne, 0x0000000000000000, FF_NV, 0xc004000000000000    // fcvt.lu.d(-2.5) rne
        FD_X fcvt.lu.d, rtz, 0x0000000000000000, FF_NV, 0xc004000000000000    // fcvt.lu.d(-2.5) rtz
        FD_X fcvt.lu.d, rdn, 0x0000000000000000, FF_NV, 0xc004000000000000    // fcvt.lu.d(-2.5) rdn
        FD_X fcvt.lu.d, rup, 0x0000000000000000, FF_NV, 0xc004000000000000    // fcvt.lu.d(-2.5) rup
        FD_X fcvt.lu.d, rmm, 0x0000000000000000, FF_NV, 0xc004000000000000    // fcvt.lu.d(-2.5) rmm
        FD_X fcvt.w.d, rne, 0x0000000000000002, FF_NX, 0x3ff8000000000000    // fcvt.w.d(1.5) rne
        FD_X fcvt.w.d, rtz, 0x0000000000000001, FF_NX, 0x3ff8000000000000    // fcvt.w.d(1.5) rtz
        FD_X fcvt.w.d, rdn, 0x0000000000000001, FF_NX, 0x3ff8000000000000    // fcvt.w.d(1.5) rdn
        FD_X fcvt.w.d, rup, 0x0000000000000002, FF_NX, 0x3ff8000000000000    // fcvt.w.d(1.5) rup
        FD_X fcvt.w.d, rmm, 0x0000000000000002, FF_NX, 0x3ff8000000000000    // fcvt.w.d(1.5) rmm
        FD_X fcvt.wu.d, rne, 0x0000000000000002, FF_NX, 0x3ff8000000000000    // fcvt.wu.d(1.5) rne
        FD_X fcvt.wu.d, rtz, 0x0000000000000001, FF_NX, 0x3ff8000000000000    // fcvt.wu.d(1.5) rtz
        FD_X fcvt.wu.d, rdn, 0x0000000000000001, FF_NX, 0x3ff8000000000000    // fcvt.wu.d(1.5) rdn
        FD_X fcvt.wu.d, rup, 0x0000000000000002, FF_NX, 0x3ff8000000000000    // fcvt.wu.d(1.5) rup
        FD_X fcvt.wu.d, rmm, 0x0000000000000002, FF_NX, 0x3ff8000000000000    // fcvt.wu.d(1.5) rmm
        FD_X fcvt.l.d, rne, 0x0000000000000002, FF_NX, 0x3ff8000000000000    // fcvt.l.d(1.5) rne
        FD_X fcvt.l.d, rtz, 0x0000000000000001, FF_NX, 0x3ff8000000000000    // fcvt.l.d(1.5) rtz
        FD_X fcvt.l.d, rdn, 0x0000000000000001, FF_NX, 0x3ff8000000000000    // fcvt.l.d(1.5) rdn
        FD_X fcvt.l.d, rup, 0x0000000000000002, FF_NX, 0x3ff8000000000000    // fcvt.l.d(1.5) rup
        FD_X fcvt.l.d, rmm, 0x0000000000000002, FF_NX, 0x3ff8000000000000    // fcvt.l.d(1.5) rmm
        FD_X fcvt.lu.d, rne, 0x0000000000000002, FF_NX, 0x3ff8000000000000    // fcvt.lu.d(1.5) rne
        FD_X fcvt.lu.d, rtz, 0x0000000000000001, FF_NX, 0x3ff8000000000000    // fcvt.lu.d(1.5) rtz
        FD_X fcvt.lu.d, rdn, 0x0000000000000001, FF_NX, 0x3ff8000000000000    // fcvt.lu.d(1.5) rdn
        FD_X fcvt.lu.d, rup, 0x0000000000000002, FF_NX, 0x3ff8000000000000    // fcvt.lu.d(1.5) rup
        FD_X fcvt.lu.d, rmm, 0x0000000000000002, FF_NX, 0x3ff8000000000000    // fcvt.lu.d(1.5) rmm
        FD_X fcvt.w.d, rne, 0x0000000000000000, FF_NX, 0xbfe0000000000000    // fcvt.w.d(-0.5) rne
        FD_X fcvt.w.d, rtz, 0x0000000000000000, FF_NX, 0xbfe0000000000000    // fcvt.w.d(-0.5) rtz
        FD_X fcvt.w.d, rdn, 0xffffffffffffffff, FF_NX, 0xbfe0000000000000    // fcvt.w.d(-0.5) rdn
        FD_X fcvt.w.d, rup, 0x0000000000000000, FF_NX, 0xbfe0000000000000    // fcvt.w.d(-0.5) rup
        FD_X fcvt.w.d, rmm, 0xffffffffffffffff, FF_NX, 0xbfe0000000000000    // fcvt.w.d(-0.5) rmm
        FD_X fcvt.wu.d, rne, 0x0000000000000000, FF_NX, 0xbfe0000000000000    // fcvt.wu.d(-0.5) rne
        FD_X fcvt.wu.d, rtz, 0x0000000000000000, FF_NX, 0xbfe0000000000000    // fcvt.wu.d(-0.5) rtz
        FD_X fcvt.wu.d, rdn, 0x0000000000000000, FF_NV, 0xbfe0000000000000    // fcvt.wu.d(-0.5) rdn
        FD_X fcvt.wu.d, rup, 0x0000000000000000, FF_NX, 0xbfe0000000000000    // fcvt.wu.d(-0.5) rup
        FD_X fcvt.wu.d, rmm, 0x0000000000000000, FF_NV, 0xbfe0000000000000    // fcvt.wu.d(-0.5) rmm
        FD_X fcvt.l.d, rne, 0x0000000000000000, FF_NX, 0xbfe0000000000000    // fcvt.l.d(-0.5) rne
        FD_X fcvt.l.d, rtz, 0x0000000000000000, FF_NX, 0xbfe0000000000000    // fcvt.l.d(-0.5) rtz
        FD_X fcvt.l.d, rdn, 0xffffffffffffffff, FF_NX, 0xbfe0000000000000    // fcvt.l.d(-0.5) rdn
        FD_X fcvt.l.d, rup, 0x0000000000000000, FF_NX, 0xbfe0000000000000    // fcvt.l.d(-0.5) rup
        FD_X fcvt.l.d, rmm, 0xffffffffffffffff, FF_NX, 0xbfe0000000000000    // fcvt.l.d(-0.5) rmm
        FD_X fcvt.lu.d, rne, 0x0000000000000000, FF_NX, 0xbfe0000000000000    // fcvt.lu.d(-0.5) rne
        FD_X fcvt.lu.d, rtz, 0x0000000000000000, FF_NX, 0xbfe0000000000000    // fcvt.lu.d(-0.5) rtz
        FD_X fcvt.lu.d, rdn, 0x0000000000000000, FF_NV, 0xbfe0000000000000    // fcvt.lu.d(-0.5) rdn
        FD_X fcvt.lu.d, rup, 0x0000000000000000, FF_NX, 0xbfe0000000000000    // fcvt.lu.d(-0.5) rup
        FD_X fcvt.lu.d, rmm, 0x0000000000000000, FF_NV, 0xbfe0000000000000    // fcvt.lu.d(-0.5) rmm
        FD_X fcvt.w.d, rne, 0x0000000000000000, FF_NX, 0x3fe0000000000000    // fcvt.w.d(0.5) rne
        FD_X fcvt.w.d, rtz, 0x0000000000000000, FF_NX, 0x3fe0000000000000    // fcvt.w.d(0.5) rtz
        FD_X fcvt.w.d, rdn, 0x0000000000000000, FF_NX, 0x3fe0000000000000    // fcvt.w.d(0.5) rdn
        FD_X fcvt.w.d, rup, 0x0000000000000001, FF_NX, 0x3fe0000000000000    // fcvt.w.d(0.5) rup
        FD_X fcvt.w.d, rmm, 0x0000000000000001, FF_NX, 0x3fe0000000000000    // fcvt.w.d(0.5) rmm
        FD_X fcvt.wu.d, rne, 0x0000000000000000, FF_NX, 0x3fe0000000000000    // fcvt.wu.d(0.5) rne
        FD_X fcvt.wu.d, rtz, 0x0000000000000000, FF_NX, 0x3fe0000000000000    // fcvt.wu.d(0.5) rtz
        FD_X fcvt.wu.d, rdn, 0x0000000000000000, FF_NX, 0x3fe0000000000000    // fcvt.wu.d(0.5) rdn
        FD_X fcvt.wu.d, rup, 0x0000000000000001, FF_NX, 0x3fe0000000000000    // fcvt.wu.d(0.5) rup
        FD_X fcvt.wu.d, rmm, 0x0000000000000001, FF_NX, 0x3fe0000000000000    // fcvt.wu.d(0.5) rmm
        FD_X fcvt.l.d, rne, 0x0000000000000000, FF_NX, 0x3fe0000000000000    // fcvt.l.d(0.5) rne
        FD_X fcvt.l.d, rtz, 0x0000000000000000, FF_NX, 0x3fe0000000000000    // fcvt.l.d(0.5) rtz
        FD_X fcvt.l.d, rdn, 0x0000000000000000, FF_NX, 0x3fe0000000000000    // fcvt.l.d(0.5) rdn
        FD_X fcvt.l.d, rup, 0x0000000000000001, FF_NX, 0x3fe0000000000000    // fcvt.l.d(0.5) rup
        FD_X fcvt.l.d, rmm, 0x0000000000000001, FF_NX, 0x3fe0000000000000    // fcvt.l.d(0.5) rmm
        FD_X fcvt.lu.d, rne, 0x0000000000000000, FF_NX, 0x3fe0000000000000    // fcvt.lu.d(0.5) rne
        FD_X fcvt.lu.d, rtz, 0x0000000000000000, FF_NX, 0x3fe0000000000000    // fcvt.lu.d(0.5) rtz
        FD_X fcvt.lu.d, rdn, 0x0000000000000000, FF_NX, 0x3fe0000000000000    // fcvt.lu.d(0.5) rdn
        FD_X fcvt.lu.d, rup, 0x0000000000000001, FF_NX, 0x3fe0000000000000    // fcvt.lu.d(0.5) rup
        FD_X fcvt.lu.d, rmm, 0x0000000000000001, FF_NX, 0x3fe0000000000000    // fcvt.lu.d(0.5) rmm
        FD_X fcvt.w.d, rne, 0x0000000000000004, FF_NX, 0x400d99999999999a    // fcvt.w.d(3.7) rne
        FD_X fcvt.w.d, rtz, 0x0000000000000003, FF_NX, 0x400d99999999999a    // fcvt.w.d(3.7) rtz
        FD_X fcvt.w.d, rdn, 0x0000000000000003, FF_NX, 0x400d99999999999a    // fcvt.w.d(3.7) rdn
        FD_X fcvt.w.d, rup, 0x0000000000000004, FF_NX, 0x400d99999999999a    // fcvt.w.d(3.7) rup
        FD_X fcvt.w.d, rmm, 0x0000000000000004, FF_NX, 0x400d99999999999a    // fcvt.w.d(3.7) rmm
        FD_X fcvt.wu.d, rne, 0x0000000000000004, FF_NX, 0x400d99999999999a    // fcvt.wu.d(3.7) rne
        FD_X fcvt.wu.d, rtz, 0x0000000000000003, FF_NX, 0x400d99999999999a    // fcvt.wu.d(3.7) rtz
        FD_X fcvt.wu.d, rdn, 0x0000000000000003, FF_NX, 0x400d99999999999a    // fcvt.wu.d(3.7) rdn
        FD_X fcvt.wu.d, rup, 0x0000000000000004, FF_NX, 0x400d99999999999a    // fcvt.wu.d(3.7) rup
        FD_X fcvt.wu.d, rmm, 0x0000000000000004, FF_NX, 0x400d99999999999a    // fcvt.wu.d(3.7) rmm
        FD_X fcvt.l.d, rne, 0x0000000000000004, FF_NX, 0x400d99999999999a    // fcvt.l.d(3.7) rne
        FD_X fcvt.l.d, rtz, 0x0000000000000003, FF_NX, 0x400d99999999999a    // fcvt.l.d(3.7) rtz
        FD_X fcvt.l.d, rdn, 0x0000000000000003, FF_NX, 0x400d99999999999a    // fcvt.l.d(3.7) rdn
        FD_X fcvt.l.d, rup, 0x0000000000000004, FF_NX, 0x400d99999999999a    // fcvt.l.d(3.7) rup
        FD_X fcvt.l.d, rmm, 0x0000000000000004, FF_NX, 0x400d99999999999a    // fcvt.l.d(3.7) rmm
        FD_X fcvt.lu.d, rne, 0x0000000000000004, FF_NX, 0x400d99999999999a    // fcvt.lu.d(3.7) rne
        FD_X fcvt.lu.d, rtz, 0x0000000000000003, FF_NX, 0x400d99999999999a    // fcvt.lu.d(3.7) rtz
        FD_X fcvt.lu.d, rdn, 0x0000000000000003, FF_NX, 0x400d99999999999a    // fcvt.lu.d(3.7) rdn
        FD_X fcvt.lu.d, rup, 0x0000000000000004, FF_NX, 0x400d99999999999a    // fcvt.lu.d(3.7) rup
        FD_X fcvt.lu.d, rmm, 0x0000000000000004, FF_NX, 0x400d99999999999a    // fcvt.lu.d(3.7) rmm
        FD_X fcvt.w.d, rne, 0xfffffffffffffffc, FF_NX, 0xc00d99999999999a    // fcvt.w.d(-3.7) rne
        FD_X fcvt.w.d, rtz, 0xfffffffffffffffd, FF_NX, 0xc00d99999999999a    // fcvt.w.d(-3.7) rtz
        FD_X fcvt.w.d, rdn, 0xfffffffffffffffc, FF_NX, 0xc00d99999999999a    // fcvt.w.d(-3.7) rdn
        FD_X fcvt.w.d, rup, 0xfffffffffffffffd, FF_NX, 0xc00d99999999999a    // fcvt.w.d(-3.7) rup
        FD_X fcvt.w.d, rmm, 0xfffffffffffffffc, FF_NX, 0xc00d99999999999a    // fcvt.w.d(-3.7) rmm
        FD_X fcvt.wu.d, rne, 0x0000000000000000, FF_NV, 0xc00d99999999999a    // fcvt.wu.d(-3.7) rne
        FD_X fcvt.wu.d, rtz, 0x0000000000000000, FF_NV, 0xc00d99999999999a    // fcvt.wu.d(-3.7) rtz
        FD_X fcvt.wu.d, rdn, 0x0000000000000000, FF_NV, 0xc00d99999999999a    // fcvt.wu.d(-3.7) rdn
        FD_X fcvt.wu.d, rup, 0x0000000000000000, FF_NV, 0xc00d99999999999a    // fcvt.wu.d(-3.7) rup
        FD_X fcvt.wu.d, rmm, 0x0000000000000000, FF_NV, 0xc00d99999999999a    // fcvt.wu.d(-3.7) rmm
        FD_X fcvt.l.d, rne, 0xfffffffffffffffc, FF_NX, 0xc00d99999999999a    // fcvt.l.d(-3.7) rne
        FD_X fcvt.l.d, rtz, 0xfffffffffffffffd, FF_NX, 0xc00d99999999999a    // fcvt.l.d(-3.7) rtz
        FD_X fcvt.l.d, rdn, 0xfffffffffffffffc, FF_NX, 0xc00d99999999999a    // fcvt.l.d(-3.7) rdn
        FD_X fcvt.l.d, rup, 0xfffffffffffffffd, FF_NX, 0xc00d99999999999a    // fcvt.l.d(-3.7) rup
        FD_X fcvt.l.d, rmm, 0xfffffffffffffffc, FF_NX, 0xc00d99999999999a    // fcvt.l.d(-3.7) rmm
        FD_X fcvt.lu.d, rne, 0x0000000000000000, FF_NV, 0xc00d99999999999a    // fcvt.lu.d(-3.7) rne
        FD_X fcvt.lu.d, rtz, 0x0000000000000000, FF_NV, 0xc00d99999999999a    // fcvt.lu.d(-3.7) rtz
        FD_X fcvt.lu.d, rdn, 0x0000000000000000, FF_NV, 0xc00d99999999999a    // fcvt.lu.d(-3.7) rdn
        FD_X fcvt.lu.d, rup, 0x0000000000000000, FF_NV, 0xc00d99999999999a    // fcvt.lu.d(-3.7) rup
        FD_X fcvt.lu.d, rmm, 0x0000000000000000, FF_NV, 0xc00d99999999999a    // fcvt.lu.d(-3.7) rmm
        FD_X fcvt.w.d, rne, 0x0000000000000000, 0, 0x8000000000000000    // fcvt.w.d(-0) rne
        FD_X fcvt.wu.d, rne, 0x0000000000000000, 0, 0x8000000000000000    // fcvt.wu.d(-0) rne
        FD_X fcvt.l.d, rne, 0x0000000000000000, 0, 0x8000000000000000    // fcvt.l.d(-0) rne
        FD_X fcvt.lu.d, rne, 0x0000000000000000, 0, 0x8000000000000000    // fcvt.lu.d(-0) rne
        FD_X fcvt.w.d, rne, 0x0000000000000001, 0, 0x3ff0000000000000    // fcvt.w.d(1) rne
        FD_X fcvt.wu.d, rne, 0x0000000000000001, 0, 0x3ff0000000000000    // fcvt.wu.d(1) rne
        FD_X fcvt.l.d, rne, 0x0000000000000001, 0, 0x3ff0000000000000    // fcvt.l.d(1) rne
        FD_X fcvt.lu.d, rne, 0x0000000000000001, 0, 0x3ff0000000000000    // fcvt.lu.d(1) rne
        FD_X fcvt.w.d, rne, 0x000000007fffffff, FF_NV, 0x41dfffffffe00000    // fcvt.w.d(2147483647.5) rne
        FD_X fcvt.w.d, rtz, 0x000000007fffffff, FF_NX, 0x41dfffffffe00000    // fcvt.w.d(2147483647.5) rtz
        FD_X fcvt.w.d, rdn, 0x000000007fffffff, FF_NX, 0x41dfffffffe00000    // fcvt.w.d(2147483647.5) rdn
        FD_X fcvt.w.d, rup, 0x000000007fffffff, FF_NV, 0x41dfffffffe00000    // fcvt.w.d(2147483647.5) rup
        FD_X fcvt.w.d, rmm, 0x000000007fffffff, FF_NV, 0x41dfffffffe00000    // fcvt.w.d(2147483647.5) rmm
        FD_X fcvt.wu.d, rne, 0xffffffff80000000, FF_NX, 0x41dfffffffe00000    // fcvt.wu.d(2147483647.5) rne
        FD_X fcvt.wu.d, rtz, 0x000000007fffffff, FF_NX, 0x41dfffffffe00000    // fcvt.wu.d(2147483647.5) rtz
        FD_X fcvt.wu.d, rdn, 0x000000007fffffff, FF_NX, 0x41dfffffffe00000    // fcvt.wu.d(2147483647.5) rdn
        FD_X fcvt.wu.d, rup, 0xffffffff80000000, FF_NX, 0x41dfffffffe00000    // fcvt.wu.d(2147483647.5) rup
        FD_X fcvt.wu.d, rmm, 0xffffffff80000000, FF_NX, 0x41dfffffffe00000    // fcvt.wu.d(2147483647.5) rmm
        FD_X fcvt.l.d, rne, 0x0000000080000000, FF_NX, 0x41dfffffffe00000    // fcvt.l.d(2147483647.5) rne
        FD_X fcvt.l.d, rtz, 0x000000007fffffff, FF_NX, 0x41dfffffffe00000    // fcvt.l.d(2147483647.5) rtz
        FD_X fcvt.l.d, rdn, 0x000000007fffffff, FF_NX, 0x41dfffffffe00000    // fcvt.l.d(2147483647.5) rdn
        FD_X fcvt.l.d, rup, 0x0000000080000000, FF_NX, 0x41dfffffffe00000    // fcvt.l.d(2147483647.5) rup
        FD_X fcvt.l.d, rmm, 0x0000000080000000, FF_NX, 0x41dfffffffe00000    // fcvt.l.d(2147483647.5) rmm
        FD_X fcvt.lu.d, rne, 0x0000000080000000, FF_NX, 0x41dfffffffe00000    // fcvt.lu.d(2147483647.5) rne
        FD_X fcvt.lu.d, rtz, 0x000000007fffffff, FF_NX, 0x41dfffffffe00000    // fcvt.lu.d(2147483647.5) rtz
        FD_X fcvt.lu.d, rdn, 0x000000007fffffff, FF_NX, 0x41dfffffffe00000    // fcvt.lu.d(2147483647.5) rdn
        FD_X fcvt.lu.d, rup, 0x0000000080000000, FF_NX, 0x41dfffffffe00000    // fcvt.lu.d(2147483647.5) rup
        FD_X fcvt.lu.d, rmm, 0x0000000080000000, FF_NX, 0x41dfffffffe00000    // fcvt.lu.d(2147483647.5) rmm
        FD_X fcvt.w.d, rne, 0xffffffff80000000, 0, 0xc1e0000000000000    // fcvt.w.d(-2147483648) rne
        FD_X fcvt.wu.d, rne, 0x0000000000000000, FF_NV, 0xc1e0000000000000    // fcvt.wu.d(-2147483648) rne
        FD_X fcvt.l.d, rne, 0xffffffff80000000, 0, 0xc1e0000000000000    // fcvt.l.d(-2147483648) rne
        FD_X fcvt.lu.d, rne, 0x0000000000000000, FF_NV, 0xc1e0000000000000    // fcvt.lu.d(-2147483648) rne
        FD_X fcvt.w.d, rne, 0xffffffff80000000, FF_NX, 0xc1e0000000100000    // fcvt.w.d(-2147483648.5) rne
        FD_X fcvt.w.d, rtz, 0xffffffff80000000, FF_NX, 0xc1e0000000100000    // fcvt.w.d(-2147483648.5) rtz
        FD_X fcvt.w.d, rdn, 0xffffffff80000000, FF_NV, 0xc1e0000000100000    // fcvt.w.d(-2147483648.5) rdn
        FD_X fcvt.w.d, rup, 0xffffffff80000000, FF_NX, 0xc1e0000000100000    // fcvt.w.d(-2147483648.5) rup
        FD_X fcvt.w.d, rmm, 0xffffffff80000000, FF_NV, 0xc1e0000000100000    // fcvt.w.d(-2147483648.5) rmm
        FD_X fcvt.wu.d, rne, 0x0000000000000000, FF_NV, 0xc1e0000000100000    // fcvt.wu.d(-2147483648.5) rne
        FD_X fcvt.wu.d, rtz, 0x0000000000000000, FF_NV, 0xc1e0000000100000    // fcvt.wu.d(-2147483648.5) rtz
        FD_X fcvt.wu.d, rdn, 0x0000000000000000, FF_NV, 0xc1e0000000100000    // fcvt.wu.d(-2147483648.5) rdn
        FD_X fcvt.wu.d, rup, 0x0000000000000000, FF_NV, 0xc1e0000000100000    // fcvt.wu.d(-2147483648.5) rup
        FD_X fcvt.wu.d, rmm, 0x0000000000000000, FF_NV, 0xc1e0000000100000    // fcvt.wu.d(-2147483648.5) rmm
        FD_X fcvt.l.d, rne, 0xffffffff80000000, FF_NX, 0xc1e0000000100000    // fcvt.l.d(-2147483648.5) rne
        FD_X fcvt.l.d, rtz, 0xffffffff80000000, FF_NX, 0xc1e0000000100000    // fcvt.l.d(-2147483648.5) rtz
        FD_X fcvt.l.d, rdn, 0xffffffff7fffffff, FF_NX, 0xc1e0000000100000    // fcvt.l.d(-2147483648.5) rdn
        FD_X fcvt.l.d, rup, 0xffffffff80000000, FF_NX, 0xc1e0000000100000    // fcvt.l.d(-2147483648.5) rup
        FD_X fcvt.l.d, rmm, 0xffffffff7fffffff, FF_NX, 0xc1e0000000100000    // fcvt.l.d(-2147483648.5) rmm
        FD_X fcvt.lu.d, rne, 0x0000000000000000, FF_NV, 0xc1e0000000100000    // fcvt.lu.d(-2147483648.5) rne
        FD_X fcvt.lu.d, rtz, 0x0000000000000000, FF_NV, 0xc1e0000000100000    // fcvt.lu.d(-2147483648.5) rtz
        FD_X fcvt.lu.d, rdn, 0x0000000000000000, FF_NV, 0xc1e0000000100000    // fcvt.lu.d(-2147483648.5) rdn
        FD_X fcvt.lu.d, rup, 0x0000000000000000, FF_NV, 0xc1e0000000100000    // fcvt.lu.d(-2147483648.5) rup
        FD_X fcvt.lu.d, rmm, 0x0000000000000000, FF_NV, 0xc1e0000000100000    // fcvt.lu.d(-2147483648.5) rmm
        FD_X fcvt.w.d, rne, 0x000000007fffffff, FF_NV, 0x41effffffff00000    // fcvt.w.d(4294967295.5) rne
        FD_X fcvt.w.d, rtz, 0x000000007fffffff, FF_NV, 0x41effffffff00000    // fcvt.w.d(4294967295.5) rtz
        FD_X fcvt.w.d, rdn, 0x000000007fffffff, FF_NV, 0x41effffffff00000    // fcvt.w.d(4294967295.5) rdn
        FD_X fcvt.w.d, rup, 0x000000007fffffff, FF_NV, 0x41effffffff00000    // fcvt.w.d(4294967295.5) rup
        FD_X fcvt.w.d, rmm, 0x000000007fffffff, FF_NV, 0x41effffffff00000    // fcvt.w.d(4294967295.5) rmm
        FD_X fcvt.wu.d, rne, 0xffffffffffffffff, FF_NV, 0x41effffffff00000    // fcvt.wu.d(4294967295.5) rne
        FD_X fcvt.wu.d, rtz, 0xffffffffffffffff, FF_NX, 0x41effffffff00000    // fcvt.wu.d(4294967295.5) rtz
        FD_X fcvt.wu.d, rdn, 0xffffffffffffffff, FF_NX, 0x41effffffff00000    // fcvt.wu.d(4294967295.5) rdn
        FD_X fcvt.wu.d, rup, 0xffffffffffffffff, FF_NV, 0x41effffffff00000    // fcvt.wu.d(4294967295.5) rup
        FD_X fcvt.wu.d, rmm, 0xffffffffffffffff, FF_NV, 0x41effffffff00000    // fcvt.wu.d(4294967295.5) rmm
        FD_X fcvt.l.d, rne, 0x0000000100000000, FF_NX, 0x41effffffff00000    // fcvt.l.d(4294967295.5) rne
        FD_X fcvt.l.d, rtz, 0x00000000ffffffff, FF_NX, 0x41effffffff00000    // fcvt.l.d(4294967295.5) rtz
        FD_X fcvt.l.d, rdn, 0x00000000ffffffff, FF_NX, 0x41effffffff00000    // fcvt.l.d(4294967295.5) rdn
        FD_X fcvt.l.d, rup, 0x0000000100000000, FF_NX, 0x41effffffff00000    // fcvt.l.d(4294967295.5) rup
        FD_X fcvt.l.d, rmm, 0x0000000100000000, FF_NX, 0x41effffffff00000    // fcvt.l.d(4294967295.5) rmm
        FD_X fcvt.lu.d, rne, 0x0000000100000000, FF_NX, 0x41effffffff00000    // fcvt.lu.d(4294967295.5) rne
        FD_X fcvt.lu.d, rtz, 0x00000000ffffffff, FF_NX, 0x41effffffff00000    // fcvt.lu.d(4294967295.5) rtz
        FD_X fcvt.lu.d, rdn, 0x00000000ffffffff, FF_NX, 0x41effffffff00000    // fcvt.lu.d(4294967295.5) rdn
        FD_X fcvt.lu.d, rup, 0x0000000100000000, FF_NX, 0x41effffffff00000    // fcvt.lu.d(4294967295.5) rup
        FD_X fcvt.lu.d, rmm, 0x0000000100000000, FF_NX, 0x41effffffff00000    // fcvt.lu.d(4294967295.5) rmm
        FD_X fcvt.w.d, rne, 0x000000007fffffff, FF_NV, 0x41f0000000000000    // fcvt.w.d(4294967296) rne
        FD_X fcvt.wu.d, rne, 0xffffffffffffffff, FF_NV, 0x41f0000000000000    // fcvt.wu.d(4294967296) rne
        FD_X fcvt.l.d, rne, 0x0000000100000000, 0, 0x41f0000000000000    // fcvt.l.d(4294967296) rne
        FD_X fcvt.lu.d, rne, 0x0000000100000000, 0, 0x41f0000000000000    // fcvt.lu.d(4294967296) rne
        FD_X fcvt.w.d, rne, 0x000000007fffffff, FF_NV, 0x43e0000000000000    // fcvt.w.d(2^63) rne
        FD_X fcvt.wu.d, rne, 0xffffffffffffffff, FF_NV, 0x43e0000000000000    // fcvt.wu.d(2^63) rne
        FD_X fcvt.l.d, rne, 0x7fffffffffffffff, FF_NV, 0x43e0000000000000    // fcvt.l.d(2^63) rne
        FD_X fcvt.lu.d, rne, 0x8000000000000000, 0, 0x43e0000000000000    // fcvt.lu.d(2^63) rne
        FD_X fcvt.w.d, rne, 0xffffffff80000000, FF_NV, 0xc3e0000000000000    // fcvt.w.d(-2^63) rne
        FD_X fcvt.wu.d, rne, 0x0000000000000000, FF_NV, 0xc3e0000000000000    // fcvt.wu.d(-2^63) rne
        FD_X fcvt.l.d, rne, 0x8000000000000000, 0, 0xc3e0000000000000    // fcvt.l.d(-2^63) rne
        FD_X fcvt.lu.d, rne, 0x0000000000000000, FF_NV, 0xc3e0000000000000    // fcvt.lu.d(-2^63) rne
        FD_X fcvt.w.d, rne, 0x000000007fffffff, FF_NV, 0x43f0000000000000    // fcvt.w.d(2^64) rne
        FD_X fcvt.wu.d, rne, 0xffffffffffffffff, FF_NV, 0x43f0000000000000    // fcvt.wu.d(2^64) rne
        FD_X fcvt.l.d, rne, 0x7fffffffffffffff, FF_NV, 0x43f0000000000000    // fcvt.l.d(2^64) rne
        FD_X fcvt.lu.d, rne, 0xffffffffffffffff, FF_NV, 0x43f0000000000000    // fcvt.lu.d(2^64) rne
        FD_X fcvt.w.d, rne, 0x000000007fffffff, FF_NV, 0x43dfffffffffffff    // fcvt.w.d(2^63-1024) rne
        FD_X fcvt.wu.d, rne, 0xffffffffffffffff, FF_NV, 0x43dfffffffffffff    // fcvt.wu.d(2^63-1024) rne
        FD_X fcvt.l.d, rne, 0x7ffffffffffffc00, 0, 0x43dfffffffffffff    // fcvt.l.d(2^63-1024) rne
        FD_X fcvt.lu.d, rne, 0x7ffffffffffffc00, 0, 0x43dfffffffffffff    // fcvt.lu.d(2^63-1024) rne
        FD_X fcvt.w.d, rne, 0xffffffffffffffff, 0, 0xbff0000000000000    // fcvt.w.d(-1) rne
        FD_X fcvt.wu.d, rne, 0x0000000000000000, FF_NV, 0xbff0000000000000    // fcvt.wu.d(-1) rne
        FD_X fcvt.l.d, rne, 0xffffffffffffffff, 0, 0xbff0000000000000    // fcvt.l.d(-1) rne
        FD_X fcvt.lu.d, rne, 0x0000000000000000, FF_NV, 0xbff0000000000000    // fcvt.lu.d(-1) rne
        FD_X fcvt.w.d, rne, 0x000000007fffffff, FF_NV, 0x7e37e43c8800759c    // fcvt.w.d(1e300) rne
        FD_X fcvt.wu.d, rne, 0xffffffffffffffff, FF_NV, 0x7e37e43c8800759c    // fcvt.wu.d(1e300) rne
        FD_X fcvt.l.d, rne, 0x7fffffffffffffff, FF_NV, 0x7e37e43c8800759c    // fcvt.l.d(1e300) rne
        FD_X fcvt.lu.d, rne, 0xffffffffffffffff, FF_NV, 0x7e37e43c8800759c    // fcvt.lu.d(1e300) rne
        FD_X fcvt.w.d, rne, 0x000000007fffffff, FF_NV, 0x7ff0000000000000    // fcvt.w.d(inf) rne
        FD_X fcvt.wu.d, rne, 0xffffffffffffffff, FF_NV, 0x7ff0000000000000    // fcvt.wu.d(inf) rne
        FD_X fcvt.l.d, rne, 0x7fffffffffffffff, FF_NV, 0x7ff0000000000000    // fcvt.l.d(inf) rne
        FD_X fcvt.lu.d, rne, 0xffffffffffffffff, FF_NV, 0x7ff0000000000000    // fcvt.lu.d(inf) rne
        FD_X fcvt.w.d, rne, 0xffffffff80000000, FF_NV, 0xfff0000000000000    // fcvt.w.d(-inf) rne
        FD_X fcvt.wu.d, rne, 0x0000000000000000, FF_NV, 0xfff0000000000000    // fcvt.wu.d(-inf) rne
        FD_X fcvt.l.d, rne, 0x8000000000000000, FF_NV, 0xfff0000000000000    // fcvt.l.d(-inf) rne
        FD_X fcvt.lu.d, rne, 0x0000000000000000, FF_NV, 0xfff0000000000000    // fcvt.lu.d(-inf) rne
        FD_X fcvt.w.d, rne, 0x000000007fffffff, FF_NV, 0x7ff8000000000000    // fcvt.w.d(qNaN) rne
        FD_X fcvt.wu.d, rne, 0xffffffffffffffff, FF_NV, 0x7ff8000000000000    // fcvt.wu.d(qNaN) rne
        FD_X fcvt.l.d, rne, 0x7fffffffffffffff, FF_NV, 0x7ff8000000000000    // fcvt.l.d(qNaN) rne
        FD_X fcvt.lu.d, rne, 0xffffffffffffffff, FF_NV, 0x7ff8000000000000    // fcvt.lu.d(qNaN) rne
        FD_X fcvt.w.d, rne, 0x000000007fffffff, FF_NV, 0xfff0000000000001    // fcvt.w.d(-sNaN) rne
        FD_X fcvt.wu.d, rne, 0xffffffffffffffff, FF_NV, 0xfff0000000000001    // fcvt.wu.d(-sNaN) rne
        FD_X fcvt.l.d, rne, 0x7fffffffffffffff, FF_NV, 0xfff0000000000001    // fcvt.l.d(-sNaN) rne
        FD_X fcvt.lu.d, rne, 0xffffffffffffffff, FF_NV, 0xfff0000000000001    // fcvt.lu.d(-sNaN) rne
        FD_X fcvt.w.d, rne, 0x0000000000000000, FF_NX, 0x0000000000000001    // fcvt.w.d(min subnormal) rne
        FD_X fcvt.w.d, rup, 0x0000000000000001, FF_NX, 0x0000000000000001    // fcvt.w.d(min subnormal) rup
        FD_X fcvt.wu.d, rne, 0x0000000000000000, FF_NX, 0x0000000000000001    // fcvt.wu.d(min subnormal) rne
        FD_X fcvt.wu.d, rup, 0x0000000000000001, FF_NX, 0x0000000000000001    // fcvt.wu.d(min subnormal) rup
        FD_X fcvt.l.d, rne, 0x0000000000000000, FF_NX, 0x0000000000000001    // fcvt.l.d(min subnormal) rne
        FD_X fcvt.l.d, rup, 0x0000000000000001, FF_NX, 0x0000000000000001    // fcvt.l.d(min subnormal) rup
        FD_X fcvt.lu.d, rne, 0x0000000000000000, FF_NX, 0x0000000000000001    // fcvt.lu.d(min subnormal) rne
        FD_X fcvt.lu.d, rup, 0x0000000000000001, FF_NX, 0x0000000000000001    // fcvt.lu.d(min subnormal) rup
        FD_X fcvt.w.d, rdn, 0xffffffffffffffff, FF_NX, 0x8000000000000001    // fcvt.w.d(-min subnormal) rdn
        FD_X fcvt.wu.d, rdn, 0x0000000000000000, FF_NV, 0x8000000000000001    // fcvt.wu.d(-min subnormal) rdn
        FD_X fcvt.l.d, rdn, 0xffffffffffffffff, FF_NX, 0x8000000000000001    // fcvt.l.d(-min subnormal) rdn
        FD_X fcvt.lu.d, rdn, 0x0000000000000000, FF_NV, 0x8000000000000001    // fcvt.lu.d(-min subnormal) rdn
// ------------------------------------------------- single -> integer
        FS_X fcvt.w.s, rne, 0x0000000000000002, FF_NX, 0x40200000    // fcvt.w.s(2.5) rne
        FS_X fcvt.w.s, rtz, 0x0000000000000002, FF_NX, 0x40200000    // fcvt.w.s(2.5) rtz
        FS_X fcvt.w.s, rdn, 0x0000000000000002, FF_NX, 0x40200000    // fcvt.w.s(2.5) rdn
        FS_X fcvt.w.s, rup, 0x0000000000000003, FF_NX, 0x40200000    // fcvt.w.s(2.5) rup
        FS_X fcvt.w.s, rmm, 0x0000000000000003, FF_NX, 0x40200000    // fcvt.w.s(2.5) rmm
        FS_X fcvt.wu.s, rne, 0x0000000000000002, FF_NX, 0x40200000    // fcvt.wu.s(2.5) rne
        FS_X fcvt.wu.s, rtz, 0x0000000000000002, FF_NX, 0x40200000    // fcvt.wu.s(2.5) rtz
        FS_X fcvt.wu.s, rdn, 0x0000000000000002, FF_NX, 0x40200000    // fcvt.wu.s(2.5) rdn
        FS_X fcvt.wu.s, rup, 0x0000000000000003, FF_NX, 0x40200000    // fcvt.wu.s(2.5) rup
        FS_X fcvt.wu.s, rmm, 0x0000000000000003, FF_NX, 0x40200000    // fcvt.wu.s(2.5) rmm
        FS_X fcvt.l.s, rne, 0x0000000000000002, FF_NX, 0x40200000    // fcvt.l.s(2.5) rne
        FS_X fcvt.l.s, rtz, 0x0000000000000002, FF_NX, 0x40200000    // fcvt.l.s(2.5) rtz
        FS_X fcvt.l.s, rdn, 0x0000000000000002, FF_NX, 0x40200000    // fcvt.l.s(2.5) rdn
        FS_X fcvt.l.s, rup, 0x0000000000000003, FF_NX, 0x40200000    // fcvt.l.s(2.5) rup
        FS_X fcvt.l.s, rmm, 0x0000000000000003, FF_NX, 0x40200000    // fcvt.l.s(2.5) rmm
        FS_X fcvt.lu.s, rne, 0x0000000000000002, FF_NX, 0x40200000    // fcvt.lu.s(2.5) rne
        FS_X fcvt.lu.s, rtz, 0x0000000000000002, FF_NX, 0x40200000    // fcvt.lu.s(2.5) rtz
        FS_X fcvt.lu.s, rdn, 0x0000000000000002, FF_NX, 0x40200000    // fcvt.lu.s(2.5) rdn
        FS_X fcvt.lu.s, rup, 0x0000000000000003, FF_NX, 0x40200000    // fcvt.lu.s(2.5) rup
        FS_X fcvt.lu.s, rmm, 0x0000000000000003, FF_NX, 0x40200000    // fcvt.lu.s(2.5) rmm
        FS_X fcvt.w.s, rne, 0xfffffffffffffffe, FF_NX, 0xc0200000    // fcvt.w.s(-2.5) rne
        FS_X fcvt.w.s, rtz, 0xfffffffffffffffe, FF_NX, 0xc0200000    // fcvt.w.s(-2.5) rtz
        FS_X fcvt.w.s, rdn, 0xfffffffffffffffd, FF_NX, 0xc0200000    // fcvt.w.s(-2.5) rdn
        FS_X fcvt.w.s, rup, 0xfffffffffffffffe, FF_NX, 0xc0200000    // fcvt.w.s(-2.5) rup
        FS_X fcvt.w.s, rmm, 0xfffffffffffffffd, FF_NX, 0xc0200000    // fcvt.w.s(-2.5) rmm
        FS_X fcvt.wu.s, rne, 0x0000000000000000, FF_NV, 0xc0200000    // fcvt.wu.s(-2.5) rne
        FS_X fcvt.wu.s, rtz, 0x0000000000000000, FF_NV, 0xc0200000    // fcvt.wu.s(-2.5) rtz
        FS_X fcvt.wu.s, rdn, 0x0000000000000000, FF_NV, 0xc0200000    // fcvt.wu.s(-2.5) rdn
        FS_X fcvt.wu.s, rup, 0x0000000000000000, FF_NV, 0xc0200000    // fcvt.wu.s(-2.5) rup
        FS_X fcvt.wu.s, rmm, 0x0000000000000000, FF_NV, 0xc0200000    // fcvt.wu.s(-2.5) rmm
        FS_X fcvt.l.s, rne, 0xfffffffffffffffe, FF_NX, 0xc0200000    // fcvt.l.s(-2.5) rne
        FS_X fcvt.l.s, rtz, 0xfffffffffffffffe, FF_NX, 0xc0200000    // fcvt.l.s(-2.5) rtz
        FS_X fcvt.l.s, rdn, 0xfffffffffffffffd, FF_NX, 0xc0200000    // fcvt.l.s(-2.5) rdn
        FS_X fcvt.l.s, rup, 0xfffffffffffffffe, FF_NX, 0xc0200000    // fcvt.l.s(-2.5) rup
        FS_X fcvt.l.s, rmm, 0xfffffffffffffffd, FF_NX, 0xc0200000    // fcvt.l.s(-2.5) rmm
        FS_X fcvt.lu.s, rne, 0x0000000000000000, FF_NV, 0xc0200000    // fcvt.lu.s(-2.5) rne
        FS_X fcvt.lu.s, rtz, 0x0000000000000000, FF_NV, 0xc0200000    // fcvt.lu.s(-2.5) rtz
        FS_X fcvt.lu.s, rdn, 0x0000000000000000, FF_NV, 0xc0200000    // fcvt.lu.s(-2.5) rdn
        FS_X fcvt.lu.s, rup, 0x0000000000000000, FF_NV, 0xc0200000    // fcvt.lu.s(-2.5) rup
        FS_X fcvt.lu.s, rmm, 0x0000000000000000, FF_NV, 0xc0200000    // fcvt.lu.s(-2.5) rmm
        FS_X fcvt.w.s, rne, 0x0000000000000000, FF_NX, 0xbf000000    // fcvt.w.s(-0.5) rne
        FS_X fcvt.w.s, rtz, 0x0000000000000000, FF_NX, 0xbf000000    // fcvt.w.s(-0.5) rtz
        FS_X fcvt.w.s, rdn, 0xffffffffffffffff, FF_NX, 0xbf000000    // fcvt.w.s(-0.5) rdn
        FS_X fcvt.w.s, rup, 0x0000000000000000, FF_NX, 0xbf000000    // fcvt.w.s(-0.5) rup
        FS_X fcvt.w.s, rmm, 0xffffffffffffffff, FF_NX, 0xbf000000    // fcvt.w.s(-0.5) rmm
        FS_X fcvt.wu.s, rne, 0x0000000000000000, FF_NX, 0xbf000000    // fcvt.wu.s(-0.5) rne
        FS_X fcvt.wu.s, rtz, 0x0000000000000000, FF_NX, 0xbf000000    // fcvt.wu.s(-0.5) rtz
        FS_X fcvt.wu.s, rdn, 0x0000000000000000, FF_NV, 0xbf000000    // fcvt.wu.s(-0.5) rdn
        FS_X fcvt.wu.s, rup, 0x0000000000000000, FF_NX, 0xbf000000    // fcvt.wu.s(-0.5) rup
        FS_X fcvt.wu.s, rmm, 0x0000000000000000, FF_NV, 0xbf000000    // fcvt.wu.s(-0.5) rmm
        FS_X fcvt.l.s, rne, 0x0000000000000000, FF_NX, 0xbf000000    // fcvt.l.s(-0.5) rne
        FS_X fcvt.l.s, rtz, 0x0000000000000000, FF_NX, 0xbf000000    // fcvt.l.s(-0.5) rtz
        FS_X fcvt.l.s, rdn, 0xffffffffffffffff, FF_NX, 0xbf000000    // fcvt.l.s(-0.5) rdn
        FS_X fcvt.l.s, rup, 0x0000000000000000, FF_NX, 0xbf000000    // fcvt.l.s(-0.5) rup
        FS_X fcvt.l.s, rmm, 0xffffffffffffffff, FF_NX, 0xbf000000    // fcvt.l.s(-0.5) rmm
        FS_X fcvt.lu.s, rne, 0x0000000000000000, FF_NX, 0xbf000000    // fcvt.lu.s(-0.5) rne
        FS_X fcvt.lu.s, rtz, 0x0000000000000000, FF_NX, 0xbf000000    // fcvt.lu.s(-0.5) rtz
        FS_X fcvt.lu.s, rdn, 0x0000000000000000, FF_NV, 0xbf000000    // fcvt.lu.s(-0.5) rdn
        FS_X fcvt.lu.s, rup, 0x0000000000000000, FF_NX, 0xbf000000    // fcvt.lu.s(-0.5) rup
        FS_X fcvt.lu.s, rmm, 0x0000000000000000, FF_NV, 0xbf000000    // fcvt.lu.s(-0.5) rmm
        FS_X fcvt.w.s, rne, 0x0000000000000004, FF_NX, 0x406ccccd    // fcvt.w.s(3.7) rne
        FS_X fcvt.w.s, rtz, 0x0000000000000003, FF_NX, 0x406ccccd    // fcvt.w.s(3.7) rtz
        FS_X fcvt.w.s, rdn, 0x0000000000000003, FF_NX, 0x406ccccd    // fcvt.w.s(3.7) rdn
        FS_X fcvt.w.s, rup, 0x0000000000000004, FF_NX, 0x406ccccd    // fcvt.w.s(3.7) rup
        FS_X fcvt.w.s, rmm, 0x0000000000000004, FF_NX, 0x406ccccd    // fcvt.w.s(3.7) rmm
        FS_X fcvt.wu.s, rne, 0x0000000000000004, FF_NX, 0x406ccccd    // fcvt.wu.s(3.7) rne
        FS_X fcvt.wu.s, rtz, 0x0000000000000003, FF_NX, 0x406ccccd    // fcvt.wu.s(3.7) rtz
        FS_X fcvt.wu.s, rdn, 0x0000000000000003, FF_NX, 0x406ccccd    // fcvt.wu.s(3.7) rdn
        FS_X fcvt.wu.s, rup, 0x0000000000000004, FF_NX, 0x406ccccd    // fcvt.wu.s(3.7) rup
        FS_X fcvt.wu.s, rmm, 0x0000000000000004, FF_NX, 0x406ccccd    // fcvt.wu.s(3.7) rmm
        FS_X fcvt.l.s, rne, 0x0000000000000004, FF_NX, 0x406ccccd    // fcvt.l.s(3.7) rne
        FS_X fcvt.l.s, rtz, 0x0000000000000003, FF_NX, 0x406ccccd    // fcvt.l.s(3.7) rtz
        FS_X fcvt.l.s, rdn, 0x0000000000000003, FF_NX, 0x406ccccd    // fcvt.l.s(3.7) rdn
        FS_X fcvt.l.s, rup, 0x0000000000000004, FF_NX, 0x406ccccd    // fcvt.l.s(3.7) rup
        FS_X fcvt.l.s, rmm, 0x0000000000000004, FF_NX, 0x406ccccd    // fcvt.l.s(3.7) rmm
        FS_X fcvt.lu.s, rne, 0x0000000000000004, FF_NX, 0x406ccccd    // fcvt.lu.s(3.7) rne
        FS_X fcvt.lu.s, rtz, 0x0000000000000003, FF_NX, 0x406ccccd    // fcvt.lu.s(3.7) rtz
        FS_X fcvt.lu.s, rdn, 0x0000000000000003, FF_NX, 0x406ccccd    // fcvt.lu.s(3.7) rdn
        FS_X fcvt.lu.s, rup, 0x0000000000000004, FF_NX, 0x406ccccd    // fcvt.lu.s(3.7) rup
        FS_X fcvt.lu.s, rmm, 0x0000000000000004, FF_NX, 0x406ccccd    // fcvt.lu.s(3.7) rmm
        FS_X fcvt.w.s, rne, 0xfffffffffffffffc, FF_NX, 0xc06ccccd    // fcvt.w.s(-3.7) rne
        FS_X fcvt.w.s, rtz, 0xfffffffffffffffd, FF_NX, 0xc06ccccd    // fcvt.w.s(-3.7) rtz
        FS_X fcvt.w.s, rdn, 0xfffffffffffffffc, FF_NX, 0xc06ccccd    // fcvt.w.s(-3.7) rdn
        FS_X fcvt.w.s, rup, 0xfffffffffffffffd, FF_NX, 0xc06ccccd    // fcvt.w.s(-3.7) rup
        FS_X fcvt.w.s, rmm, 0xfffffffffffffffc, FF_NX, 0xc06ccccd    // fcvt.w.s(-3.7) rmm
        FS_X fcvt.wu.s, rne, 0x0000000000000000, FF_NV, 0xc06ccccd    // fcvt.wu.s(-3.7) rne
        FS_X fcvt.wu.s, rtz, 0x0000000000000000, FF_NV, 0xc06ccccd    // fcvt.wu.s(-3.7) rtz
        FS_X fcvt.wu.s, rdn, 0x0000000000000000, FF_NV, 0xc06ccccd    // fcvt.wu.s(-3.7) rdn
        FS_X fcvt.wu.s, rup, 0x0000000000000000, FF_NV, 0xc06ccccd    // fcvt.wu.s(-3.7) rup
        FS_X fcvt.wu.s, rmm, 0x0000000000000000, FF_NV, 0xc06ccccd    // fcvt.wu.s(-3.7) rmm
        FS_X fcvt.l.s, rne, 0xfffffffffffffffc, FF_NX, 0xc06ccccd    // fcvt.l.s(-3.7) rne
        FS_X fcvt.l.s, rtz, 0xfffffffffffffffd, FF_NX, 0xc06ccccd    // fcvt.l.s(-3.7) rtz
        FS_X fcvt.l.s, rdn, 0xfffffffffffffffc, FF_NX, 0xc06ccccd    // fcvt.l.s(-3.7) rdn
        FS_X fcvt.l.s, rup, 0xfffffffffffffffd, FF_NX, 0xc06ccccd    // fcvt.l.s(-3.7) rup
        FS_X fcvt.l.s, rmm, 0xfffffffffffffffc, FF_NX, 0xc06ccccd    // fcvt.l.s(-3.7) rmm
        FS_X fcvt.lu.s, rne, 0x0000000000000000, FF_NV, 0xc06ccccd    // fcvt.lu.s(-3.7) rne
        FS_X fcvt.lu.s, rtz, 0x0000000000000000, FF_NV, 0xc06ccccd    // fcvt.lu.s(-3.7) rtz
        FS_X fcvt.lu.s, rdn, 0x0000000000000000, FF_NV, 0xc06ccccd    // fcvt.lu.s(-3.7) rdn
        FS_X fcvt.lu.s, rup, 0x0000000000000000, FF_NV, 0xc06ccccd    // fcvt.lu.s(-3.7) rup
        FS_X fcvt.lu.s, rmm, 0x0000000000000000, FF_NV, 0xc06ccccd    // fcvt.lu.s(-3.7) rmm
        FS_X fcvt.w.s, rne, 0x0000000000000000, 0, 0x80000000    // fcvt.w.s(-0) rne
        FS_X fcvt.wu.s, rne, 0x0000000000000000, 0, 0x80000000    // fcvt.wu.s(-0) rne
        FS_X fcvt.l.s, rne, 0x0000000000000000, 0, 0x80000000    // fcvt.l.s(-0) rne
        FS_X fcvt.lu.s, rne, 0x0000000000000000, 0, 0x80000000    // fcvt.lu.s(-0) rne
        FS_X fcvt.w.s, rne, 0x000000007fffffff, FF_NV, 0x4f000000    // fcvt.w.s(2^31) rne
        FS_X fcvt.wu.s, rne, 0xffffffff80000000, 0, 0x4f000000    // fcvt.wu.s(2^31) rne
        FS_X fcvt.l.s, rne, 0x0000000080000000, 0, 0x4f000000    // fcvt.l.s(2^31) rne
        FS_X fcvt.lu.s, rne, 0x0000000080000000, 0, 0x4f000000    // fcvt.lu.s(2^31) rne
        FS_X fcvt.w.s, rne, 0xffffffff80000000, 0, 0xcf000000    // fcvt.w.s(-2^31) rne
        FS_X fcvt.wu.s, rne, 0x0000000000000000, FF_NV, 0xcf000000    // fcvt.wu.s(-2^31) rne
        FS_X fcvt.l.s, rne, 0xffffffff80000000, 0, 0xcf000000    // fcvt.l.s(-2^31) rne
        FS_X fcvt.lu.s, rne, 0x0000000000000000, FF_NV, 0xcf000000    // fcvt.lu.s(-2^31) rne
        FS_X fcvt.w.s, rne, 0x000000007fffffff, FF_NV, 0x4f800000    // fcvt.w.s(2^32) rne
        FS_X fcvt.wu.s, rne, 0xffffffffffffffff, FF_NV, 0x4f800000    // fcvt.wu.s(2^32) rne
        FS_X fcvt.l.s, rne, 0x0000000100000000, 0, 0x4f800000    // fcvt.l.s(2^32) rne
        FS_X fcvt.lu.s, rne, 0x0000000100000000, 0, 0x4f800000    // fcvt.lu.s(2^32) rne
        FS_X fcvt.w.s, rne, 0x000000007fffffff, FF_NV, 0x5f000000    // fcvt.w.s(2^63) rne
        FS_X fcvt.wu.s, rne, 0xffffffffffffffff, FF_NV, 0x5f000000    // fcvt.wu.s(2^63) rne
        FS_X fcvt.l.s, rne, 0x7fffffffffffffff, FF_NV, 0x5f000000    // fcvt.l.s(2^63) rne
        FS_X fcvt.lu.s, rne, 0x8000000000000000, 0, 0x5f000000    // fcvt.lu.s(2^63) rne
        FS_X fcvt.w.s, rne, 0xffffffff80000000, FF_NV, 0xdf000000    // fcvt.w.s(-2^63) rne
        FS_X fcvt.wu.s, rne, 0x0000000000000000, FF_NV, 0xdf000000    // fcvt.wu.s(-2^63) rne
        FS_X fcvt.l.s, rne, 0x8000000000000000, 0, 0xdf000000    // fcvt.l.s(-2^63) rne
        FS_X fcvt.lu.s, rne, 0x0000000000000000, FF_NV, 0xdf000000    // fcvt.lu.s(-2^63) rne
        FS_X fcvt.w.s, rne, 0x000000007fffffff, FF_NV, 0x5f800000    // fcvt.w.s(2^64) rne
        FS_X fcvt.wu.s, rne, 0xffffffffffffffff, FF_NV, 0x5f800000    // fcvt.wu.s(2^64) rne
        FS_X fcvt.l.s, rne, 0x7fffffffffffffff, FF_NV, 0x5f800000    // fcvt.l.s(2^64) rne
        FS_X fcvt.lu.s, rne, 0xffffffffffffffff, FF_NV, 0x5f800000    // fcvt.lu.s(2^64) rne
        FS_X fcvt.w.s, rne, 0xffffffffffffffff, 0, 0xbf800000    // fcvt.w.s(-1) rne
        FS_X fcvt.wu.s, rne, 0x0000000000000000, FF_NV, 0xbf800000    // fcvt.wu.s(-1) rne
        FS_X fcvt.l.s, rne, 0xffffffffffffffff, 0, 0xbf800000    // fcvt.l.s(-1) rne
        FS_X fcvt.lu.s, rne, 0x0000000000000000, FF_NV, 0xbf800000    // fcvt.lu.s(-1) rne
        FS_X fcvt.w.s, rne, 0x000000007fffffff, FF_NV, 0x7f800000    // fcvt.w.s(inf) rne
        FS_X fcvt.wu.s, rne, 0xffffffffffffffff, FF_NV, 0x7f800000    // fcvt.wu.s(inf) rne
        FS_X fcvt.l.s, rne, 0x7fffffffffffffff, FF_NV, 0x7f800000    // fcvt.l.s(inf) rne
        FS_X fcvt.lu.s, rne, 0xffffffffffffffff, FF_NV, 0x7f800000    // fcvt.lu.s(inf) rne
        FS_X fcvt.w.s, rne, 0xffffffff80000000, FF_NV, 0xff800000    // fcvt.w.s(-inf) rne
        FS_X fcvt.wu.s, rne, 0x0000000000000000, FF_NV, 0xff800000    // fcvt.wu.s(-inf) rne
        FS_X fcvt.l.s, rne, 0x8000000000000000, FF_NV, 0xff800000    // fcvt.l.s(-inf) rne
        FS_X fcvt.lu.s, rne, 0x0000000000000000, FF_NV, 0xff800000    // fcvt.lu.s(-inf) rne
        FS_X fcvt.w.s, rne, 0x000000007fffffff, FF_NV, 0xffc00000    // fcvt.w.s(-qNaN) rne
        FS_X fcvt.wu.s, rne, 0xffffffffffffffff, FF_NV, 0xffc00000    // fcvt.wu.s(-qNaN) rne
        FS_X fcvt.l.s, rne, 0x7fffffffffffffff, FF_NV, 0xffc00000    // fcvt.l.s(-qNaN) rne
        FS_X fcvt.lu.s, rne, 0xffffffffffffffff, FF_NV, 0xffc00000    // fcvt.lu.s(-qNaN) rne
        FS_X fcvt.w.s, rne, 0x000000007fffffff, FF_NV, 0x7f800001    // fcvt.w.s(sNaN) rne
        FS_X fcvt.wu.s, rne, 0xffffffffffffffff, FF_NV, 0x7f800001    // fcvt.wu.s(sNaN) rne
        FS_X fcvt.l.s, rne, 0x7fffffffffffffff, FF_NV, 0x7f800001    // fcvt.l.s(sNaN) rne
        FS_X fcvt.lu.s, rne, 0xffffffffffffffff, FF_NV, 0x7f800001    // fcvt.lu.s(sNaN) rne
        FS_X fcvt.w.s, rne, 0x0000000000ffffff, 0, 0x4b7fffff    // fcvt.w.s(16777215.0) rne
        FS_X fcvt.wu.s, rne, 0x0000000000ffffff, 0, 0x4b7fffff    // fcvt.wu.s(16777215.0) rne
        FS_X fcvt.l.s, rne, 0x0000000000ffffff, 0, 0x4b7fffff    // fcvt.l.s(16777215.0) rne
        FS_X fcvt.lu.s, rne, 0x0000000000ffffff, 0, 0x4b7fffff    // fcvt.lu.s(16777215.0) rne
// ------------------------------------------------- integer -> double
        FD_FX fcvt.d.w, , 0x0000000000000000, 0, 0x0000000000000000    // fcvt.d.w(0x0) 
        FD_FX fcvt.d.wu, , 0x0000000000000000, 0, 0x0000000000000000    // fcvt.d.wu(0x0) 
        FD_FX fcvt.d.l, rne, 0x0000000000000000, 0, 0x0000000000000000    // fcvt.d.l(0x0) rne
        FD_FX fcvt.d.lu, rne, 0x0000000000000000, 0, 0x0000000000000000    // fcvt.d.lu(0x0) rne
        FD_FX fcvt.d.w, , 0x3ff0000000000000, 0, 0x0000000000000001    // fcvt.d.w(0x1) 
        FD_FX fcvt.d.wu, , 0x3ff0000000000000, 0, 0x0000000000000001    // fcvt.d.wu(0x1) 
        FD_FX fcvt.d.l, rne, 0x3ff0000000000000, 0, 0x0000000000000001    // fcvt.d.l(0x1) rne
        FD_FX fcvt.d.lu, rne, 0x3ff0000000000000, 0, 0x0000000000000001    // fcvt.d.lu(0x1) rne
        FD_FX fcvt.d.w, , 0xbff0000000000000, 0, 0xffffffffffffffff    // fcvt.d.w(0xffffffffffffffff) 
        FD_FX fcvt.d.wu, , 0x41efffffffe00000, 0, 0xffffffffffffffff    // fcvt.d.wu(0xffffffffffffffff) 
        FD_FX fcvt.d.l, rne, 0xbff0000000000000, 0, 0xffffffffffffffff    // fcvt.d.l(0xffffffffffffffff) rne
        FD_FX fcvt.d.lu, rne, 0x43f0000000000000, FF_NX, 0xffffffffffffffff    // fcvt.d.lu(0xffffffffffffffff) rne
        FD_FX fcvt.d.w, , 0x4170000010000000, 0, 0x0000000001000001    // fcvt.d.w(0x1000001) 
        FD_FX fcvt.d.wu, , 0x4170000010000000, 0, 0x0000000001000001    // fcvt.d.wu(0x1000001) 
        FD_FX fcvt.d.l, rne, 0x4170000010000000, 0, 0x0000000001000001    // fcvt.d.l(0x1000001) rne
        FD_FX fcvt.d.lu, rne, 0x4170000010000000, 0, 0x0000000001000001    // fcvt.d.lu(0x1000001) rne
        FD_FX fcvt.d.w, , 0x41dfffffffc00000, 0, 0x000000007fffffff    // fcvt.d.w(0x7fffffff) 
        FD_FX fcvt.d.wu, , 0x41dfffffffc00000, 0, 0x000000007fffffff    // fcvt.d.wu(0x7fffffff) 
        FD_FX fcvt.d.l, rne, 0x41dfffffffc00000, 0, 0x000000007fffffff    // fcvt.d.l(0x7fffffff) rne
        FD_FX fcvt.d.lu, rne, 0x41dfffffffc00000, 0, 0x000000007fffffff    // fcvt.d.lu(0x7fffffff) rne
        FD_FX fcvt.d.w, , 0xc1e0000000000000, 0, 0x0000000080000000    // fcvt.d.w(0x80000000) 
        FD_FX fcvt.d.wu, , 0x41e0000000000000, 0, 0x0000000080000000    // fcvt.d.wu(0x80000000) 
        FD_FX fcvt.d.l, rne, 0x41e0000000000000, 0, 0x0000000080000000    // fcvt.d.l(0x80000000) rne
        FD_FX fcvt.d.lu, rne, 0x41e0000000000000, 0, 0x0000000080000000    // fcvt.d.lu(0x80000000) rne
        FD_FX fcvt.d.w, , 0xbff0000000000000, 0, 0x00000000ffffffff    // fcvt.d.w(0xffffffff) 
        FD_FX fcvt.d.wu, , 0x41efffffffe00000, 0, 0x00000000ffffffff    // fcvt.d.wu(0xffffffff) 
        FD_FX fcvt.d.l, rne, 0x41efffffffe00000, 0, 0x00000000ffffffff    // fcvt.d.l(0xffffffff) rne
        FD_FX fcvt.d.lu, rne, 0x41efffffffe00000, 0, 0x00000000ffffffff    // fcvt.d.lu(0xffffffff) rne
        FD_FX fcvt.d.w, , 0x3ff0000000000000, 0, 0x0020000000000001    // fcvt.d.w(0x20000000000001) 
        FD_FX fcvt.d.wu, , 0x3ff0000000000000, 0, 0x0020000000000001    // fcvt.d.wu(0x20000000000001) 
        FD_FX fcvt.d.l, rne, 0x4340000000000000, FF_NX, 0x0020000000000001    // fcvt.d.l(0x20000000000001) rne
        FD_FX fcvt.d.l, rtz, 0x4340000000000000, FF_NX, 0x0020000000000001    // fcvt.d.l(0x20000000000001) rtz
        FD_FX fcvt.d.l, rdn, 0x4340000000000000, FF_NX, 0x0020000000000001    // fcvt.d.l(0x20000000000001) rdn
        FD_FX fcvt.d.l, rup, 0x4340000000000001, FF_NX, 0x0020000000000001    // fcvt.d.l(0x20000000000001) rup
        FD_FX fcvt.d.l, rmm, 0x4340000000000001, FF_NX, 0x0020000000000001    // fcvt.d.l(0x20000000000001) rmm
        FD_FX fcvt.d.lu, rne, 0x4340000000000000, FF_NX, 0x0020000000000001    // fcvt.d.lu(0x20000000000001) rne
        FD_FX fcvt.d.lu, rtz, 0x4340000000000000, FF_NX, 0x0020000000000001    // fcvt.d.lu(0x20000000000001) rtz
        FD_FX fcvt.d.lu, rdn, 0x4340000000000000, FF_NX, 0x0020000000000001    // fcvt.d.lu(0x20000000000001) rdn
        FD_FX fcvt.d.lu, rup, 0x4340000000000001, FF_NX, 0x0020000000000001    // fcvt.d.lu(0x20000000000001) rup
        FD_FX fcvt.d.lu, rmm, 0x4340000000000001, FF_NX, 0x0020000000000001    // fcvt.d.lu(0x20000000000001) rmm
        FD_FX fcvt.d.w, , 0xbff0000000000000, 0, 0x7fffffffffffffff    // fcvt.d.w(0x7fffffffffffffff) 
        FD_FX fcvt.d.wu, , 0x41efffffffe00000, 0, 0x7fffffffffffffff    // fcvt.d.wu(0x7fffffffffffffff) 
        FD_FX fcvt.d.l, rne, 0x43e0000000000000, FF_NX, 0x7fffffffffffffff    // fcvt.d.l(0x7fffffffffffffff) rne
        FD_FX fcvt.d.l, rtz, 0x43dfffffffffffff, FF_NX, 0x7fffffffffffffff    // fcvt.d.l(0x7fffffffffffffff) rtz
        FD_FX fcvt.d.l, rdn, 0x43dfffffffffffff, FF_NX, 0x7fffffffffffffff    // fcvt.d.l(0x7fffffffffffffff) rdn
        FD_FX fcvt.d.l, rup, 0x43e0000000000000, FF_NX, 0x7fffffffffffffff    // fcvt.d.l(0x7fffffffffffffff) rup
        FD_FX fcvt.d.l, rmm, 0x43e0000000000000, FF_NX, 0x7fffffffffffffff    // fcvt.d.l(0x7fffffffffffffff) rmm
        FD_FX fcvt.d.lu, rne, 0x43e0000000000000, FF_NX, 0x7fffffffffffffff    // fcvt.d.lu(0x7fffffffffffffff) rne
        FD_FX fcvt.d.lu, rtz, 0x43dfffffffffffff, FF_NX, 0x7fffffffffffffff    // fcvt.d.lu(0x7fffffffffffffff) rtz
        FD_FX fcvt.d.lu, rdn, 0x43dfffffffffffff, FF_NX, 0x7fffffffffffffff    // fcvt.d.lu(0x7fffffffffffffff) rdn
        FD_FX fcvt.d.lu, rup, 0x43e0000000000000, FF_NX, 0x7fffffffffffffff    // fcvt.d.lu(0x7fffffffffffffff) rup
        FD_FX fcvt.d.lu, rmm, 0x43e0000000000000, FF_NX, 0x7fffffffffffffff    // fcvt.d.lu(0x7fffffffffffffff) rmm
        FD_FX fcvt.d.w, , 0x0000000000000000, 0, 0x8000000000000000    // fcvt.d.w(0x8000000000000000) 
        FD_FX fcvt.d.wu, , 0x0000000000000000, 0, 0x8000000000000000    // fcvt.d.wu(0x8000000000000000) 
        FD_FX fcvt.d.l, rne, 0xc3e0000000000000, 0, 0x8000000000000000    // fcvt.d.l(0x8000000000000000) rne
        FD_FX fcvt.d.lu, rne, 0x43e0000000000000, 0, 0x8000000000000000    // fcvt.d.lu(0x8000000000000000) rne
        FD_FX fcvt.d.w, , 0xc1e0000000000000, 0, 0x1234567880000000    // fcvt.d.w(0x1234567880000000) 
        FD_FX fcvt.d.wu, , 0x41e0000000000000, 0, 0x1234567880000000    // fcvt.d.wu(0x1234567880000000) 
        FD_FX fcvt.d.l, rne, 0x43b2345678800000, 0, 0x1234567880000000    // fcvt.d.l(0x1234567880000000) rne
        FD_FX fcvt.d.lu, rne, 0x43b2345678800000, 0, 0x1234567880000000    // fcvt.d.lu(0x1234567880000000) rne
        FD_FX fcvt.d.w, , 0x4008000000000000, 0, 0xfffffffe00000003    // fcvt.d.w(0xfffffffe00000003) 
        FD_FX fcvt.d.wu, , 0x4008000000000000, 0, 0xfffffffe00000003    // fcvt.d.wu(0xfffffffe00000003) 
        FD_FX fcvt.d.l, rne, 0xc1ffffffffd00000, 0, 0xfffffffe00000003    // fcvt.d.l(0xfffffffe00000003) rne
        FD_FX fcvt.d.lu, rne, 0x43efffffffc00000, FF_NX, 0xfffffffe00000003    // fcvt.d.lu(0xfffffffe00000003) rne
        FD_FX fcvt.d.lu, rtz, 0x43efffffffc00000, FF_NX, 0xfffffffe00000003    // fcvt.d.lu(0xfffffffe00000003) rtz
        FD_FX fcvt.d.lu, rdn, 0x43efffffffc00000, FF_NX, 0xfffffffe00000003    // fcvt.d.lu(0xfffffffe00000003) rdn
        FD_FX fcvt.d.lu, rup, 0x43efffffffc00001, FF_NX, 0xfffffffe00000003    // fcvt.d.lu(0xfffffffe00000003) rup
        FD_FX fcvt.d.lu, rmm, 0x43efffffffc00000, FF_NX, 0xfffffffe00000003    // fcvt.d.lu(0xfffffffe00000003) rmm
        FD_FX fcvt.d.w, , 0xc16fffffe0000000, 0, 0xffffffffff000001    // fcvt.d.w(0xffffffffff000001) 
        FD_FX fcvt.d.wu, , 0x41efe00000200000, 0, 0xffffffffff000001    // fcvt.d.wu(0xffffffffff000001) 
        FD_FX fcvt.d.l, rne, 0xc16fffffe0000000, 0, 0xffffffffff000001    // fcvt.d.l(0xffffffffff000001) rne
        FD_FX fcvt.d.lu, rne, 0x43efffffffffe000, FF_NX, 0xffffffffff000001    // fcvt.d.lu(0xffffffffff000001) rne
        FD_FX fcvt.d.lu, rtz, 0x43efffffffffe000, FF_NX, 0xffffffffff000001    // fcvt.d.lu(0xffffffffff000001) rtz
        FD_FX fcvt.d.lu, rdn, 0x43efffffffffe000, FF_NX, 0xffffffffff000001    // fcvt.d.lu(0xffffffffff000001) rdn
        FD_FX fcvt.d.lu, rup, 0x43efffffffffe001, FF_NX, 0xffffffffff000001    // fcvt.d.lu(0xffffffffff000001) rup
        FD_FX fcvt.d.lu, rmm, 0x43efffffffffe000, FF_NX, 0xffffffffff000001    // fcvt.d.lu(0xffffffffff000001) rmm
// ------------------------------------------------- integer -> single
        FS_FX fcvt.s.w, rne, 0x00000000, 0, 0x0000000000000000    // fcvt.s.w(0x0) rne
        FS_FX fcvt.s.wu, rne, 0x00000000, 0, 0x0000000000000000    // fcvt.s.wu(0x0) rne
        FS_FX fcvt.s.l, rne, 0x00000000, 0, 0x0000000000000000    // fcvt.s.l(0x0) rne
        FS_FX fcvt.s.lu, rne, 0x00000000, 0, 0x0000000000000000    // fcvt.s.lu(0x0) rne
        FS_FX fcvt.s.w, rne, 0x3f800000, 0, 0x0000000000000001    // fcvt.s.w(0x1) rne
        FS_FX fcvt.s.wu, rne, 0x3f800000, 0, 0x0000000000000001    // fcvt.s.wu(0x1) rne
        FS_FX fcvt.s.l, rne, 0x3f800000, 0, 0x0000000000000001    // fcvt.s.l(0x1) rne
        FS_FX fcvt.s.lu, rne, 0x3f800000, 0, 0x0000000000000001    // fcvt.s.lu(0x1) rne
        FS_FX fcvt.s.w, rne, 0xbf800000, 0, 0xffffffffffffffff    // fcvt.s.w(0xffffffffffffffff) rne
        FS_FX fcvt.s.wu, rne, 0x4f800000, FF_NX, 0xffffffffffffffff    // fcvt.s.wu(0xffffffffffffffff) rne
        FS_FX fcvt.s.l, rne, 0xbf800000, 0, 0xffffffffffffffff    // fcvt.s.l(0xffffffffffffffff) rne
        FS_FX fcvt.s.lu, rne, 0x5f800000, FF_NX, 0xffffffffffffffff    // fcvt.s.lu(0xffffffffffffffff) rne
        FS_FX fcvt.s.w, rne, 0x4b800000, FF_NX, 0x0000000001000001    // fcvt.s.w(0x1000001) rne
        FS_FX fcvt.s.w, rtz, 0x4b800000, FF_NX, 0x0000000001000001    // fcvt.s.w(0x1000001) rtz
        FS_FX fcvt.s.w, rdn, 0x4b800000, FF_NX, 0x0000000001000001    // fcvt.s.w(0x1000001) rdn
        FS_FX fcvt.s.w, rup, 0x4b800001, FF_NX, 0x0000000001000001    // fcvt.s.w(0x1000001) rup
        FS_FX fcvt.s.w, rmm, 0x4b800001, FF_NX, 0x0000000001000001    // fcvt.s.w(0x1000001) rmm
        FS_FX fcvt.s.wu, rne, 0x4b800000, FF_NX, 0x0000000001000001    // fcvt.s.wu(0x1000001) rne
        FS_FX fcvt.s.wu, rtz, 0x4b800000, FF_NX, 0x0000000001000001    // fcvt.s.wu(0x1000001) rtz
        FS_FX fcvt.s.wu, rdn, 0x4b800000, FF_NX, 0x0000000001000001    // fcvt.s.wu(0x1000001) rdn
        FS_FX fcvt.s.wu, rup, 0x4b800001, FF_NX, 0x0000000001000001    // fcvt.s.wu(0x1000001) rup
        FS_FX fcvt.s.wu, rmm, 0x4b800001, FF_NX, 0x0000000001000001    // fcvt.s.wu(0x1000001) rmm
        FS_FX fcvt.s.l, rne, 0x4b800000, FF_NX, 0x0000000001000001    // fcvt.s.l(0x1000001) rne
        FS_FX fcvt.s.l, rtz, 0x4b800000, FF_NX, 0x0000000001000001    // fcvt.s.l(0x1000001) rtz
        FS_FX fcvt.s.l, rdn, 0x4b800000, FF_NX, 0x0000000001000001    // fcvt.s.l(0x1000001) rdn
        FS_FX fcvt.s.l, rup, 0x4b800001, FF_NX, 0x0000000001000001    // fcvt.s.l(0x1000001) rup
        FS_FX fcvt.s.l, rmm, 0x4b800001, FF_NX, 0x0000000001000001    // fcvt.s.l(0x1000001) rmm
        FS_FX fcvt.s.lu, rne, 0x4b800000, FF_NX, 0x0000000001000001    // fcvt.s.lu(0x1000001) rne
        FS_FX fcvt.s.lu, rtz, 0x4b800000, FF_NX, 0x0000000001000001    // fcvt.s.lu(0x1000001) rtz
        FS_FX fcvt.s.lu, rdn, 0x4b800000, FF_NX, 0x0000000001000001    // fcvt.s.lu(0x1000001) rdn
        FS_FX fcvt.s.lu, rup, 0x4b800001, FF_NX, 0x0000000001000001    // fcvt.s.lu(0x1000001) rup
        FS_FX fcvt.s.lu, rmm, 0x4b800001, FF_NX, 0x0000000001000001    // fcvt.s.lu(0x1000001) rmm
        FS_FX fcvt.s.w, rne, 0x4f000000, FF_NX, 0x000000007fffffff    // fcvt.s.w(0x7fffffff) rne
        FS_FX fcvt.s.wu, rne, 0x4f000000, FF_NX, 0x000000007fffffff    // fcvt.s.wu(0x7fffffff) rne
        FS_FX fcvt.s.l, rne, 0x4f000000, FF_NX, 0x000000007fffffff    // fcvt.s.l(0x7fffffff) rne
        FS_FX fcvt.s.lu, rne, 0x4f000000, FF_NX, 0x000000007fffffff    // fcvt.s.lu(0x7fffffff) rne
        FS_FX fcvt.s.w, rne, 0xcf000000, 0, 0x0000000080000000    // fcvt.s.w(0x80000000) rne
        FS_FX fcvt.s.wu, rne, 0x4f000000, 0, 0x0000000080000000    // fcvt.s.wu(0x80000000) rne
        FS_FX fcvt.s.l, rne, 0x4f000000, 0, 0x0000000080000000    // fcvt.s.l(0x80000000) rne
        FS_FX fcvt.s.lu, rne, 0x4f000000, 0, 0x0000000080000000    // fcvt.s.lu(0x80000000) rne
        FS_FX fcvt.s.w, rne, 0xbf800000, 0, 0x00000000ffffffff    // fcvt.s.w(0xffffffff) rne
        FS_FX fcvt.s.wu, rne, 0x4f800000, FF_NX, 0x00000000ffffffff    // fcvt.s.wu(0xffffffff) rne
        FS_FX fcvt.s.l, rne, 0x4f800000, FF_NX, 0x00000000ffffffff    // fcvt.s.l(0xffffffff) rne
        FS_FX fcvt.s.lu, rne, 0x4f800000, FF_NX, 0x00000000ffffffff    // fcvt.s.lu(0xffffffff) rne
        FS_FX fcvt.s.w, rne, 0x3f800000, 0, 0x0020000000000001    // fcvt.s.w(0x20000000000001) rne
        FS_FX fcvt.s.wu, rne, 0x3f800000, 0, 0x0020000000000001    // fcvt.s.wu(0x20000000000001) rne
        FS_FX fcvt.s.l, rne, 0x5a000000, FF_NX, 0x0020000000000001    // fcvt.s.l(0x20000000000001) rne
        FS_FX fcvt.s.l, rtz, 0x5a000000, FF_NX, 0x0020000000000001    // fcvt.s.l(0x20000000000001) rtz
        FS_FX fcvt.s.l, rdn, 0x5a000000, FF_NX, 0x0020000000000001    // fcvt.s.l(0x20000000000001) rdn
        FS_FX fcvt.s.l, rup, 0x5a000001, FF_NX, 0x0020000000000001    // fcvt.s.l(0x20000000000001) rup
        FS_FX fcvt.s.l, rmm, 0x5a000000, FF_NX, 0x0020000000000001    // fcvt.s.l(0x20000000000001) rmm
        FS_FX fcvt.s.lu, rne, 0x5a000000, FF_NX, 0x0020000000000001    // fcvt.s.lu(0x20000000000001) rne
        FS_FX fcvt.s.lu, rtz, 0x5a000000, FF_NX, 0x0020000000000001    // fcvt.s.lu(0x20000000000001) rtz
        FS_FX fcvt.s.lu, rdn, 0x5a000000, FF_NX, 0x0020000000000001    // fcvt.s.lu(0x20000000000001) rdn
        FS_FX fcvt.s.lu, rup, 0x5a000001, FF_NX, 0x0020000000000001    // fcvt.s.lu(0x20000000000001) rup
        FS_FX fcvt.s.lu, rmm, 0x5a000000, FF_NX, 0x0020000000000001    // fcvt.s.lu(0x20000000000001) rmm
        FS_FX fcvt.s.w, rne, 0xbf800000, 0, 0x7fffffffffffffff    // fcvt.s.w(0x7fffffffffffffff) rne
        FS_FX fcvt.s.wu, rne, 0x4f800000, FF_NX, 0x7fffffffffffffff    // fcvt.s.wu(0x7fffffffffffffff) rne
        FS_FX fcvt.s.wu, rtz, 0x4f7fffff, FF_NX, 0x7fffffffffffffff    // fcvt.s.wu(0x7fffffffffffffff) rtz
        FS_FX fcvt.s.wu, rdn, 0x4f7fffff, FF_NX, 0x7fffffffffffffff    // fcvt.s.wu(0x7fffffffffffffff) rdn
        FS_FX fcvt.s.wu, rup, 0x4f800000, FF_NX, 0x7fffffffffffffff    // fcvt.s.wu(0x7fffffffffffffff) rup
        FS_FX fcvt.s.wu, rmm, 0x4f800000, FF_NX, 0x7fffffffffffffff    // fcvt.s.wu(0x7fffffffffffffff) rmm
        FS_FX fcvt.s.l, rne, 0x5f000000, FF_NX, 0x7fffffffffffffff    // fcvt.s.l(0x7fffffffffffffff) rne
        FS_FX fcvt.s.l, rtz, 0x5effffff, FF_NX, 0x7fffffffffffffff    // fcvt.s.l(0x7fffffffffffffff) rtz
        FS_FX fcvt.s.l, rdn, 0x5effffff, FF_NX, 0x7fffffffffffffff    // fcvt.s.l(0x7fffffffffffffff) rdn
        FS_FX fcvt.s.l, rup, 0x5f000000, FF_NX, 0x7fffffffffffffff    // fcvt.s.l(0x7fffffffffffffff) rup
        FS_FX fcvt.s.l, rmm, 0x5f000000, FF_NX, 0x7fffffffffffffff    // fcvt.s.l(0x7fffffffffffffff) rmm
        FS_FX fcvt.s.lu, rne, 0x5f000000, FF_NX, 0x7fffffffffffffff    // fcvt.s.lu(0x7fffffffffffffff) rne
        FS_FX fcvt.s.lu, rtz, 0x5effffff, FF_NX, 0x7fffffffffffffff    // fcvt.s.lu(0x7fffffffffffffff) rtz
        FS_FX fcvt.s.lu, rdn, 0x5effffff, FF_NX, 0x7fffffffffffffff    // fcvt.s.lu(0x7fffffffffffffff) rdn
        FS_FX fcvt.s.lu, rup, 0x5f000000, FF_NX, 0x7fffffffffffffff    // fcvt.s.lu(0x7fffffffffffffff) rup
        FS_FX fcvt.s.lu, rmm, 0x5f000000, FF_NX, 0x7fffffffffffffff    // fcvt.s.lu(0x7fffffffffffffff) rmm
        FS_FX fcvt.s.w, rne, 0x00000000, 0, 0x8000000000000000    // fcvt.s.w(0x8000000000000000) rne
        FS_FX fcvt.s.wu, rne, 0x00000000, 0, 0x8000000000000000    // fcvt.s.wu(0x8000000000000000) rne
        FS_FX fcvt.s.l, rne, 0xdf000000, 0, 0x8000000000000000    // fcvt.s.l(0x8000000000000000) rne
        FS_FX fcvt.s.lu, rne, 0x5f000000, 0, 0x8000000000000000    // fcvt.s.lu(0x8000000000000000) rne
        FS_FX fcvt.s.w, rne, 0xcf000000, 0, 0x1234567880000000    // fcvt.s.w(0x1234567880000000) rne
        FS_FX fcvt.s.wu, rne, 0x4f000000, 0, 0x1234567880000000    // fcvt.s.wu(0x1234567880000000) rne
        FS_FX fcvt.s.l, rne, 0x5d91a2b4, FF_NX, 0x1234567880000000    // fcvt.s.l(0x1234567880000000) rne
        FS_FX fcvt.s.lu, rne, 0x5d91a2b4, FF_NX, 0x1234567880000000    // fcvt.s.lu(0x1234567880000000) rne
        FS_FX fcvt.s.w, rne, 0x40400000, 0, 0xfffffffe00000003    // fcvt.s.w(0xfffffffe00000003) rne
        FS_FX fcvt.s.wu, rne, 0x40400000, 0, 0xfffffffe00000003    // fcvt.s.wu(0xfffffffe00000003) rne
        FS_FX fcvt.s.l, rne, 0xd0000000, FF_NX, 0xfffffffe00000003    // fcvt.s.l(0xfffffffe00000003) rne
        FS_FX fcvt.s.l, rtz, 0xcfffffff, FF_NX, 0xfffffffe00000003    // fcvt.s.l(0xfffffffe00000003) rtz
        FS_FX fcvt.s.l, rdn, 0xd0000000, FF_NX, 0xfffffffe00000003    // fcvt.s.l(0xfffffffe00000003) rdn
        FS_FX fcvt.s.l, rup, 0xcfffffff, FF_NX, 0xfffffffe00000003    // fcvt.s.l(0xfffffffe00000003) rup
        FS_FX fcvt.s.l, rmm, 0xd0000000, FF_NX, 0xfffffffe00000003    // fcvt.s.l(0xfffffffe00000003) rmm
        FS_FX fcvt.s.lu, rne, 0x5f800000, FF_NX, 0xfffffffe00000003    // fcvt.s.lu(0xfffffffe00000003) rne
        FS_FX fcvt.s.lu, rtz, 0x5f7fffff, FF_NX, 0xfffffffe00000003    // fcvt.s.lu(0xfffffffe00000003) rtz
        FS_FX fcvt.s.lu, rdn, 0x5f7fffff, FF_NX, 0xfffffffe00000003    // fcvt.s.lu(0xfffffffe00000003) rdn
        FS_FX fcvt.s.lu, rup, 0x5f800000, FF_NX, 0xfffffffe00000003    // fcvt.s.lu(0xfffffffe00000003) rup
        FS_FX fcvt.s.lu, rmm, 0x5f800000, FF_NX, 0xfffffffe00000003    // fcvt.s.lu(0xfffffffe00000003) rmm
        FS_FX fcvt.s.w, rne, 0xcb7fffff, 0, 0xffffffffff000001    // fcvt.s.w(0xffffffffff000001) rne
        FS_FX fcvt.s.wu, rne, 0x4f7f0000, FF_NX, 0xffffffffff000001    // fcvt.s.wu(0xffffffffff000001) rne
        FS_FX fcvt.s.wu, rtz, 0x4f7f0000, FF_NX, 0xffffffffff000001    // fcvt.s.wu(0xffffffffff000001) rtz
        FS_FX fcvt.s.wu, rdn, 0x4f7f0000, FF_NX, 0xffffffffff000001    // fcvt.s.wu(0xffffffffff000001) rdn
        FS_FX fcvt.s.wu, rup, 0x4f7f0001, FF_NX, 0xffffffffff000001    // fcvt.s.wu(0xffffffffff000001) rup
        FS_FX fcvt.s.wu, rmm, 0x4f7f0000, FF_NX, 0xffffffffff000001    // fcvt.s.wu(0xffffffffff000001) rmm
        FS_FX fcvt.s.l, rne, 0xcb7fffff, 0, 0xffffffffff000001    // fcvt.s.l(0xffffffffff000001) rne
        FS_FX fcvt.s.lu, rne, 0x5f800000, FF_NX, 0xffffffffff000001    // fcvt.s.lu(0xffffffffff000001) rne
        FS_FX fcvt.s.lu, rtz, 0x5f7fffff, FF_NX, 0xffffffffff000001    // fcvt.s.lu(0xffffffffff000001) rtz
        FS_FX fcvt.s.lu, rdn, 0x5f7fffff, FF_NX, 0xffffffffff000001    // fcvt.s.lu(0xffffffffff000001) rdn
        FS_FX fcvt.s.lu, rup, 0x5f800000, FF_NX, 0xffffffffff000001    // fcvt.s.lu(0xffffffffff000001) rup
        FS_FX fcvt.s.lu, rmm, 0x5f800000, FF_NX, 0xffffffffff000001    // fcvt.s.lu(0xffffffffff000001) rmm
// ------------------------------------------------- double <-> single
        FD_R_S fcvt.s.d, rne, 0x3eaaaaab, FF_NX, 0x3fd5555555555555    // fcvt.s.d(1/3) rne
        FD_R_S fcvt.s.d, rtz, 0x3eaaaaaa, FF_NX, 0x3fd5555555555555    // fcvt.s.d(1/3) rtz
        FD_R_S fcvt.s.d, rdn, 0x3eaaaaaa, FF_NX, 0x3fd5555555555555    // fcvt.s.d(1/3) rdn
        FD_R_S fcvt.s.d, rup, 0x3eaaaaab, FF_NX, 0x3fd5555555555555    // fcvt.s.d(1/3) rup
        FD_R_S fcvt.s.d, rmm, 0x3eaaaaab, FF_NX, 0x3fd5555555555555    // fcvt.s.d(1/3) rmm
        FD_R_S fcvt.s.d, rne, 0xbeaaaaab, FF_NX, 0xbfd5555555555555    // fcvt.s.d(-1/3) rne
        FD_R_S fcvt.s.d, rtz, 0xbeaaaaaa, FF_NX, 0xbfd5555555555555    // fcvt.s.d(-1/3) rtz
        FD_R_S fcvt.s.d, rdn, 0xbeaaaaab, FF_NX, 0xbfd5555555555555    // fcvt.s.d(-1/3) rdn
        FD_R_S fcvt.s.d, rup, 0xbeaaaaaa, FF_NX, 0xbfd5555555555555    // fcvt.s.d(-1/3) rup
        FD_R_S fcvt.s.d, rmm, 0xbeaaaaab, FF_NX, 0xbfd5555555555555    // fcvt.s.d(-1/3) rmm
        FD_R_S fcvt.s.d, rne, 0x7f800000, FF_OF|FF_NX, 0x7fefffffffffffff    // fcvt.s.d(max double) rne
        FD_R_S fcvt.s.d, rtz, 0x7f7fffff, FF_OF|FF_NX, 0x7fefffffffffffff    // fcvt.s.d(max double) rtz
        FD_R_S fcvt.s.d, rdn, 0x7f7fffff, FF_OF|FF_NX, 0x7fefffffffffffff    // fcvt.s.d(max double) rdn
        FD_R_S fcvt.s.d, rup, 0x7f800000, FF_OF|FF_NX, 0x7fefffffffffffff    // fcvt.s.d(max double) rup
        FD_R_S fcvt.s.d, rmm, 0x7f800000, FF_OF|FF_NX, 0x7fefffffffffffff    // fcvt.s.d(max double) rmm
        FD_R_S fcvt.s.d, rne, 0xff800000, FF_OF|FF_NX, 0xffefffffffffffff    // fcvt.s.d(-max double) rne
        FD_R_S fcvt.s.d, rtz, 0xff7fffff, FF_OF|FF_NX, 0xffefffffffffffff    // fcvt.s.d(-max double) rtz
        FD_R_S fcvt.s.d, rdn, 0xff800000, FF_OF|FF_NX, 0xffefffffffffffff    // fcvt.s.d(-max double) rdn
        FD_R_S fcvt.s.d, rup, 0xff7fffff, FF_OF|FF_NX, 0xffefffffffffffff    // fcvt.s.d(-max double) rup
        FD_R_S fcvt.s.d, rmm, 0xff800000, FF_OF|FF_NX, 0xffefffffffffffff    // fcvt.s.d(-max double) rmm
        FD_R_S fcvt.s.d, rne, 0x00000000, FF_UF|FF_NX, 0x0010000000000000    // fcvt.s.d(min normal double) rne
        FD_R_S fcvt.s.d, rtz, 0x00000000, FF_UF|FF_NX, 0x0010000000000000    // fcvt.s.d(min normal double) rtz
        FD_R_S fcvt.s.d, rdn, 0x00000000, FF_UF|FF_NX, 0x0010000000000000    // fcvt.s.d(min normal double) rdn
        FD_R_S fcvt.s.d, rup, 0x00000001, FF_UF|FF_NX, 0x0010000000000000    // fcvt.s.d(min normal double) rup
        FD_R_S fcvt.s.d, rmm, 0x00000000, FF_UF|FF_NX, 0x0010000000000000    // fcvt.s.d(min normal double) rmm
        FD_R_S fcvt.s.d, rne, 0x00000001, 0, 0x36a0000000000000    // fcvt.s.d(2^-149) rne
        FD_R_S fcvt.s.d, rne, 0x00000002, FF_UF|FF_NX, 0x36a8000000000000    // fcvt.s.d(1.5*2^-149) rne
        FD_R_S fcvt.s.d, rtz, 0x00000001, FF_UF|FF_NX, 0x36a8000000000000    // fcvt.s.d(1.5*2^-149) rtz
        FD_R_S fcvt.s.d, rdn, 0x00000001, FF_UF|FF_NX, 0x36a8000000000000    // fcvt.s.d(1.5*2^-149) rdn
        FD_R_S fcvt.s.d, rup, 0x00000002, FF_UF|FF_NX, 0x36a8000000000000    // fcvt.s.d(1.5*2^-149) rup
        FD_R_S fcvt.s.d, rmm, 0x00000002, FF_UF|FF_NX, 0x36a8000000000000    // fcvt.s.d(1.5*2^-149) rmm
        FD_R_S fcvt.s.d, rne, 0x00800000, FF_UF|FF_NX, 0x380fffffe0000000    // fcvt.s.d(2^-126 - 2^-150) rne
        FD_R_S fcvt.s.d, rtz, 0x007fffff, FF_UF|FF_NX, 0x380fffffe0000000    // fcvt.s.d(2^-126 - 2^-150) rtz
        FD_R_S fcvt.s.d, rdn, 0x007fffff, FF_UF|FF_NX, 0x380fffffe0000000    // fcvt.s.d(2^-126 - 2^-150) rdn
        FD_R_S fcvt.s.d, rup, 0x00800000, FF_UF|FF_NX, 0x380fffffe0000000    // fcvt.s.d(2^-126 - 2^-150) rup
        FD_R_S fcvt.s.d, rmm, 0x00800000, FF_UF|FF_NX, 0x380fffffe0000000    // fcvt.s.d(2^-126 - 2^-150) rmm
        FD_R_S fcvt.s.d, rne, 0x7f7fffff, 0, 0x47efffffe0000000    // fcvt.s.d(max single) rne
        FD_R_S fcvt.s.d, rne, 0x7f800000, FF_OF|FF_NX, 0x47effffff0000000    // fcvt.s.d(max single + half ulp) rne
        FD_R_S fcvt.s.d, rtz, 0x7f7fffff, FF_NX, 0x47effffff0000000    // fcvt.s.d(max single + half ulp) rtz
        FD_R_S fcvt.s.d, rdn, 0x7f7fffff, FF_NX, 0x47effffff0000000    // fcvt.s.d(max single + half ulp) rdn
        FD_R_S fcvt.s.d, rup, 0x7f800000, FF_OF|FF_NX, 0x47effffff0000000    // fcvt.s.d(max single + half ulp) rup
        FD_R_S fcvt.s.d, rmm, 0x7f800000, FF_OF|FF_NX, 0x47effffff0000000    // fcvt.s.d(max single + half ulp) rmm
        FD_R_S fcvt.s.d, rne, 0x80000000, 0, 0x8000000000000000    // fcvt.s.d(-0) rne
        FD_R_S fcvt.s.d, rne, 0xff800000, 0, 0xfff0000000000000    // fcvt.s.d(-inf) rne
        FD_R_S fcvt.s.d, rne, 0x7fc00000, 0, 0xfff8000000000123    // fcvt.s.d(qNaN payload) rne
        FD_R_S fcvt.s.d, rne, 0x7fc00000, FF_NV, 0x7ff0000000000001    // fcvt.s.d(sNaN) rne
        FD_R_S fcvt.s.d, rne, 0x3f800000, 0, 0x3ff0000000000000    // fcvt.s.d(1.0) rne
        FS_R_D fcvt.d.s, , 0x3fd5555560000000, 0, 0x3eaaaaab    // fcvt.d.s(1/3) exact
        FS_R_D fcvt.d.s, , 0x36a0000000000000, 0, 0x00000001    // fcvt.d.s(min subnormal) exact
        FS_R_D fcvt.d.s, , 0xb80fffffc0000000, 0, 0x807fffff    // fcvt.d.s(-max subnormal) exact
        FS_R_D fcvt.d.s, , 0x47efffffe0000000, 0, 0x7f7fffff    // fcvt.d.s(max) exact
        FS_R_D fcvt.d.s, , 0x8000000000000000, 0, 0x80000000    // fcvt.d.s(-0) exact
        FS_R_D fcvt.d.s, , 0x7ff0000000000000, 0, 0x7f800000    // fcvt.d.s(inf) exact
        FS_R_D fcvt.d.s, , 0x7ff8000000000000, FF_NV, 0x7f800001    // fcvt.d.s(sNaN) exact
        FS_R_D fcvt.d.s, , 0x7ff8000000000000, 0, 0xffc00123    // fcvt.d.s(qNaN payload) exact
        FS_R_D fcvt.d.s, , 0xbff8000000000000, 0, 0xbfc00000    // fcvt.d.s(-1.5) exact

// ---------------------------------------------------- dynamic rounding mode
// frm = 0 (rne)
        TEST_CASE
        fsrmi   a0, 0    // returns the old frm
        CHECK   a0, 0
        frrm    a0
        CHECK   a0, 0
        FD_X fcvt.w.d, dyn, 0x0000000000000002, FF_NX, 0x4004000000000000    // 2.5
        FD_X fcvt.l.d, , 0xfffffffffffffffe, FF_NX, 0xc004000000000000    // -2.5, rm omitted = dyn
        FS_X fcvt.w.s, dyn, 0xfffffffffffffffc, FF_NX, 0xc0600000    // -3.5
        FD_RR fadd.d, dyn, 0x3ff0000000000000, FF_NX, 0x3ff0000000000000, 0x3ca0000000000000
        FS_RR fadd.s, , 0xbf800000, FF_NX, 0xbf800000, 0xb3800000
        FD_RR fdiv.d, , 0x3fe5555555555555, FF_NX, 0x4000000000000000, 0x4008000000000000
        FS_RRR fmadd.s, dyn, 0x33000000, 0, 0x3eaaaaab, 0x40400000, 0xbf800000
        FS_FX fcvt.s.l, dyn, 0x4b800002, FF_NX, 16777219
        FD_R_S fcvt.s.d, dyn, 0xbeaaaaab, FF_NX, 0xbfd5555555555555
        FD_R fsqrt.d, dyn, 0x3ff6a09e667f3bcd, FF_NX, 0x4000000000000000
        FD_RR fsub.d, dyn, 0x0000000000000000, 0, 0x3ff0000000000000, 0x3ff0000000000000    // zero sign depends on rm
// frm = 1 (rtz)
        TEST_CASE
        fsrmi   a0, 1    // returns the old frm
        CHECK   a0, 0
        frrm    a0
        CHECK   a0, 1
        FD_X fcvt.w.d, dyn, 0x0000000000000002, FF_NX, 0x4004000000000000    // 2.5
        FD_X fcvt.l.d, , 0xfffffffffffffffe, FF_NX, 0xc004000000000000    // -2.5, rm omitted = dyn
        FS_X fcvt.w.s, dyn, 0xfffffffffffffffd, FF_NX, 0xc0600000    // -3.5
        FD_RR fadd.d, dyn, 0x3ff0000000000000, FF_NX, 0x3ff0000000000000, 0x3ca0000000000000
        FS_RR fadd.s, , 0xbf800000, FF_NX, 0xbf800000, 0xb3800000
        FD_RR fdiv.d, , 0x3fe5555555555555, FF_NX, 0x4000000000000000, 0x4008000000000000
        FS_RRR fmadd.s, dyn, 0x33000000, 0, 0x3eaaaaab, 0x40400000, 0xbf800000
        FS_FX fcvt.s.l, dyn, 0x4b800001, FF_NX, 16777219
        FD_R_S fcvt.s.d, dyn, 0xbeaaaaaa, FF_NX, 0xbfd5555555555555
        FD_R fsqrt.d, dyn, 0x3ff6a09e667f3bcc, FF_NX, 0x4000000000000000
        FD_RR fsub.d, dyn, 0x0000000000000000, 0, 0x3ff0000000000000, 0x3ff0000000000000    // zero sign depends on rm
// frm = 2 (rdn)
        TEST_CASE
        fsrmi   a0, 2    // returns the old frm
        CHECK   a0, 1
        frrm    a0
        CHECK   a0, 2
        FD_X fcvt.w.d, dyn, 0x0000000000000002, FF_NX, 0x4004000000000000    // 2.5
        FD_X fcvt.l.d, , 0xfffffffffffffffd, FF_NX, 0xc004000000000000    // -2.5, rm omitted = dyn
        FS_X fcvt.w.s, dyn, 0xfffffffffffffffc, FF_NX, 0xc0600000    // -3.5
        FD_RR fadd.d, dyn, 0x3ff0000000000000, FF_NX, 0x3ff0000000000000, 0x3ca0000000000000
        FS_RR fadd.s, , 0xbf800001, FF_NX, 0xbf800000, 0xb3800000
        FD_RR fdiv.d, , 0x3fe5555555555555, FF_NX, 0x4000000000000000, 0x4008000000000000
        FS_RRR fmadd.s, dyn, 0x33000000, 0, 0x3eaaaaab, 0x40400000, 0xbf800000
        FS_FX fcvt.s.l, dyn, 0x4b800001, FF_NX, 16777219
        FD_R_S fcvt.s.d, dyn, 0xbeaaaaab, FF_NX, 0xbfd5555555555555
        FD_R fsqrt.d, dyn, 0x3ff6a09e667f3bcc, FF_NX, 0x4000000000000000
        FD_RR fsub.d, dyn, 0x8000000000000000, 0, 0x3ff0000000000000, 0x3ff0000000000000    // zero sign depends on rm
// frm = 3 (rup)
        TEST_CASE
        fsrmi   a0, 3    // returns the old frm
        CHECK   a0, 2
        frrm    a0
        CHECK   a0, 3
        FD_X fcvt.w.d, dyn, 0x0000000000000003, FF_NX, 0x4004000000000000    // 2.5
        FD_X fcvt.l.d, , 0xfffffffffffffffe, FF_NX, 0xc004000000000000    // -2.5, rm omitted = dyn
        FS_X fcvt.w.s, dyn, 0xfffffffffffffffd, FF_NX, 0xc0600000    // -3.5
        FD_RR fadd.d, dyn, 0x3ff0000000000001, FF_NX, 0x3ff0000000000000, 0x3ca0000000000000
        FS_RR fadd.s, , 0xbf800000, FF_NX, 0xbf800000, 0xb3800000
        FD_RR fdiv.d, , 0x3fe5555555555556, FF_NX, 0x4000000000000000, 0x4008000000000000
        FS_RRR fmadd.s, dyn, 0x33000000, 0, 0x3eaaaaab, 0x40400000, 0xbf800000
        FS_FX fcvt.s.l, dyn, 0x4b800002, FF_NX, 16777219
        FD_R_S fcvt.s.d, dyn, 0xbeaaaaaa, FF_NX, 0xbfd5555555555555
        FD_R fsqrt.d, dyn, 0x3ff6a09e667f3bcd, FF_NX, 0x4000000000000000
        FD_RR fsub.d, dyn, 0x0000000000000000, 0, 0x3ff0000000000000, 0x3ff0000000000000    // zero sign depends on rm
// frm = 4 (rmm)
        TEST_CASE
        fsrmi   a0, 4    // returns the old frm
        CHECK   a0, 3
        frrm    a0
        CHECK   a0, 4
        FD_X fcvt.w.d, dyn, 0x0000000000000003, FF_NX, 0x4004000000000000    // 2.5
        FD_X fcvt.l.d, , 0xfffffffffffffffd, FF_NX, 0xc004000000000000    // -2.5, rm omitted = dyn
        FS_X fcvt.w.s, dyn, 0xfffffffffffffffc, FF_NX, 0xc0600000    // -3.5
        FD_RR fadd.d, dyn, 0x3ff0000000000001, FF_NX, 0x3ff0000000000000, 0x3ca0000000000000
        FS_RR fadd.s, , 0xbf800001, FF_NX, 0xbf800000, 0xb3800000
        FD_RR fdiv.d, , 0x3fe5555555555555, FF_NX, 0x4000000000000000, 0x4008000000000000
        FS_RRR fmadd.s, dyn, 0x33000000, 0, 0x3eaaaaab, 0x40400000, 0xbf800000
        FS_FX fcvt.s.l, dyn, 0x4b800002, FF_NX, 16777219
        FD_R_S fcvt.s.d, dyn, 0xbeaaaaab, FF_NX, 0xbfd5555555555555
        FD_R fsqrt.d, dyn, 0x3ff6a09e667f3bcd, FF_NX, 0x4000000000000000
        FD_RR fsub.d, dyn, 0x0000000000000000, 0, 0x3ff0000000000000, 0x3ff0000000000000    // zero sign depends on rm
        fsrmi   zero, 0

// ------------------------------------------------------ fflags / frm / fcsr
        TEST_CASE                       // flags accrue until cleared
        fscsr   zero
        li      a1, 0x3ff0000000000000  // 1.0
        fmv.d.x fa0, a1
        fmv.d.x fa1, zero
        fdiv.d  fa2, fa0, fa1, rne      // DZ
        frflags a0
        CHECK   a0, FF_DZ
        li      a1, 0x4008000000000000  // 3.0
        fmv.d.x fa3, a1
        fdiv.d  fa2, fa0, fa3, rne      // NX
        frflags a0
        CHECK   a0, FF_DZ|FF_NX
        fadd.d  fa2, fa0, fa0, rne      // exact: nothing new, nothing cleared
        frflags a0
        CHECK   a0, FF_DZ|FF_NX
        fsqrt.d fa2, fa1, rne           // sqrt(+0): exact
        li      a1, 0xbff0000000000000
        fmv.d.x fa3, a1
        fsqrt.d fa2, fa3, rne           // NV
        frflags a0
        CHECK   a0, FF_DZ|FF_NX|FF_NV
        fsflags a0, zero                // returns the old value, clears
        CHECK   a0, FF_DZ|FF_NX|FF_NV
        frflags a0
        CHECK   a0, 0

        TEST_CASE                       // fcsr = frm << 5 | fflags
        fscsr   zero
        fsrmi   3
        fsflagsi FF_OF|FF_UF
        frcsr   a0
        CHECK   a0, (3 << 5) | FF_OF | FF_UF
        li      a1, 0xff
        fscsr   a2, a1                  // returns the old fcsr
        CHECK   a2, (3 << 5) | FF_OF | FF_UF
        frrm    a0
        CHECK   a0, 7
        frflags a0
        CHECK   a0, 0x1f
        li      a1, 0xffffffffffffff00  // reserved bits ignored, read as 0
        csrw    fcsr, a1
        frcsr   a0
        CHECK   a0, 0
        li      a1, 0xffffffffffffffff
        csrw    fflags, a1              // only 5 bits
        csrr    a0, fflags
        CHECK   a0, 0x1f
        csrr    a0, fcsr
        CHECK   a0, 0x1f
        csrw    frm, a1                 // only 3 bits
        csrr    a0, frm
        CHECK   a0, 7
        csrr    a0, fcsr
        CHECK   a0, 0xff
        csrci   fflags, FF_NX|FF_NV
        csrr    a0, fcsr
        CHECK   a0, 0xee
        csrsi   frm, 0
        csrci   frm, 5
        csrr    a0, fcsr
        CHECK   a0, 0x4e
        fscsr   zero

// ------------------------------------------------ invalid rounding modes
        li      a1, 0x3ff0000000000000
        fmv.d.x fa0, a1
        fmv.d.x fa1, a1
        fsrmi   5
        TEST_TRAP_TVAL CAUSE_ILLEGAL, 0x02b5f553, fadd.d fa0, fa1, fa1, dyn
        fsrmi   6
        TEST_TRAP CAUSE_ILLEGAL, fcvt.w.d a0, fa1, dyn
        fsrmi   7
        TEST_TRAP CAUSE_ILLEGAL, fmadd.s fa0, fa1, fa1, fa1, dyn
        TEST_CASE                       // static modes still work with a bad frm
        fadd.d  fa2, fa0, fa1, rne
        CHECKF  fa2, 0x4000000000000000
        fsrmi   0
        TEST_TRAP_TVAL CAUSE_ILLEGAL, 0x02b5d553, .insn r OP_FP, 5, 1, fa0, fa1, fa1    // fadd.d rm=5
        TEST_TRAP CAUSE_ILLEGAL, .insn r OP_FP, 6, 0, fa0, fa1, fa1                     // fadd.s rm=6
        TEST_CASE                       // the trapping instructions did not write fa0
        CHECKF  fa0, 0x3ff0000000000000
        PASS
