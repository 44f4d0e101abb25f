// RV64F single-precision arithmetic (same coverage as rv64d.S, see there),
// plus NaN boxing: every single result is written NaN-boxed (upper 32 bits
// all ones, checked with FMV.X.D), FLW and FMV.W.X box, FMV.X.W sign-extends
// the low 32 bits without checking the box, FSW stores the low 32 bits, and
// single-precision operations that read a register which is not a properly
// boxed single see the canonical NaN (arithmetic, compares, class, sign
// injection, min/max, conversions, FMA).
#include "common.h"

// ---------------------------------------------------------------- fadd.s
        FS_RR fadd.s, rne, 0x40400000, 0, 0x3f800000, 0x40000000    // ONE fadd TWO rne
        FS_RR fadd.s, rne, 0x3f800000, FF_NX, 0x3f800000, 0x33800000    // tie: 1 + ulp/2
        FS_RR fadd.s, rtz, 0x3f800000, FF_NX, 0x3f800000, 0x33800000    // tie: 1 + ulp/2
        FS_RR fadd.s, rdn, 0x3f800000, FF_NX, 0x3f800000, 0x33800000    // tie: 1 + ulp/2
        FS_RR fadd.s, rup, 0x3f800001, FF_NX, 0x3f800000, 0x33800000    // tie: 1 + ulp/2
        FS_RR fadd.s, rmm, 0x3f800001, FF_NX, 0x3f800000, 0x33800000    // tie: 1 + ulp/2
        FS_RR fadd.s, rne, 0x3f800001, FF_NX, 0x3f800000, 0x33c00000    // 1 + 3/4 ulp
        FS_RR fadd.s, rtz, 0x3f800000, FF_NX, 0x3f800000, 0x33c00000    // 1 + 3/4 ulp
        FS_RR fadd.s, rdn, 0x3f800000, FF_NX, 0x3f800000, 0x33c00000    // 1 + 3/4 ulp
        FS_RR fadd.s, rup, 0x3f800001, FF_NX, 0x3f800000, 0x33c00000    // 1 + 3/4 ulp
        FS_RR fadd.s, rmm, 0x3f800001, FF_NX, 0x3f800000, 0x33c00000    // 1 + 3/4 ulp
        FS_RR fadd.s, rne, 0xbf800000, FF_NX, 0xbf800000, 0xb3800000    // -1 - ulp/2
        FS_RR fadd.s, rtz, 0xbf800000, FF_NX, 0xbf800000, 0xb3800000    // -1 - ulp/2
        FS_RR fadd.s, rdn, 0xbf800001, FF_NX, 0xbf800000, 0xb3800000    // -1 - ulp/2
        FS_RR fadd.s, rup, 0xbf800000, FF_NX, 0xbf800000, 0xb3800000    // -1 - ulp/2
        FS_RR fadd.s, rmm, 0xbf800001, FF_NX, 0xbf800000, 0xb3800000    // -1 - ulp/2
        FS_RR fadd.s, rne, 0x00000000, 0, 0x3f800000, 0xbf800000    // exact zero: -0 only in rdn
        FS_RR fadd.s, rtz, 0x00000000, 0, 0x3f800000, 0xbf800000    // exact zero: -0 only in rdn
        FS_RR fadd.s, rdn, 0x80000000, 0, 0x3f800000, 0xbf800000    // exact zero: -0 only in rdn
        FS_RR fadd.s, rup, 0x00000000, 0, 0x3f800000, 0xbf800000    // exact zero: -0 only in rdn
        FS_RR fadd.s, rmm, 0x00000000, 0, 0x3f800000, 0xbf800000    // exact zero: -0 only in rdn
        FS_RR fadd.s, rne, 0x80000000, 0, 0x80000000, 0x80000000    // NZ fadd NZ rne
        FS_RR fadd.s, rdn, 0x80000000, 0, 0x80000000, 0x80000000    // NZ fadd NZ rdn
        FS_RR fadd.s, rne, 0x00000000, 0, 0x00000000, 0x80000000    // Z fadd NZ rne
        FS_RR fadd.s, rdn, 0x80000000, 0, 0x00000000, 0x80000000    // Z fadd NZ rdn
        FS_RR fadd.s, rne, 0x7f800000, FF_OF|FF_NX, 0x7f7fffff, 0x7f7fffff    // overflow
        FS_RR fadd.s, rtz, 0x7f7fffff, FF_OF|FF_NX, 0x7f7fffff, 0x7f7fffff    // overflow
        FS_RR fadd.s, rdn, 0x7f7fffff, FF_OF|FF_NX, 0x7f7fffff, 0x7f7fffff    // overflow
        FS_RR fadd.s, rup, 0x7f800000, FF_OF|FF_NX, 0x7f7fffff, 0x7f7fffff    // overflow
        FS_RR fadd.s, rmm, 0x7f800000, FF_OF|FF_NX, 0x7f7fffff, 0x7f7fffff    // overflow
        FS_RR fadd.s, rne, 0xff800000, FF_OF|FF_NX, 0xff7fffff, 0xff7fffff    // negative overflow
        FS_RR fadd.s, rtz, 0xff7fffff, FF_OF|FF_NX, 0xff7fffff, 0xff7fffff    // negative overflow
        FS_RR fadd.s, rdn, 0xff800000, FF_OF|FF_NX, 0xff7fffff, 0xff7fffff    // negative overflow
        FS_RR fadd.s, rup, 0xff7fffff, FF_OF|FF_NX, 0xff7fffff, 0xff7fffff    // negative overflow
        FS_RR fadd.s, rmm, 0xff800000, FF_OF|FF_NX, 0xff7fffff, 0xff7fffff    // negative overflow
        FS_RR fadd.s, rne, 0x7fc00000, FF_NV, 0x7f800000, 0xff800000    // inf - inf: invalid
        FS_RR fadd.s, rne, 0x7f800000, 0, 0x7f800000, 0x7f7fffff    // INF fadd MAX rne
        FS_RR fadd.s, rne, 0x7fc00000, 0, 0x7fc00000, 0x3f800000    // qNaN in: canonical NaN, no flag
        FS_RR fadd.s, rne, 0x7fc00000, 0, 0xffc00123, 0x3f800000    // payload dropped, sign cleared
        FS_RR fadd.s, rne, 0x7fc00000, FF_NV, 0x3f800000, 0x7f800001    // sNaN: invalid
        FS_RR fadd.s, rne, 0x7fc00000, FF_NV, 0x7fa00abc, 0x7fc00000    // SNANP fadd QNAN rne
        FS_RR fadd.s, rne, 0x00000002, 0, 0x00000001, 0x00000001    // subnormals, exact
        FS_RR fadd.s, rne, 0x00800000, 0, 0x007fffff, 0x00000001    // subnormal -> min normal, exact
        FS_RR fadd.s, rne, 0x405e6530, FF_NX, 0x40490fdb, 0x3eaaaaab    // PI fadd THIRD rne
        FS_RR fadd.s, rtz, 0x405e6530, FF_NX, 0x40490fdb, 0x3eaaaaab    // PI fadd THIRD rtz
        FS_RR fadd.s, rdn, 0x405e6530, FF_NX, 0x40490fdb, 0x3eaaaaab    // PI fadd THIRD rdn
        FS_RR fadd.s, rup, 0x405e6531, FF_NX, 0x40490fdb, 0x3eaaaaab    // PI fadd THIRD rup
        FS_RR fadd.s, rmm, 0x405e6530, FF_NX, 0x40490fdb, 0x3eaaaaab    // PI fadd THIRD rmm
// ---------------------------------------------------------------- fsub.s
        FS_RR fsub.s, rne, 0x00000000, 0, 0x3f800000, 0x3f800000    // x - x
        FS_RR fsub.s, rtz, 0x00000000, 0, 0x3f800000, 0x3f800000    // x - x
        FS_RR fsub.s, rdn, 0x80000000, 0, 0x3f800000, 0x3f800000    // x - x
        FS_RR fsub.s, rup, 0x00000000, 0, 0x3f800000, 0x3f800000    // x - x
        FS_RR fsub.s, rmm, 0x00000000, 0, 0x3f800000, 0x3f800000    // x - x
        FS_RR fsub.s, rne, 0x80000000, 0, 0x80000000, 0x00000000    // -0 - +0 = -0
        FS_RR fsub.s, rne, 0x00000000, 0, 0x00000000, 0x00000000    // Z fsub Z rne
        FS_RR fsub.s, rdn, 0x80000000, 0, 0x00000000, 0x00000000    // Z fsub Z rdn
        FS_RR fsub.s, rne, 0x7fc00000, FF_NV, 0x7f800000, 0x7f800000    // invalid
        FS_RR fsub.s, rne, 0xff800000, 0, 0xff800000, 0x7f800000    // NINF fsub INF rne
        FS_RR fsub.s, rne, 0x3f7fffff, 0, 0x3f800000, 0x33800000    // ONE fsub HEPS rne
        FS_RR fsub.s, rtz, 0x3f7fffff, 0, 0x3f800000, 0x33800000    // ONE fsub HEPS rtz
        FS_RR fsub.s, rdn, 0x3f7fffff, 0, 0x3f800000, 0x33800000    // ONE fsub HEPS rdn
        FS_RR fsub.s, rup, 0x3f7fffff, 0, 0x3f800000, 0x33800000    // ONE fsub HEPS rup
        FS_RR fsub.s, rmm, 0x3f7fffff, 0, 0x3f800000, 0x33800000    // ONE fsub HEPS rmm
        FS_RR fsub.s, rne, 0x007fffff, 0, 0x00800000, 0x00000001    // result subnormal, exact: no UF
        FS_RR fsub.s, rne, 0x7fc00000, FF_NV, 0x7f800001, 0x7f800001    // SNAN fsub SNAN rne
        FS_RR fsub.s, rne, 0x411aaaab, FF_NX, 0x41200000, 0x3eaaaaab    // TEN fsub THIRD rne
        FS_RR fsub.s, rtz, 0x411aaaaa, FF_NX, 0x41200000, 0x3eaaaaab    // TEN fsub THIRD rtz
        FS_RR fsub.s, rdn, 0x411aaaaa, FF_NX, 0x41200000, 0x3eaaaaab    // TEN fsub THIRD rdn
        FS_RR fsub.s, rup, 0x411aaaab, FF_NX, 0x41200000, 0x3eaaaaab    // TEN fsub THIRD rup
        FS_RR fsub.s, rmm, 0x411aaaab, FF_NX, 0x41200000, 0x3eaaaaab    // TEN fsub THIRD rmm
// ---------------------------------------------------------------- fmul.s
        FS_RR fmul.s, rne, 0x40c00000, 0, 0x40000000, 0x40400000    // TWO fmul THREE rne
        FS_RR fmul.s, rne, 0x3f800000, FF_NX, 0x3eaaaaab, 0x40400000    // THIRD fmul THREE rne
        FS_RR fmul.s, rtz, 0x3f800000, FF_NX, 0x3eaaaaab, 0x40400000    // THIRD fmul THREE rtz
        FS_RR fmul.s, rdn, 0x3f800000, FF_NX, 0x3eaaaaab, 0x40400000    // THIRD fmul THREE rdn
        FS_RR fmul.s, rup, 0x3f800001, FF_NX, 0x3eaaaaab, 0x40400000    // THIRD fmul THREE rup
        FS_RR fmul.s, rmm, 0x3f800000, FF_NX, 0x3eaaaaab, 0x40400000    // THIRD fmul THREE rmm
        FS_RR fmul.s, rne, 0x00400000, 0, 0x00800000, 0x3f000000    // exact subnormal: no UF
        FS_RR fmul.s, rne, 0x00000000, FF_UF|FF_NX, 0x00000001, 0x3f000000    // underflow to 0 / min subnormal
        FS_RR fmul.s, rtz, 0x00000000, FF_UF|FF_NX, 0x00000001, 0x3f000000    // underflow to 0 / min subnormal
        FS_RR fmul.s, rdn, 0x00000000, FF_UF|FF_NX, 0x00000001, 0x3f000000    // underflow to 0 / min subnormal
        FS_RR fmul.s, rup, 0x00000001, FF_UF|FF_NX, 0x00000001, 0x3f000000    // underflow to 0 / min subnormal
        FS_RR fmul.s, rmm, 0x00000001, FF_UF|FF_NX, 0x00000001, 0x3f000000    // underflow to 0 / min subnormal
        FS_RR fmul.s, rne, 0x002aaaab, FF_UF|FF_NX, 0x00800000, 0x3eaaaaab    // tiny and inexact: UF
        FS_RR fmul.s, rtz, 0x002aaaaa, FF_UF|FF_NX, 0x00800000, 0x3eaaaaab    // tiny and inexact: UF
        FS_RR fmul.s, rdn, 0x002aaaaa, FF_UF|FF_NX, 0x00800000, 0x3eaaaaab    // tiny and inexact: UF
        FS_RR fmul.s, rup, 0x002aaaab, FF_UF|FF_NX, 0x00800000, 0x3eaaaaab    // tiny and inexact: UF
        FS_RR fmul.s, rmm, 0x002aaaab, FF_UF|FF_NX, 0x00800000, 0x3eaaaaab    // tiny and inexact: UF
        FS_RR fmul.s, rne, 0x7f800000, FF_OF|FF_NX, 0x7f7fffff, 0x40000000    // overflow
        FS_RR fmul.s, rtz, 0x7f7fffff, FF_OF|FF_NX, 0x7f7fffff, 0x40000000    // overflow
        FS_RR fmul.s, rdn, 0x7f7fffff, FF_OF|FF_NX, 0x7f7fffff, 0x40000000    // overflow
        FS_RR fmul.s, rup, 0x7f800000, FF_OF|FF_NX, 0x7f7fffff, 0x40000000    // overflow
        FS_RR fmul.s, rmm, 0x7f800000, FF_OF|FF_NX, 0x7f7fffff, 0x40000000    // overflow
        FS_RR fmul.s, rne, 0xff800000, FF_OF|FF_NX, 0xff7fffff, 0x40000000    // NMAX fmul TWO rne
        FS_RR fmul.s, rtz, 0xff7fffff, FF_OF|FF_NX, 0xff7fffff, 0x40000000    // NMAX fmul TWO rtz
        FS_RR fmul.s, rdn, 0xff800000, FF_OF|FF_NX, 0xff7fffff, 0x40000000    // NMAX fmul TWO rdn
        FS_RR fmul.s, rup, 0xff7fffff, FF_OF|FF_NX, 0xff7fffff, 0x40000000    // NMAX fmul TWO rup
        FS_RR fmul.s, rmm, 0xff800000, FF_OF|FF_NX, 0xff7fffff, 0x40000000    // NMAX fmul TWO rmm
        FS_RR fmul.s, rne, 0x7fc00000, FF_NV, 0x00000000, 0x7f800000    // 0 * inf: invalid
        FS_RR fmul.s, rne, 0x7fc00000, FF_NV, 0xff800000, 0x80000000    // NINF fmul NZ rne
        FS_RR fmul.s, rne, 0x80000000, 0, 0x80000000, 0x40800000    // NZ fmul FOUR rne
        FS_RR fmul.s, rne, 0x7f800000, 0, 0xff800000, 0xbf800000    // NINF fmul NONE rne
        FS_RR fmul.s, rne, 0x7fc00000, 0, 0x7fc00000, 0x00000000    // QNAN fmul Z rne
        FS_RR fmul.s, rne, 0x7fc00000, FF_NV, 0x7fa00abc, 0x3f800000    // SNANP fmul ONE rne
        FS_RR fmul.s, rne, 0x411de9e7, FF_NX, 0x40490fdb, 0x40490fdb    // PI fmul PI rne
        FS_RR fmul.s, rtz, 0x411de9e6, FF_NX, 0x40490fdb, 0x40490fdb    // PI fmul PI rtz
        FS_RR fmul.s, rdn, 0x411de9e6, FF_NX, 0x40490fdb, 0x40490fdb    // PI fmul PI rdn
        FS_RR fmul.s, rup, 0x411de9e7, FF_NX, 0x40490fdb, 0x40490fdb    // PI fmul PI rup
        FS_RR fmul.s, rmm, 0x411de9e7, FF_NX, 0x40490fdb, 0x40490fdb    // PI fmul PI rmm
// ---------------------------------------------------------------- fdiv.s
        FS_RR fdiv.s, rne, 0x3eaaaaab, FF_NX, 0x3f800000, 0x40400000    // ONE fdiv THREE rne
        FS_RR fdiv.s, rtz, 0x3eaaaaaa, FF_NX, 0x3f800000, 0x40400000    // ONE fdiv THREE rtz
        FS_RR fdiv.s, rdn, 0x3eaaaaaa, FF_NX, 0x3f800000, 0x40400000    // ONE fdiv THREE rdn
        FS_RR fdiv.s, rup, 0x3eaaaaab, FF_NX, 0x3f800000, 0x40400000    // ONE fdiv THREE rup
        FS_RR fdiv.s, rmm, 0x3eaaaaab, FF_NX, 0x3f800000, 0x40400000    // ONE fdiv THREE rmm
        FS_RR fdiv.s, rne, 0xbeaaaaab, FF_NX, 0xbf800000, 0x40400000    // NONE fdiv THREE rne
        FS_RR fdiv.s, rtz, 0xbeaaaaaa, FF_NX, 0xbf800000, 0x40400000    // NONE fdiv THREE rtz
        FS_RR fdiv.s, rdn, 0xbeaaaaab, FF_NX, 0xbf800000, 0x40400000    // NONE fdiv THREE rdn
        FS_RR fdiv.s, rup, 0xbeaaaaaa, FF_NX, 0xbf800000, 0x40400000    // NONE fdiv THREE rup
        FS_RR fdiv.s, rmm, 0xbeaaaaab, FF_NX, 0xbf800000, 0x40400000    // NONE fdiv THREE rmm
        FS_RR fdiv.s, rne, 0x40600000, 0, 0x40e00000, 0x40000000    // SEVEN fdiv TWO rne
        FS_RR fdiv.s, rne, 0x7f800000, FF_DZ, 0x3f800000, 0x00000000    // divide by zero
        FS_RR fdiv.s, rne, 0xff800000, FF_DZ, 0xbf800000, 0x00000000    // NONE fdiv Z rne
        FS_RR fdiv.s, rne, 0xff800000, FF_DZ, 0x3f800000, 0x80000000    // ONE fdiv NZ rne
        FS_RR fdiv.s, rne, 0x7fc00000, FF_NV, 0x00000000, 0x00000000    // 0/0: invalid, not DZ
        FS_RR fdiv.s, rne, 0x7fc00000, FF_NV, 0x7f800000, 0x7f800000    // INF fdiv INF rne
        FS_RR fdiv.s, rne, 0x7f800000, 0, 0x7f800000, 0x00000000    // inf/0: no DZ
        FS_RR fdiv.s, rne, 0x80000000, 0, 0x3f800000, 0xff800000    // ONE fdiv NINF rne
        FS_RR fdiv.s, rne, 0x7fc00000, 0, 0x7fc00000, 0x00000000    // NaN/0: no DZ
        FS_RR fdiv.s, rne, 0x7fc00000, FF_NV, 0x7f800001, 0x3f800000    // SNAN fdiv ONE rne
        FS_RR fdiv.s, rne, 0x7f800000, FF_OF|FF_NX, 0x7f7fffff, 0x3f000000    // overflow
        FS_RR fdiv.s, rtz, 0x7f7fffff, FF_OF|FF_NX, 0x7f7fffff, 0x3f000000    // overflow
        FS_RR fdiv.s, rdn, 0x7f7fffff, FF_OF|FF_NX, 0x7f7fffff, 0x3f000000    // overflow
        FS_RR fdiv.s, rup, 0x7f800000, FF_OF|FF_NX, 0x7f7fffff, 0x3f000000    // overflow
        FS_RR fdiv.s, rmm, 0x7f800000, FF_OF|FF_NX, 0x7f7fffff, 0x3f000000    // overflow
        FS_RR fdiv.s, rne, 0x002aaaab, FF_UF|FF_NX, 0x00800000, 0x40400000    // underflow
        FS_RR fdiv.s, rtz, 0x002aaaaa, FF_UF|FF_NX, 0x00800000, 0x40400000    // underflow
        FS_RR fdiv.s, rdn, 0x002aaaaa, FF_UF|FF_NX, 0x00800000, 0x40400000    // underflow
        FS_RR fdiv.s, rup, 0x002aaaab, FF_UF|FF_NX, 0x00800000, 0x40400000    // underflow
        FS_RR fdiv.s, rmm, 0x002aaaab, FF_UF|FF_NX, 0x00800000, 0x40400000    // underflow
// ---------------------------------------------------------------- fsqrt.s
        FS_R fsqrt.s, rne, 0x40000000, 0, 0x40800000    // fsqrt FOUR rne
        FS_R fsqrt.s, rne, 0x3fb504f3, FF_NX, 0x40000000    // fsqrt TWO rne
        FS_R fsqrt.s, rtz, 0x3fb504f3, FF_NX, 0x40000000    // fsqrt TWO rtz
        FS_R fsqrt.s, rdn, 0x3fb504f3, FF_NX, 0x40000000    // fsqrt TWO rdn
        FS_R fsqrt.s, rup, 0x3fb504f4, FF_NX, 0x40000000    // fsqrt TWO rup
        FS_R fsqrt.s, rmm, 0x3fb504f3, FF_NX, 0x40000000    // fsqrt TWO rmm
        FS_R fsqrt.s, rne, 0x3fddb3d7, FF_NX, 0x40400000    // fsqrt THREE rne
        FS_R fsqrt.s, rtz, 0x3fddb3d7, FF_NX, 0x40400000    // fsqrt THREE rtz
        FS_R fsqrt.s, rdn, 0x3fddb3d7, FF_NX, 0x40400000    // fsqrt THREE rdn
        FS_R fsqrt.s, rup, 0x3fddb3d8, FF_NX, 0x40400000    // fsqrt THREE rup
        FS_R fsqrt.s, rmm, 0x3fddb3d7, FF_NX, 0x40400000    // fsqrt THREE rmm
        FS_R fsqrt.s, rne, 0x7fc00000, FF_NV, 0xbf800000    // invalid
        FS_R fsqrt.s, rne, 0x80000000, 0, 0x80000000    // sqrt(-0) = -0
        FS_R fsqrt.s, rne, 0x00000000, 0, 0x00000000    // fsqrt Z rne
        FS_R fsqrt.s, rne, 0x7f800000, 0, 0x7f800000    // fsqrt INF rne
        FS_R fsqrt.s, rne, 0x7fc00000, FF_NV, 0xff800000    // fsqrt NINF rne
        FS_R fsqrt.s, rne, 0x1a3504f3, FF_NX, 0x00000001    // fsqrt MINSUB rne
        FS_R fsqrt.s, rne, 0x5f7fffff, FF_NX, 0x7f7fffff    // fsqrt MAX rne
        FS_R fsqrt.s, rtz, 0x5f7fffff, FF_NX, 0x7f7fffff    // fsqrt MAX rtz
        FS_R fsqrt.s, rdn, 0x5f7fffff, FF_NX, 0x7f7fffff    // fsqrt MAX rdn
        FS_R fsqrt.s, rup, 0x5f800000, FF_NX, 0x7f7fffff    // fsqrt MAX rup
        FS_R fsqrt.s, rmm, 0x5f7fffff, FF_NX, 0x7f7fffff    // fsqrt MAX rmm
        FS_R fsqrt.s, rne, 0x7fc00000, 0, 0x7fc00000    // fsqrt QNAN rne
        FS_R fsqrt.s, rne, 0x7fc00000, FF_NV, 0x7f800001    // fsqrt SNAN rne
        FS_R fsqrt.s, rne, 0x7fc00000, FF_NV, 0x80000001    // fsqrt NMINSUB rne
// ------------------------------------------------------ fmin.s / fmax.s
        FS_RR fmin.s, , 0x3f800000, 0, 0x3f800000, 0x40000000    // fmin(ONE, TWO)
        FS_RR fmax.s, , 0x40000000, 0, 0x3f800000, 0x40000000    // fmax(ONE, TWO)
        FS_RR fmin.s, , 0x3f800000, 0, 0x40000000, 0x3f800000    // fmin(TWO, ONE)
        FS_RR fmax.s, , 0x40000000, 0, 0x40000000, 0x3f800000    // fmax(TWO, ONE)
        FS_RR fmin.s, , 0xbf800000, 0, 0xbf800000, 0x3f800000    // fmin(NONE, ONE)
        FS_RR fmax.s, , 0x3f800000, 0, 0xbf800000, 0x3f800000    // fmax(NONE, ONE)
        FS_RR fmin.s, , 0x80000000, 0, 0x80000000, 0x00000000    // fmin(NZ, Z)
        FS_RR fmax.s, , 0x00000000, 0, 0x80000000, 0x00000000    // fmax(NZ, Z)
        FS_RR fmin.s, , 0x80000000, 0, 0x00000000, 0x80000000    // fmin(Z, NZ)
        FS_RR fmax.s, , 0x00000000, 0, 0x00000000, 0x80000000    // fmax(Z, NZ)
        FS_RR fmin.s, , 0x3f800000, 0, 0x7fc00000, 0x3f800000    // fmin(QNAN, ONE)
        FS_RR fmax.s, , 0x3f800000, 0, 0x7fc00000, 0x3f800000    // fmax(QNAN, ONE)
        FS_RR fmin.s, , 0x3f800000, 0, 0x3f800000, 0x7fc00000    // fmin(ONE, QNAN)
        FS_RR fmax.s, , 0x3f800000, 0, 0x3f800000, 0x7fc00000    // fmax(ONE, QNAN)
        FS_RR fmin.s, , 0x3f800000, FF_NV, 0x7f800001, 0x3f800000    // fmin(SNAN, ONE)
        FS_RR fmax.s, , 0x3f800000, FF_NV, 0x7f800001, 0x3f800000    // fmax(SNAN, ONE)
        FS_RR fmin.s, , 0x3f800000, FF_NV, 0x3f800000, 0x7f800001    // fmin(ONE, SNAN)
        FS_RR fmax.s, , 0x3f800000, FF_NV, 0x3f800000, 0x7f800001    // fmax(ONE, SNAN)
        FS_RR fmin.s, , 0x7fc00000, 0, 0x7fc00000, 0x7fc00000    // fmin(QNAN, QNAN)
        FS_RR fmax.s, , 0x7fc00000, 0, 0x7fc00000, 0x7fc00000    // fmax(QNAN, QNAN)
        FS_RR fmin.s, , 0x7fc00000, FF_NV, 0x7f800001, 0x7fc00000    // fmin(SNAN, QNAN)
        FS_RR fmax.s, , 0x7fc00000, FF_NV, 0x7f800001, 0x7fc00000    // fmax(SNAN, QNAN)
        FS_RR fmin.s, , 0xff800000, 0, 0xffc00123, 0xff800000    // fmin(NQNANP, NINF)
        FS_RR fmax.s, , 0xff800000, 0, 0xffc00123, 0xff800000    // fmax(NQNANP, NINF)
        FS_RR fmin.s, , 0xff800000, 0, 0xff800000, 0x7f800000    // fmin(NINF, INF)
        FS_RR fmax.s, , 0x7f800000, 0, 0xff800000, 0x7f800000    // fmax(NINF, INF)
        FS_RR fmin.s, , 0x80000001, 0, 0x00000001, 0x80000001    // fmin(MINSUB, NMINSUB)
        FS_RR fmax.s, , 0x00000001, 0, 0x00000001, 0x80000001    // fmax(MINSUB, NMINSUB)
        FS_RR fmin.s, , 0x7f7fffff, 0, 0x7f7fffff, 0x7f800000    // fmin(MAX, INF)
        FS_RR fmax.s, , 0x7f800000, 0, 0x7f7fffff, 0x7f800000    // fmax(MAX, INF)
// ---------------------------------------------------------- sign injection
        FS_RR fsgnj.s, , 0xbf800000, 0, 0x3f800000, 0xbf800000    // fsgnj(ONE, NONE)
        FS_RR fsgnjn.s, , 0x3f800000, 0, 0x3f800000, 0xbf800000    // fsgnjn(ONE, NONE)
        FS_RR fsgnjx.s, , 0xbf800000, 0, 0x3f800000, 0xbf800000    // fsgnjx(ONE, NONE)
        FS_RR fsgnj.s, , 0x3f800000, 0, 0xbf800000, 0x3f800000    // fsgnj(NONE, ONE)
        FS_RR fsgnjn.s, , 0xbf800000, 0, 0xbf800000, 0x3f800000    // fsgnjn(NONE, ONE)
        FS_RR fsgnjx.s, , 0xbf800000, 0, 0xbf800000, 0x3f800000    // fsgnjx(NONE, ONE)
        FS_RR fsgnj.s, , 0xbf800000, 0, 0xbf800000, 0xbf800000    // fsgnj(NONE, NONE)
        FS_RR fsgnjn.s, , 0x3f800000, 0, 0xbf800000, 0xbf800000    // fsgnjn(NONE, NONE)
        FS_RR fsgnjx.s, , 0x3f800000, 0, 0xbf800000, 0xbf800000    // fsgnjx(NONE, NONE)
        FS_RR fsgnj.s, , 0x3f800000, 0, 0x3f800000, 0x3f800000    // fsgnj(ONE, ONE)
        FS_RR fsgnjn.s, , 0xbf800000, 0, 0x3f800000, 0x3f800000    // fsgnjn(ONE, ONE)
        FS_RR fsgnjx.s, , 0x3f800000, 0, 0x3f800000, 0x3f800000    // fsgnjx(ONE, ONE)
        FS_RR fsgnj.s, , 0xffc00000, 0, 0x7fc00000, 0xbf800000    // fsgnj(QNAN, NONE)
        FS_RR fsgnjn.s, , 0x7fc00000, 0, 0x7fc00000, 0xbf800000    // fsgnjn(QNAN, NONE)
        FS_RR fsgnjx.s, , 0xffc00000, 0, 0x7fc00000, 0xbf800000    // fsgnjx(QNAN, NONE)
        FS_RR fsgnj.s, , 0xffa00abc, 0, 0x7fa00abc, 0x80000000    // fsgnj(SNANP, NZ)
        FS_RR fsgnjn.s, , 0x7fa00abc, 0, 0x7fa00abc, 0x80000000    // fsgnjn(SNANP, NZ)
        FS_RR fsgnjx.s, , 0xffa00abc, 0, 0x7fa00abc, 0x80000000    // fsgnjx(SNANP, NZ)
        FS_RR fsgnj.s, , 0x7fc00123, 0, 0xffc00123, 0x7fc00000    // fsgnj(NQNANP, QNAN)
        FS_RR fsgnjn.s, , 0xffc00123, 0, 0xffc00123, 0x7fc00000    // fsgnjn(NQNANP, QNAN)
        FS_RR fsgnjx.s, , 0xffc00123, 0, 0xffc00123, 0x7fc00000    // fsgnjx(NQNANP, QNAN)
        FS_RR fsgnj.s, , 0x7f800000, 0, 0xff800000, 0x00000000    // fsgnj(NINF, Z)
        FS_RR fsgnjn.s, , 0xff800000, 0, 0xff800000, 0x00000000    // fsgnjn(NINF, Z)
        FS_RR fsgnjx.s, , 0xff800000, 0, 0xff800000, 0x00000000    // fsgnjx(NINF, Z)
        FS_RR fsgnj.s, , 0x80000001, 0, 0x00000001, 0x80000001    // fsgnj(MINSUB, NMINSUB)
        FS_RR fsgnjn.s, , 0x00000001, 0, 0x00000001, 0x80000001    // fsgnjn(MINSUB, NMINSUB)
        FS_RR fsgnjx.s, , 0x80000001, 0, 0x00000001, 0x80000001    // fsgnjx(MINSUB, NMINSUB)
// ------------------------------------------------------------- compares
        FS_CMP feq.s, 1, 0, 0x3f800000, 0x3f800000    // feq(ONE, ONE)
        FS_CMP flt.s, 0, 0, 0x3f800000, 0x3f800000    // flt(ONE, ONE)
        FS_CMP fle.s, 1, 0, 0x3f800000, 0x3f800000    // fle(ONE, ONE)
        FS_CMP feq.s, 0, 0, 0x3f800000, 0x40000000    // feq(ONE, TWO)
        FS_CMP flt.s, 1, 0, 0x3f800000, 0x40000000    // flt(ONE, TWO)
        FS_CMP fle.s, 1, 0, 0x3f800000, 0x40000000    // fle(ONE, TWO)
        FS_CMP feq.s, 0, 0, 0x40000000, 0x3f800000    // feq(TWO, ONE)
        FS_CMP flt.s, 0, 0, 0x40000000, 0x3f800000    // flt(TWO, ONE)
        FS_CMP fle.s, 0, 0, 0x40000000, 0x3f800000    // fle(TWO, ONE)
        FS_CMP feq.s, 1, 0, 0x80000000, 0x00000000    // feq(NZ, Z)
        FS_CMP flt.s, 0, 0, 0x80000000, 0x00000000    // flt(NZ, Z)
        FS_CMP fle.s, 1, 0, 0x80000000, 0x00000000    // fle(NZ, Z)
        FS_CMP feq.s, 0, 0, 0xbf800000, 0x80000000    // feq(NONE, NZ)
        FS_CMP flt.s, 1, 0, 0xbf800000, 0x80000000    // flt(NONE, NZ)
        FS_CMP fle.s, 1, 0, 0xbf800000, 0x80000000    // fle(NONE, NZ)
        FS_CMP feq.s, 0, 0, 0xff800000, 0xff7fffff    // feq(NINF, NMAX)
        FS_CMP flt.s, 1, 0, 0xff800000, 0xff7fffff    // flt(NINF, NMAX)
        FS_CMP fle.s, 1, 0, 0xff800000, 0xff7fffff    // fle(NINF, NMAX)
        FS_CMP feq.s, 1, 0, 0x7f800000, 0x7f800000    // feq(INF, INF)
        FS_CMP flt.s, 0, 0, 0x7f800000, 0x7f800000    // flt(INF, INF)
        FS_CMP fle.s, 1, 0, 0x7f800000, 0x7f800000    // fle(INF, INF)
        FS_CMP feq.s, 0, 0, 0x7fc00000, 0x3f800000    // feq(QNAN, ONE)
        FS_CMP flt.s, 0, FF_NV, 0x7fc00000, 0x3f800000    // flt(QNAN, ONE)
        FS_CMP fle.s, 0, FF_NV, 0x7fc00000, 0x3f800000    // fle(QNAN, ONE)
        FS_CMP feq.s, 0, 0, 0x3f800000, 0x7fc00000    // feq(ONE, QNAN)
        FS_CMP flt.s, 0, FF_NV, 0x3f800000, 0x7fc00000    // flt(ONE, QNAN)
        FS_CMP fle.s, 0, FF_NV, 0x3f800000, 0x7fc00000    // fle(ONE, QNAN)
        FS_CMP feq.s, 0, FF_NV, 0x7f800001, 0x3f800000    // feq(SNAN, ONE)
        FS_CMP flt.s, 0, FF_NV, 0x7f800001, 0x3f800000    // flt(SNAN, ONE)
        FS_CMP fle.s, 0, FF_NV, 0x7f800001, 0x3f800000    // fle(SNAN, ONE)
        FS_CMP feq.s, 0, 0, 0x7fc00000, 0x7fc00000    // feq(QNAN, QNAN)
        FS_CMP flt.s, 0, FF_NV, 0x7fc00000, 0x7fc00000    // flt(QNAN, QNAN)
        FS_CMP fle.s, 0, FF_NV, 0x7fc00000, 0x7fc00000    // fle(QNAN, QNAN)
        FS_CMP feq.s, 0, 0, 0x00000001, 0x00000000    // feq(MINSUB, Z)
        FS_CMP flt.s, 0, 0, 0x00000001, 0x00000000    // flt(MINSUB, Z)
        FS_CMP fle.s, 0, 0, 0x00000001, 0x00000000    // fle(MINSUB, Z)
        FS_CMP feq.s, 0, 0, 0x80000001, 0x80000000    // feq(NMINSUB, NZ)
        FS_CMP flt.s, 1, 0, 0x80000001, 0x80000000    // flt(NMINSUB, NZ)
        FS_CMP fle.s, 1, 0, 0x80000001, 0x80000000    // fle(NMINSUB, NZ)
// ---------------------------------------------------------------- fclass
        FS_X fclass.s, , 0x1, 0, 0xff800000    // fclass(NINF)
        FS_X fclass.s, , 0x2, 0, 0xbf800000    // fclass(NONE)
        FS_X fclass.s, , 0x4, 0, 0x80000001    // fclass(NMINSUB)
        FS_X fclass.s, , 0x8, 0, 0x80000000    // fclass(NZ)
        FS_X fclass.s, , 0x10, 0, 0x00000000    // fclass(Z)
        FS_X fclass.s, , 0x20, 0, 0x00000001    // fclass(MINSUB)
        FS_X fclass.s, , 0x40, 0, 0x3f800000    // fclass(ONE)
        FS_X fclass.s, , 0x80, 0, 0x7f800000    // fclass(INF)
        FS_X fclass.s, , 0x100, 0, 0x7f800001    // fclass(SNAN)
        FS_X fclass.s, , 0x200, 0, 0x7fc00000    // fclass(QNAN)
        FS_X fclass.s, , 0x200, 0, 0xffc00123    // fclass(NQNANP)
        FS_X fclass.s, , 0x100, 0, 0x7fa00abc    // fclass(SNANP)
        FS_X fclass.s, , 0x40, 0, 0x7f7fffff    // fclass(MAX)
        FS_X fclass.s, , 0x2, 0, 0xff7fffff    // fclass(NMAX)
        FS_X fclass.s, , 0x20, 0, 0x007fffff    // fclass(MAXSUB)
        FS_X fclass.s, , 0x40, 0, 0x00800000    // fclass(MINN)
// ------------------------------------------------------ fused multiply-add
        FS_RRR fmadd.s, rne, 0x40e00000, 0, 0x40000000, 0x40400000, 0x3f800000    // fmadd(TWO, THREE, ONE) rne
        FS_RRR fmadd.s, rne, 0xc0200000, 0, 0xbf800000, 0x40400000, 0x3f000000    // fmadd(NONE, THREE, HALF) rne
        FS_RRR fmsub.s, rne, 0x40a00000, 0, 0x40000000, 0x40400000, 0x3f800000    // fmsub(TWO, THREE, ONE) rne
        FS_RRR fmsub.s, rne, 0xc0600000, 0, 0xbf800000, 0x40400000, 0x3f000000    // fmsub(NONE, THREE, HALF) rne
        FS_RRR fnmsub.s, rne, 0xc0a00000, 0, 0x40000000, 0x40400000, 0x3f800000    // fnmsub(TWO, THREE, ONE) rne
        FS_RRR fnmsub.s, rne, 0x40600000, 0, 0xbf800000, 0x40400000, 0x3f000000    // fnmsub(NONE, THREE, HALF) rne
        FS_RRR fnmadd.s, rne, 0xc0e00000, 0, 0x40000000, 0x40400000, 0x3f800000    // fnmadd(TWO, THREE, ONE) rne
        FS_RRR fnmadd.s, rne, 0x40200000, 0, 0xbf800000, 0x40400000, 0x3f000000    // fnmadd(NONE, THREE, HALF) rne
        FS_RRR fmsub.s, rne, 0x3a000400, 0, 0x3f800800, 0x3f800800, 0x3f800000    // single rounding: (1+2^-k)^2 - 1 exact
        FS_RRR fmadd.s, rne, 0x3a000400, 0, 0x3f800800, 0x3f800800, 0xbf800000    // fmadd(1065355264, 1065355264, NONE) rne
        FS_RRR fnmadd.s, rne, 0xba000400, 0, 0x3f800800, 0x3f800800, 0xbf800000    // fnmadd(1065355264, 1065355264, NONE) rne
        FS_RRR fnmsub.s, rne, 0xba000400, 0, 0x3f800800, 0x3f800800, 0x3f800000    // fnmsub(1065355264, 1065355264, ONE) rne
        FS_RRR fmadd.s, rne, 0x34800000, FF_NX, 0x3f800001, 0x3f800001, 0xbf800000    // fmadd(ONEULP, ONEULP, NONE) rne
        FS_RRR fmadd.s, rtz, 0x34800000, FF_NX, 0x3f800001, 0x3f800001, 0xbf800000    // fmadd(ONEULP, ONEULP, NONE) rtz
        FS_RRR fmadd.s, rdn, 0x34800000, FF_NX, 0x3f800001, 0x3f800001, 0xbf800000    // fmadd(ONEULP, ONEULP, NONE) rdn
        FS_RRR fmadd.s, rup, 0x34800001, FF_NX, 0x3f800001, 0x3f800001, 0xbf800000    // fmadd(ONEULP, ONEULP, NONE) rup
        FS_RRR fmadd.s, rmm, 0x34800001, FF_NX, 0x3f800001, 0x3f800001, 0xbf800000    // fmadd(ONEULP, ONEULP, NONE) rmm
        FS_RRR fmadd.s, rne, 0x33000000, 0, 0x3eaaaaab, 0x40400000, 0xbf800000    // residual of 1/3*3
        FS_RRR fmadd.s, rtz, 0x33000000, 0, 0x3eaaaaab, 0x40400000, 0xbf800000    // residual of 1/3*3
        FS_RRR fmadd.s, rdn, 0x33000000, 0, 0x3eaaaaab, 0x40400000, 0xbf800000    // residual of 1/3*3
        FS_RRR fmadd.s, rup, 0x33000000, 0, 0x3eaaaaab, 0x40400000, 0xbf800000    // residual of 1/3*3
        FS_RRR fmadd.s, rmm, 0x33000000, 0, 0x3eaaaaab, 0x40400000, 0xbf800000    // residual of 1/3*3
        FS_RRR fmadd.s, rne, 0x7fc00000, FF_NV, 0x00000000, 0x7f800000, 0x7fc00000    // inf*0 + qNaN: invalid
        FS_RRR fmadd.s, rne, 0x7fc00000, FF_NV, 0x7f800000, 0x80000000, 0x3f800000    // fmadd(INF, NZ, ONE) rne
        FS_RRR fmadd.s, rne, 0x7fc00000, FF_NV, 0x7f800000, 0x3f800000, 0xff800000    // inf - inf: invalid
        FS_RRR fmsub.s, rne, 0x7fc00000, FF_NV, 0x7f800000, 0x3f800000, 0x7f800000    // fmsub(INF, ONE, INF) rne
        FS_RRR fmadd.s, rne, 0x7f800000, 0, 0x7f800000, 0x3f800000, 0x7f800000    // fmadd(INF, ONE, INF) rne
        FS_RRR fmadd.s, rne, 0x7fc00000, 0, 0x3f800000, 0x3f800000, 0x7fc00000    // fmadd(ONE, ONE, QNAN) rne
        FS_RRR fmadd.s, rne, 0x7fc00000, FF_NV, 0x3f800000, 0x7f800001, 0x3f800000    // fmadd(ONE, SNAN, ONE) rne
        FS_RRR fmadd.s, rne, 0x00000000, 0, 0x3f800000, 0x00000000, 0x80000000    // +0 + -0
        FS_RRR fmadd.s, rdn, 0x80000000, 0, 0x3f800000, 0x00000000, 0x80000000    // +0 + -0
        FS_RRR fnmadd.s, rne, 0x80000000, 0, 0x00000000, 0x3f800000, 0x00000000    // -(0*1) - 0 = -0
        FS_RRR fnmsub.s, rne, 0x00000000, 0, 0x00000000, 0x3f800000, 0x00000000    // fnmsub(Z, ONE, Z) rne
        FS_RRR fnmsub.s, rdn, 0x80000000, 0, 0x00000000, 0x3f800000, 0x00000000    // fnmsub(Z, ONE, Z) rdn
        FS_RRR fmsub.s, rne, 0x00000000, 0, 0x3f800000, 0x3f800000, 0x3f800000    // fmsub(ONE, ONE, ONE) rne
        FS_RRR fmsub.s, rdn, 0x80000000, 0, 0x3f800000, 0x3f800000, 0x3f800000    // fmsub(ONE, ONE, ONE) rdn
        FS_RRR fmadd.s, rne, 0x7f7fffff, 0, 0x7f7fffff, 0x40000000, 0xff7fffff    // no intermediate overflow
        FS_RRR fmadd.s, rtz, 0x7f7fffff, 0, 0x7f7fffff, 0x40000000, 0xff7fffff    // no intermediate overflow
        FS_RRR fmadd.s, rdn, 0x7f7fffff, 0, 0x7f7fffff, 0x40000000, 0xff7fffff    // no intermediate overflow
        FS_RRR fmadd.s, rup, 0x7f7fffff, 0, 0x7f7fffff, 0x40000000, 0xff7fffff    // no intermediate overflow
        FS_RRR fmadd.s, rmm, 0x7f7fffff, 0, 0x7f7fffff, 0x40000000, 0xff7fffff    // no intermediate overflow
        FS_RRR fmadd.s, rne, 0x7f800000, FF_OF|FF_NX, 0x7f7fffff, 0x7f7fffff, 0x3f800000    // overflow
        FS_RRR fmadd.s, rtz, 0x7f7fffff, FF_OF|FF_NX, 0x7f7fffff, 0x7f7fffff, 0x3f800000    // overflow
        FS_RRR fmadd.s, rne, 0x00400001, 0, 0x00800000, 0x3f000000, 0x00000001    // subnormal exact
        FS_RRR fmadd.s, rne, 0x002aaaab, FF_UF|FF_NX, 0x00800000, 0x3eaaaaab, 0x00000000    // underflow
        FS_RRR fmadd.s, rtz, 0x002aaaaa, FF_UF|FF_NX, 0x00800000, 0x3eaaaaab, 0x00000000    // underflow
        FS_RRR fmadd.s, rdn, 0x002aaaaa, FF_UF|FF_NX, 0x00800000, 0x3eaaaaab, 0x00000000    // underflow
        FS_RRR fmadd.s, rup, 0x002aaaab, FF_UF|FF_NX, 0x00800000, 0x3eaaaaab, 0x00000000    // underflow
        FS_RRR fmadd.s, rmm, 0x002aaaab, FF_UF|FF_NX, 0x00800000, 0x3eaaaaab, 0x00000000    // underflow

// ------------------------------------------------------------- NaN boxing
        TEST_CASE                       // flw boxes
        la      a1, sdata
        flw     fa0, 0(a1)
        CHECKF  fa0, 0xffffffff3f800000
        flw     fa0, 4(a1)
        CHECKF  fa0, 0xffffffff80000000

        TEST_CASE                       // fmv.w.x boxes and ignores the upper bits of rs1
        li      a1, 0x12345678bf800000
        fmv.w.x fa0, a1
        CHECKF  fa0, 0xffffffffbf800000

        TEST_CASE                       // fmv.x.w sign-extends bit 31
        li      a1, 0x80000000
        fmv.w.x fa0, a1
        fmv.x.w a0, fa0
        CHECK   a0, 0xffffffff80000000
        li      a1, 0x7fc00000
        fmv.w.x fa0, a1
        fmv.x.w a0, fa0
        CHECK   a0, 0x7fc00000

        TEST_CASE                       // fmv.x.w of an unboxed value: low 32 bits, no check
        li      a1, 0x123456789abcdef0
        fmv.d.x fa0, a1
        fmv.x.w a0, fa0
        CHECK   a0, 0xffffffff9abcdef0
        li      a1, 0x000000003f800000
        fmv.d.x fa0, a1
        fmv.x.w a0, fa0
        CHECK   a0, 0x3f800000

        TEST_CASE                       // fsw stores the low 32 bits of an unboxed value
        la      a1, sdata
        li      a2, 0x000000004048f5c3
        fmv.d.x fa0, a2
        fsw     fa0, 8(a1)
        lwu     a0, 8(a1)
        CHECK   a0, 0x4048f5c3
        li      a2, 0xffffffffc0000000
        fmv.d.x fa0, a2
        fsw     fa0, 12(a1)
        ld      a0, 8(a1)
        CHECK   a0, 0xc00000004048f5c3

// Unboxed operands: fa0 = 0x00000000_3f800000 (not boxed), fa1 = 1.0 (boxed),
// fa3 = 0xfffffffe_3f800000 (one upper bit clear), fa4 = 2.0 (boxed)
        .macro LOAD_UNBOXED
        li      a1, 0x000000003f800000
        fmv.d.x fa0, a1
        li      a1, 0x3f800000
        fmv.w.x fa1, a1
        li      a1, 0xfffffffe3f800000
        fmv.d.x fa3, a1
        li      a1, 0x40000000
        fmv.w.x fa4, a1
        fsflags zero
        .endm

        TEST_CASE                       // arithmetic sees the canonical NaN (quiet: no NV)
        LOAD_UNBOXED
        fadd.s  fa2, fa0, fa1
        CHECKFS fa2, 0x7fc00000
        fmul.s  fa2, fa1, fa3
        CHECKFS fa2, 0x7fc00000
        fsqrt.s fa2, fa0
        CHECKFS fa2, 0x7fc00000
        fmadd.s fa2, fa1, fa1, fa3
        CHECKFS fa2, 0x7fc00000
        fdiv.s  fa2, fa3, fa1
        CHECKFS fa2, 0x7fc00000
        frflags a0
        CHECK   a0, 0

        TEST_CASE                       // fclass.s says quiet NaN
        LOAD_UNBOXED
        fclass.s a0, fa0
        CHECK   a0, 0x200
        fclass.s a0, fa3
        CHECK   a0, 0x200
        fclass.s a0, fa1
        CHECK   a0, 0x40

        TEST_CASE                       // compares: feq quiet, flt/fle signal
        LOAD_UNBOXED
        feq.s   a0, fa0, fa0
        CHECK   a0, 0
        frflags a0
        CHECK   a0, 0
        flt.s   a0, fa1, fa0
        CHECK   a0, 0
        frflags a0
        CHECK   a0, FF_NV
        fsflags zero
        fle.s   a0, fa3, fa1
        CHECK   a0, 0
        frflags a0
        CHECK   a0, FF_NV

        TEST_CASE                       // sign injection uses the canonical NaN for an unboxed operand
        LOAD_UNBOXED
        fsgnj.s fa2, fa0, fa1
        CHECKFS fa2, 0x7fc00000
        fsgnjn.s fa2, fa0, fa1
        CHECKFS fa2, 0xffc00000
        fsgnjx.s fa2, fa3, fa4
        CHECKFS fa2, 0x7fc00000
        fsgnj.s fa2, fa4, fa0           // sign of canonical NaN is +
        CHECKFS fa2, 0x40000000
        fsgnjn.s fa2, fa4, fa0
        CHECKFS fa2, 0xc0000000
        fmv.s   fa2, fa0                // fsgnj.s rd, rs, rs
        CHECKFS fa2, 0x7fc00000
        fneg.s  fa2, fa3
        CHECKFS fa2, 0xffc00000
        fabs.s  fa2, fa0
        CHECKFS fa2, 0x7fc00000
        frflags a0
        CHECK   a0, 0

        TEST_CASE                       // min/max return the other operand
        LOAD_UNBOXED
        fmin.s  fa2, fa0, fa4
        CHECKFS fa2, 0x40000000
        fmax.s  fa2, fa4, fa3
        CHECKFS fa2, 0x40000000
        fmax.s  fa2, fa3, fa0
        CHECKFS fa2, 0x7fc00000
        frflags a0
        CHECK   a0, 0

        TEST_CASE                       // conversions
        LOAD_UNBOXED
        fcvt.d.s fa2, fa0
        CHECKF  fa2, 0x7ff8000000000000
        frflags a0
        CHECK   a0, 0
        fcvt.w.s a0, fa0, rtz
        CHECK   a0, 0x7fffffff
        frflags a0
        CHECK   a0, FF_NV
        fsflags zero
        fcvt.lu.s a0, fa3, rtz
        CHECK   a0, 0xffffffffffffffff
        frflags a0
        CHECK   a0, FF_NV

        TEST_CASE                       // a boxed single read as a double is a NaN
        LOAD_UNBOXED
        fadd.d  fa2, fa1, fa1
        CHECKF  fa2, 0x7ff8000000000000
        frflags a0
        CHECK   a0, 0
        fmv.x.d a0, fa1
        CHECK   a0, 0xffffffff3f800000

        TEST_CASE                       // single results are boxed even in a register that held a double
        li      a1, 0x4000000000000000
        fmv.d.x fa2, a1
        li      a1, 0x3f800000
        fmv.w.x fa1, a1
        fadd.s  fa2, fa1, fa1
        CHECKF  fa2, 0xffffffff40000000
        li      a1, 0x4000000000000000
        fmv.d.x fa2, a1
        fcvt.s.d fa2, fa2
        CHECKF  fa2, 0xffffffff40000000
        PASS

        .data
        .balign 8
sdata:  .word   0x3f800000, 0x80000000, 0, 0
