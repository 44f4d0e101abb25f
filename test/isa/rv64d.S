// RV64D double-precision arithmetic: FADD/FSUB/FMUL/FDIV/FSQRT with every
// static rounding mode on inexact cases, overflow/underflow/invalid/divide-
// by-zero flags (exact fflags are checked after each instruction), NaN
// inputs producing the canonical NaN, signed zeros, FMIN/FMAX (NaN and -0/+0
// rules), sign injection (bit-exact, NaNs not canonicalised), FEQ/FLT/FLE
// (quiet vs signalling compares), FCLASS, the fused multiply-add family
// (single rounding, inf*0 invalid even with a quiet NaN addend), FMV.X.D /
// FMV.D.X, FLD/FSD.
// Expected values: see docs/testing-isa.md (computed exactly, checked
// against QEMU).
#include "common.h"

// ---------------------------------------------------------------- fadd.d
        FD_RR fadd.d, rne, 0x4008000000000000, 0, 0x3ff0000000000000, 0x4000000000000000    // ONE fadd TWO rne
        FD_RR fadd.d, rne, 0x3ff0000000000000, FF_NX, 0x3ff0000000000000, 0x3ca0000000000000    // tie: 1 + ulp/2
        FD_RR fadd.d, rtz, 0x3ff0000000000000, FF_NX, 0x3ff0000000000000, 0x3ca0000000000000    // tie: 1 + ulp/2
        FD_RR fadd.d, rdn, 0x3ff0000000000000, FF_NX, 0x3ff0000000000000, 0x3ca0000000000000    // tie: 1 + ulp/2
        FD_RR fadd.d, rup, 0x3ff0000000000001, FF_NX, 0x3ff0000000000000, 0x3ca0000000000000    // tie: 1 + ulp/2
        FD_RR fadd.d, rmm, 0x3ff0000000000001, FF_NX, 0x3ff0000000000000, 0x3ca0000000000000    // tie: 1 + ulp/2
        FD_RR fadd.d, rne, 0x3ff0000000000001, FF_NX, 0x3ff0000000000000, 0x3ca8000000000000    // 1 + 3/4 ulp
        FD_RR fadd.d, rtz, 0x3ff0000000000000, FF_NX, 0x3ff0000000000000, 0x3ca8000000000000    // 1 + 3/4 ulp
        FD_RR fadd.d, rdn, 0x3ff0000000000000, FF_NX, 0x3ff0000000000000, 0x3ca8000000000000    // 1 + 3/4 ulp
        FD_RR fadd.d, rup, 0x3ff0000000000001, FF_NX, 0x3ff0000000000000, 0x3ca8000000000000    // 1 + 3/4 ulp
        FD_RR fadd.d, rmm, 0x3ff0000000000001, FF_NX, 0x3ff0000000000000, 0x3ca8000000000000    // 1 + 3/4 ulp
        FD_RR fadd.d, rne, 0xbff0000000000000, FF_NX, 0xbff0000000000000, 0xbca0000000000000    // -1 - ulp/2
        FD_RR fadd.d, rtz, 0xbff0000000000000, FF_NX, 0xbff0000000000000, 0xbca0000000000000    // -1 - ulp/2
        FD_RR fadd.d, rdn, 0xbff0000000000001, FF_NX, 0xbff0000000000000, 0xbca0000000000000    // -1 - ulp/2
        FD_RR fadd.d, rup, 0xbff0000000000000, FF_NX, 0xbff0000000000000, 0xbca0000000000000    // -1 - ulp/2
        FD_RR fadd.d, rmm, 0xbff0000000000001, FF_NX, 0xbff0000000000000, 0xbca0000000000000    // -1 - ulp/2
        FD_RR fadd.d, rne, 0x0000000000000000, 0, 0x3ff0000000000000, 0xbff0000000000000    // exact zero: -0 only in rdn
        FD_RR fadd.d, rtz, 0x0000000000000000, 0, 0x3ff0000000000000, 0xbff0000000000000    // exact zero: -0 only in rdn
        FD_RR fadd.d, rdn, 0x8000000000000000, 0, 0x3ff0000000000000, 0xbff0000000000000    // exact zero: -0 only in rdn
        FD_RR fadd.d, rup, 0x0000000000000000, 0, 0x3ff0000000000000, 0xbff0000000000000    // exact zero: -0 only in rdn
        FD_RR fadd.d, rmm, 0x0000000000000000, 0, 0x3ff0000000000000, 0xbff0000000000000    // exact zero: -0 only in rdn
        FD_RR fadd.d, rne, 0x8000000000000000, 0, 0x8000000000000000, 0x8000000000000000    // NZ fadd NZ rne
        FD_RR fadd.d, rdn, 0x8000000000000000, 0, 0x8000000000000000, 0x8000000000000000    // NZ fadd NZ rdn
        FD_RR fadd.d, rne, 0x0000000000000000, 0, 0x0000000000000000, 0x8000000000000000    // Z fadd NZ rne
        FD_RR fadd.d, rdn, 0x8000000000000000, 0, 0x0000000000000000, 0x8000000000000000    // Z fadd NZ rdn
        FD_RR fadd.d, rne, 0x7ff0000000000000, FF_OF|FF_NX, 0x7fefffffffffffff, 0x7fefffffffffffff    // overflow
        FD_RR fadd.d, rtz, 0x7fefffffffffffff, FF_OF|FF_NX, 0x7fefffffffffffff, 0x7fefffffffffffff    // overflow
        FD_RR fadd.d, rdn, 0x7fefffffffffffff, FF_OF|FF_NX, 0x7fefffffffffffff, 0x7fefffffffffffff    // overflow
        FD_RR fadd.d, rup, 0x7ff0000000000000, FF_OF|FF_NX, 0x7fefffffffffffff, 0x7fefffffffffffff    // overflow
        FD_RR fadd.d, rmm, 0x7ff0000000000000, FF_OF|FF_NX, 0x7fefffffffffffff, 0x7fefffffffffffff    // overflow
        FD_RR fadd.d, rne, 0xfff0000000000000, FF_OF|FF_NX, 0xffefffffffffffff, 0xffefffffffffffff    // negative overflow
        FD_RR fadd.d, rtz, 0xffefffffffffffff, FF_OF|FF_NX, 0xffefffffffffffff, 0xffefffffffffffff    // negative overflow
        FD_RR fadd.d, rdn, 0xfff0000000000000, FF_OF|FF_NX, 0xffefffffffffffff, 0xffefffffffffffff    // negative overflow
        FD_RR fadd.d, rup, 0xffefffffffffffff, FF_OF|FF_NX, 0xffefffffffffffff, 0xffefffffffffffff    // negative overflow
        FD_RR fadd.d, rmm, 0xfff0000000000000, FF_OF|FF_NX, 0xffefffffffffffff, 0xffefffffffffffff    // negative overflow
        FD_RR fadd.d, rne, 0x7ff8000000000000, FF_NV, 0x7ff0000000000000, 0xfff0000000000000    // inf - inf: invalid
        FD_RR fadd.d, rne, 0x7ff0000000000000, 0, 0x7ff0000000000000, 0x7fefffffffffffff    // INF fadd MAX rne
        FD_RR fadd.d, rne, 0x7ff8000000000000, 0, 0x7ff8000000000000, 0x3ff0000000000000    // qNaN in: canonical NaN, no flag
        FD_RR fadd.d, rne, 0x7ff8000000000000, 0, 0xfff8000000000123, 0x3ff0000000000000    // payload dropped, sign cleared
        FD_RR fadd.d, rne, 0x7ff8000000000000, FF_NV, 0x3ff0000000000000, 0x7ff0000000000001    // sNaN: invalid
        FD_RR fadd.d, rne, 0x7ff8000000000000, FF_NV, 0x7ff4000000000abc, 0x7ff8000000000000    // SNANP fadd QNAN rne
        FD_RR fadd.d, rne, 0x0000000000000002, 0, 0x0000000000000001, 0x0000000000000001    // subnormals, exact
        FD_RR fadd.d, rne, 0x0010000000000000, 0, 0x000fffffffffffff, 0x0000000000000001    // subnormal -> min normal, exact
        FD_RR fadd.d, rne, 0x400bcca5feeed7c3, FF_NX, 0x400921fb54442d18, 0x3fd5555555555555    // PI fadd THIRD rne
        FD_RR fadd.d, rtz, 0x400bcca5feeed7c2, FF_NX, 0x400921fb54442d18, 0x3fd5555555555555    // PI fadd THIRD rtz
        FD_RR fadd.d, rdn, 0x400bcca5feeed7c2, FF_NX, 0x400921fb54442d18, 0x3fd5555555555555    // PI fadd THIRD rdn
        FD_RR fadd.d, rup, 0x400bcca5feeed7c3, FF_NX, 0x400921fb54442d18, 0x3fd5555555555555    // PI fadd THIRD rup
        FD_RR fadd.d, rmm, 0x400bcca5feeed7c3, FF_NX, 0x400921fb54442d18, 0x3fd5555555555555    // PI fadd THIRD rmm
// ---------------------------------------------------------------- fsub.d
        FD_RR fsub.d, rne, 0x0000000000000000, 0, 0x3ff0000000000000, 0x3ff0000000000000    // x - x
        FD_RR fsub.d, rtz, 0x0000000000000000, 0, 0x3ff0000000000000, 0x3ff0000000000000    // x - x
        FD_RR fsub.d, rdn, 0x8000000000000000, 0, 0x3ff0000000000000, 0x3ff0000000000000    // x - x
        FD_RR fsub.d, rup, 0x0000000000000000, 0, 0x3ff0000000000000, 0x3ff0000000000000    // x - x
        FD_RR fsub.d, rmm, 0x0000000000000000, 0, 0x3ff0000000000000, 0x3ff0000000000000    // x - x
        FD_RR fsub.d, rne, 0x8000000000000000, 0, 0x8000000000000000, 0x0000000000000000    // -0 - +0 = -0
        FD_RR fsub.d, rne, 0x0000000000000000, 0, 0x0000000000000000, 0x0000000000000000    // Z fsub Z rne
        FD_RR fsub.d, rdn, 0x8000000000000000, 0, 0x0000000000000000, 0x0000000000000000    // Z fsub Z rdn
        FD_RR fsub.d, rne, 0x7ff8000000000000, FF_NV, 0x7ff0000000000000, 0x7ff0000000000000    // invalid
        FD_RR fsub.d, rne, 0xfff0000000000000, 0, 0xfff0000000000000, 0x7ff0000000000000    // NINF fsub INF rne
        FD_RR fsub.d, rne, 0x3fefffffffffffff, 0, 0x3ff0000000000000, 0x3ca0000000000000    // ONE fsub HEPS rne
        FD_RR fsub.d, rtz, 0x3fefffffffffffff, 0, 0x3ff0000000000000, 0x3ca0000000000000    // ONE fsub HEPS rtz
        FD_RR fsub.d, rdn, 0x3fefffffffffffff, 0, 0x3ff0000000000000, 0x3ca0000000000000    // ONE fsub HEPS rdn
        FD_RR fsub.d, rup, 0x3fefffffffffffff, 0, 0x3ff0000000000000, 0x3ca0000000000000    // ONE fsub HEPS rup
        FD_RR fsub.d, rmm, 0x3fefffffffffffff, 0, 0x3ff0000000000000, 0x3ca0000000000000    // ONE fsub HEPS rmm
        FD_RR fsub.d, rne, 0x000fffffffffffff, 0, 0x0010000000000000, 0x0000000000000001    // result subnormal, exact: no UF
        FD_RR fsub.d, rne, 0x7ff8000000000000, FF_NV, 0x7ff0000000000001, 0x7ff0000000000001    // SNAN fsub SNAN rne
        FD_RR fsub.d, rne, 0x4023555555555555, FF_NX, 0x4024000000000000, 0x3fd5555555555555    // TEN fsub THIRD rne
        FD_RR fsub.d, rtz, 0x4023555555555555, FF_NX, 0x4024000000000000, 0x3fd5555555555555    // TEN fsub THIRD rtz
        FD_RR fsub.d, rdn, 0x4023555555555555, FF_NX, 0x4024000000000000, 0x3fd5555555555555    // TEN fsub THIRD rdn
        FD_RR fsub.d, rup, 0x4023555555555556, FF_NX, 0x4024000000000000, 0x3fd5555555555555    // TEN fsub THIRD rup
        FD_RR fsub.d, rmm, 0x4023555555555555, FF_NX, 0x4024000000000000, 0x3fd5555555555555    // TEN fsub THIRD rmm
// ---------------------------------------------------------------- fmul.d
        FD_RR fmul.d, rne, 0x4018000000000000, 0, 0x4000000000000000, 0x4008000000000000    // TWO fmul THREE rne
        FD_RR fmul.d, rne, 0x3ff0000000000000, FF_NX, 0x3fd5555555555555, 0x4008000000000000    // THIRD fmul THREE rne
        FD_RR fmul.d, rtz, 0x3fefffffffffffff, FF_NX, 0x3fd5555555555555, 0x4008000000000000    // THIRD fmul THREE rtz
        FD_RR fmul.d, rdn, 0x3fefffffffffffff, FF_NX, 0x3fd5555555555555, 0x4008000000000000    // THIRD fmul THREE rdn
        FD_RR fmul.d, rup, 0x3ff0000000000000, FF_NX, 0x3fd5555555555555, 0x4008000000000000    // THIRD fmul THREE rup
        FD_RR fmul.d, rmm, 0x3ff0000000000000, FF_NX, 0x3fd5555555555555, 0x4008000000000000    // THIRD fmul THREE rmm
        FD_RR fmul.d, rne, 0x0008000000000000, 0, 0x0010000000000000, 0x3fe0000000000000    // exact subnormal: no UF
        FD_RR fmul.d, rne, 0x0000000000000000, FF_UF|FF_NX, 0x0000000000000001, 0x3fe0000000000000    // underflow to 0 / min subnormal
        FD_RR fmul.d, rtz, 0x0000000000000000, FF_UF|FF_NX, 0x0000000000000001, 0x3fe0000000000000    // underflow to 0 / min subnormal
        FD_RR fmul.d, rdn, 0x0000000000000000, FF_UF|FF_NX, 0x0000000000000001, 0x3fe0000000000000    // underflow to 0 / min subnormal
        FD_RR fmul.d, rup, 0x0000000000000001, FF_UF|FF_NX, 0x0000000000000001, 0x3fe0000000000000    // underflow to 0 / min subnormal
        FD_RR fmul.d, rmm, 0x0000000000000001, FF_UF|FF_NX, 0x0000000000000001, 0x3fe0000000000000    // underflow to 0 / min subnormal
        FD_RR fmul.d, rne, 0x0005555555555555, FF_UF|FF_NX, 0x0010000000000000, 0x3fd5555555555555    // tiny and inexact: UF
        FD_RR fmul.d, rtz, 0x0005555555555555, FF_UF|FF_NX, 0x0010000000000000, 0x3fd5555555555555    // tiny and inexact: UF
        FD_RR fmul.d, rdn, 0x0005555555555555, FF_UF|FF_NX, 0x0010000000000000, 0x3fd5555555555555    // tiny and inexact: UF
        FD_RR fmul.d, rup, 0x0005555555555556, FF_UF|FF_NX, 0x0010000000000000, 0x3fd5555555555555    // tiny and inexact: UF
        FD_RR fmul.d, rmm, 0x0005555555555555, FF_UF|FF_NX, 0x0010000000000000, 0x3fd5555555555555    // tiny and inexact: UF
        FD_RR fmul.d, rne, 0x7ff0000000000000, FF_OF|FF_NX, 0x7fefffffffffffff, 0x4000000000000000    // overflow
        FD_RR fmul.d, rtz, 0x7fefffffffffffff, FF_OF|FF_NX, 0x7fefffffffffffff, 0x4000000000000000    // overflow
        FD_RR fmul.d, rdn, 0x7fefffffffffffff, FF_OF|FF_NX, 0x7fefffffffffffff, 0x4000000000000000    // overflow
        FD_RR fmul.d, rup, 0x7ff0000000000000, FF_OF|FF_NX, 0x7fefffffffffffff, 0x4000000000000000    // overflow
        FD_RR fmul.d, rmm, 0x7ff0000000000000, FF_OF|FF_NX, 0x7fefffffffffffff, 0x4000000000000000    // overflow
        FD_RR fmul.d, rne, 0xfff0000000000000, FF_OF|FF_NX, 0xffefffffffffffff, 0x4000000000000000    // NMAX fmul TWO rne
        FD_RR fmul.d, rtz, 0xffefffffffffffff, FF_OF|FF_NX, 0xffefffffffffffff, 0x4000000000000000    // NMAX fmul TWO rtz
        FD_RR fmul.d, rdn, 0xfff0000000000000, FF_OF|FF_NX, 0xffefffffffffffff, 0x4000000000000000    // NMAX fmul TWO rdn
        FD_RR fmul.d, rup, 0xffefffffffffffff, FF_OF|FF_NX, 0xffefffffffffffff, 0x4000000000000000    // NMAX fmul TWO rup
        FD_RR fmul.d, rmm, 0xfff0000000000000, FF_OF|FF_NX, 0xffefffffffffffff, 0x4000000000000000    // NMAX fmul TWO rmm
        FD_RR fmul.d, rne, 0x7ff8000000000000, FF_NV, 0x0000000000000000, 0x7ff0000000000000    // 0 * inf: invalid
        FD_RR fmul.d, rne, 0x7ff8000000000000, FF_NV, 0xfff0000000000000, 0x8000000000000000    // NINF fmul NZ rne
        FD_RR fmul.d, rne, 0x8000000000000000, 0, 0x8000000000000000, 0x4010000000000000    // NZ fmul FOUR rne
        FD_RR fmul.d, rne, 0x7ff0000000000000, 0, 0xfff0000000000000, 0xbff0000000000000    // NINF fmul NONE rne
        FD_RR fmul.d, rne, 0x7ff8000000000000, 0, 0x7ff8000000000000, 0x0000000000000000    // QNAN fmul Z rne
        FD_RR fmul.d, rne, 0x7ff8000000000000, FF_NV, 0x7ff4000000000abc, 0x3ff0000000000000    // SNANP fmul ONE rne
        FD_RR fmul.d, rne, 0x4023bd3cc9be45de, FF_NX, 0x400921fb54442d18, 0x400921fb54442d18    // PI fmul PI rne
        FD_RR fmul.d, rtz, 0x4023bd3cc9be45dd, FF_NX, 0x400921fb54442d18, 0x400921fb54442d18    // PI fmul PI rtz
        FD_RR fmul.d, rdn, 0x4023bd3cc9be45dd, FF_NX, 0x400921fb54442d18, 0x400921fb54442d18    // PI fmul PI rdn
        FD_RR fmul.d, rup, 0x4023bd3cc9be45de, FF_NX, 0x400921fb54442d18, 0x400921fb54442d18    // PI fmul PI rup
        FD_RR fmul.d, rmm, 0x4023bd3cc9be45de, FF_NX, 0x400921fb54442d18, 0x400921fb54442d18    // PI fmul PI rmm
// ---------------------------------------------------------------- fdiv.d
        FD_RR fdiv.d, rne, 0x3fd5555555555555, FF_NX, 0x3ff0000000000000, 0x4008000000000000    // ONE fdiv THREE rne
        FD_RR fdiv.d, rtz, 0x3fd5555555555555, FF_NX, 0x3ff0000000000000, 0x4008000000000000    // ONE fdiv THREE rtz
        FD_RR fdiv.d, rdn, 0x3fd5555555555555, FF_NX, 0x3ff0000000000000, 0x4008000000000000    // ONE fdiv THREE rdn
        FD_RR fdiv.d, rup, 0x3fd5555555555556, FF_NX, 0x3ff0000000000000, 0x4008000000000000    // ONE fdiv THREE rup
        FD_RR fdiv.d, rmm, 0x3fd5555555555555, FF_NX, 0x3ff0000000000000, 0x4008000000000000    // ONE fdiv THREE rmm
        FD_RR fdiv.d, rne, 0xbfd5555555555555, FF_NX, 0xbff0000000000000, 0x4008000000000000    // NONE fdiv THREE rne
        FD_RR fdiv.d, rtz, 0xbfd5555555555555, FF_NX, 0xbff0000000000000, 0x4008000000000000    // NONE fdiv THREE rtz
        FD_RR fdiv.d, rdn, 0xbfd5555555555556, FF_NX, 0xbff0000000000000, 0x4008000000000000    // NONE fdiv THREE rdn
        FD_RR fdiv.d, rup, 0xbfd5555555555555, FF_NX, 0xbff0000000000000, 0x4008000000000000    // NONE fdiv THREE rup
        FD_RR fdiv.d, rmm, 0xbfd5555555555555, FF_NX, 0xbff0000000000000, 0x4008000000000000    // NONE fdiv THREE rmm
        FD_RR fdiv.d, rne, 0x400c000000000000, 0, 0x401c000000000000, 0x4000000000000000    // SEVEN fdiv TWO rne
        FD_RR fdiv.d, rne, 0x7ff0000000000000, FF_DZ, 0x3ff0000000000000, 0x0000000000000000    // divide by zero
        FD_RR fdiv.d, rne, 0xfff0000000000000, FF_DZ, 0xbff0000000000000, 0x0000000000000000    // NONE fdiv Z rne
        FD_RR fdiv.d, rne, 0xfff0000000000000, FF_DZ, 0x3ff0000000000000, 0x8000000000000000    // ONE fdiv NZ rne
        FD_RR fdiv.d, rne, 0x7ff8000000000000, FF_NV, 0x0000000000000000, 0x0000000000000000    // 0/0: invalid, not DZ
        FD_RR fdiv.d, rne, 0x7ff8000000000000, FF_NV, 0x7ff0000000000000, 0x7ff0000000000000    // INF fdiv INF rne
        FD_RR fdiv.d, rne, 0x7ff0000000000000, 0, 0x7ff0000000000000, 0x0000000000000000    // inf/0: no DZ
        FD_RR fdiv.d, rne, 0x8000000000000000, 0, 0x3ff0000000000000, 0xfff0000000000000    // ONE fdiv NINF rne
        FD_RR fdiv.d, rne, 0x7ff8000000000000, 0, 0x7ff8000000000000, 0x0000000000000000    // NaN/0: no DZ
        FD_RR fdiv.d, rne, 0x7ff8000000000000, FF_NV, 0x7ff0000000000001, 0x3ff0000000000000    // SNAN fdiv ONE rne
        FD_RR fdiv.d, rne, 0x7ff0000000000000, FF_OF|FF_NX, 0x7fefffffffffffff, 0x3fe0000000000000    // overflow
        FD_RR fdiv.d, rtz, 0x7fefffffffffffff, FF_OF|FF_NX, 0x7fefffffffffffff, 0x3fe0000000000000    // overflow
        FD_RR fdiv.d, rdn, 0x7fefffffffffffff, FF_OF|FF_NX, 0x7fefffffffffffff, 0x3fe0000000000000    // overflow
        FD_RR fdiv.d, rup, 0x7ff0000000000000, FF_OF|FF_NX, 0x7fefffffffffffff, 0x3fe0000000000000    // overflow
        FD_RR fdiv.d, rmm, 0x7ff0000000000000, FF_OF|FF_NX, 0x7fefffffffffffff, 0x3fe0000000000000    // overflow
        FD_RR fdiv.d, rne, 0x0005555555555555, FF_UF|FF_NX, 0x0010000000000000, 0x4008000000000000    // underflow
        FD_RR fdiv.d, rtz, 0x0005555555555555, FF_UF|FF_NX, 0x0010000000000000, 0x4008000000000000    // underflow
        FD_RR fdiv.d, rdn, 0x0005555555555555, FF_UF|FF_NX, 0x0010000000000000, 0x4008000000000000    // underflow
        FD_RR fdiv.d, rup, 0x0005555555555556, FF_UF|FF_NX, 0x0010000000000000, 0x4008000000000000    // underflow
        FD_RR fdiv.d, rmm, 0x0005555555555555, FF_UF|FF_NX, 0x0010000000000000, 0x4008000000000000    // underflow
// ---------------------------------------------------------------- fsqrt.d
        FD_R fsqrt.d, rne, 0x4000000000000000, 0, 0x4010000000000000    // fsqrt FOUR rne
        FD_R fsqrt.d, rne, 0x3ff6a09e667f3bcd, FF_NX, 0x4000000000000000    // fsqrt TWO rne
        FD_R fsqrt.d, rtz, 0x3ff6a09e667f3bcc, FF_NX, 0x4000000000000000    // fsqrt TWO rtz
        FD_R fsqrt.d, rdn, 0x3ff6a09e667f3bcc, FF_NX, 0x4000000000000000    // fsqrt TWO rdn
        FD_R fsqrt.d, rup, 0x3ff6a09e667f3bcd, FF_NX, 0x4000000000000000    // fsqrt TWO rup
        FD_R fsqrt.d, rmm, 0x3ff6a09e667f3bcd, FF_NX, 0x4000000000000000    // fsqrt TWO rmm
        FD_R fsqrt.d, rne, 0x3ffbb67ae8584caa, FF_NX, 0x4008000000000000    // fsqrt THREE rne
        FD_R fsqrt.d, rtz, 0x3ffbb67ae8584caa, FF_NX, 0x4008000000000000    // fsqrt THREE rtz
        FD_R fsqrt.d, rdn, 0x3ffbb67ae8584caa, FF_NX, 0x4008000000000000    // fsqrt THREE rdn
        FD_R fsqrt.d, rup, 0x3ffbb67ae8584cab, FF_NX, 0x4008000000000000    // fsqrt THREE rup
        FD_R fsqrt.d, rmm, 0x3ffbb67ae8584caa, FF_NX, 0x4008000000000000    // fsqrt THREE rmm
        FD_R fsqrt.d, rne, 0x7ff8000000000000, FF_NV, 0xbff0000000000000    // invalid
        FD_R fsqrt.d, rne, 0x8000000000000000, 0, 0x8000000000000000    // sqrt(-0) = -0
        FD_R fsqrt.d, rne, 0x0000000000000000, 0, 0x0000000000000000    // fsqrt Z rne
        FD_R fsqrt.d, rne, 0x7ff0000000000000, 0, 0x7ff0000000000000    // fsqrt INF rne
        FD_R fsqrt.d, rne, 0x7ff8000000000000, FF_NV, 0xfff0000000000000    // fsqrt NINF rne
        FD_R fsqrt.d, rne, 0x1e60000000000000, 0, 0x0000000000000001    // fsqrt MINSUB rne
        FD_R fsqrt.d, rne, 0x5fefffffffffffff, FF_NX, 0x7fefffffffffffff    // fsqrt MAX rne
        FD_R fsqrt.d, rtz, 0x5fefffffffffffff, FF_NX, 0x7fefffffffffffff    // fsqrt MAX rtz
        FD_R fsqrt.d, rdn, 0x5fefffffffffffff, FF_NX, 0x7fefffffffffffff    // fsqrt MAX rdn
        FD_R fsqrt.d, rup, 0x5ff0000000000000, FF_NX, 0x7fefffffffffffff    // fsqrt MAX rup
        FD_R fsqrt.d, rmm, 0x5fefffffffffffff, FF_NX, 0x7fefffffffffffff    // fsqrt MAX rmm
        FD_R fsqrt.d, rne, 0x7ff8000000000000, 0, 0x7ff8000000000000    // fsqrt QNAN rne
        FD_R fsqrt.d, rne, 0x7ff8000000000000, FF_NV, 0x7ff0000000000001    // fsqrt SNAN rne
        FD_R fsqrt.d, rne, 0x7ff8000000000000, FF_NV, 0x8000000000000001    // fsqrt NMINSUB rne
// ------------------------------------------------------ fmin.d / fmax.d
        FD_RR fmin.d, , 0x3ff0000000000000, 0, 0x3ff0000000000000, 0x4000000000000000    // fmin(ONE, TWO)
        FD_RR fmax.d, , 0x4000000000000000, 0, 0x3ff0000000000000, 0x4000000000000000    // fmax(ONE, TWO)
        FD_RR fmin.d, , 0x3ff0000000000000, 0, 0x4000000000000000, 0x3ff0000000000000    // fmin(TWO, ONE)
        FD_RR fmax.d, , 0x4000000000000000, 0, 0x4000000000000000, 0x3ff0000000000000    // fmax(TWO, ONE)
        FD_RR fmin.d, , 0xbff0000000000000, 0, 0xbff0000000000000, 0x3ff0000000000000    // fmin(NONE, ONE)
        FD_RR fmax.d, , 0x3ff0000000000000, 0, 0xbff0000000000000, 0x3ff0000000000000    // fmax(NONE, ONE)
        FD_RR fmin.d, , 0x8000000000000000, 0, 0x8000000000000000, 0x0000000000000000    // fmin(NZ, Z)
        FD_RR fmax.d, , 0x0000000000000000, 0, 0x8000000000000000, 0x0000000000000000    // fmax(NZ, Z)
        FD_RR fmin.d, , 0x8000000000000000, 0, 0x0000000000000000, 0x8000000000000000    // fmin(Z, NZ)
        FD_RR fmax.d, , 0x0000000000000000, 0, 0x0000000000000000, 0x8000000000000000    // fmax(Z, NZ)
        FD_RR fmin.d, , 0x3ff0000000000000, 0, 0x7ff8000000000000, 0x3ff0000000000000    // fmin(QNAN, ONE)
        FD_RR fmax.d, , 0x3ff0000000000000, 0, 0x7ff8000000000000, 0x3ff0000000000000    // fmax(QNAN, ONE)
        FD_RR fmin.d, , 0x3ff0000000000000, 0, 0x3ff0000000000000, 0x7ff8000000000000    // fmin(ONE, QNAN)
        FD_RR fmax.d, , 0x3ff0000000000000, 0, 0x3ff0000000000000, 0x7ff8000000000000    // fmax(ONE, QNAN)
        FD_RR fmin.d, , 0x3ff0000000000000, FF_NV, 0x7ff0000000000001, 0x3ff0000000000000    // fmin(SNAN, ONE)
        FD_RR fmax.d, , 0x3ff0000000000000, FF_NV, 0x7ff0000000000001, 0x3ff0000000000000    // fmax(SNAN, ONE)
        FD_RR fmin.d, , 0x3ff0000000000000, FF_NV, 0x3ff0000000000000, 0x7ff0000000000001    // fmin(ONE, SNAN)
        FD_RR fmax.d, , 0x3ff0000000000000, FF_NV, 0x3ff0000000000000, 0x7ff0000000000001    // fmax(ONE, SNAN)
        FD_RR fmin.d, , 0x7ff8000000000000, 0, 0x7ff8000000000000, 0x7ff8000000000000    // fmin(QNAN, QNAN)
        FD_RR fmax.d, , 0x7ff8000000000000, 0, 0x7ff8000000000000, 0x7ff8000000000000    // fmax(QNAN, QNAN)
        FD_RR fmin.d, , 0x7ff8000000000000, FF_NV, 0x7ff0000000000001, 0x7ff8000000000000    // fmin(SNAN, QNAN)
        FD_RR fmax.d, , 0x7ff8000000000000, FF_NV, 0x7ff0000000000001, 0x7ff8000000000000    // fmax(SNAN, QNAN)
        FD_RR fmin.d, , 0xfff0000000000000, 0, 0xfff8000000000123, 0xfff0000000000000    // fmin(NQNANP, NINF)
        FD_RR fmax.d, , 0xfff0000000000000, 0, 0xfff8000000000123, 0xfff0000000000000    // fmax(NQNANP, NINF)
        FD_RR fmin.d, , 0xfff0000000000000, 0, 0xfff0000000000000, 0x7ff0000000000000    // fmin(NINF, INF)
        FD_RR fmax.d, , 0x7ff0000000000000, 0, 0xfff0000000000000, 0x7ff0000000000000    // fmax(NINF, INF)
        FD_RR fmin.d, , 0x8000000000000001, 0, 0x0000000000000001, 0x8000000000000001    // fmin(MINSUB, NMINSUB)
        FD_RR fmax.d, , 0x0000000000000001, 0, 0x0000000000000001, 0x8000000000000001    // fmax(MINSUB, NMINSUB)
        FD_RR fmin.d, , 0x7fefffffffffffff, 0, 0x7fefffffffffffff, 0x7ff0000000000000    // fmin(MAX, INF)
        FD_RR fmax.d, , 0x7ff0000000000000, 0, 0x7fefffffffffffff, 0x7ff0000000000000    // fmax(MAX, INF)
// ---------------------------------------------------------- sign injection
        FD_RR fsgnj.d, , 0xbff0000000000000, 0, 0x3ff0000000000000, 0xbff0000000000000    // fsgnj(ONE, NONE)
        FD_RR fsgnjn.d, , 0x3ff0000000000000, 0, 0x3ff0000000000000, 0xbff0000000000000    // fsgnjn(ONE, NONE)
        FD_RR fsgnjx.d, , 0xbff0000000000000, 0, 0x3ff0000000000000, 0xbff0000000000000    // fsgnjx(ONE, NONE)
        FD_RR fsgnj.d, , 0x3ff0000000000000, 0, 0xbff0000000000000, 0x3ff0000000000000    // fsgnj(NONE, ONE)
        FD_RR fsgnjn.d, , 0xbff0000000000000, 0, 0xbff0000000000000, 0x3ff0000000000000    // fsgnjn(NONE, ONE)
        FD_RR fsgnjx.d, , 0xbff0000000000000, 0, 0xbff0000000000000, 0x3ff0000000000000    // fsgnjx(NONE, ONE)
        FD_RR fsgnj.d, , 0xbff0000000000000, 0, 0xbff0000000000000, 0xbff0000000000000    // fsgnj(NONE, NONE)
        FD_RR fsgnjn.d, , 0x3ff0000000000000, 0, 0xbff0000000000000, 0xbff0000000000000    // fsgnjn(NONE, NONE)
        FD_RR fsgnjx.d, , 0x3ff0000000000000, 0, 0xbff0000000000000, 0xbff0000000000000    // fsgnjx(NONE, NONE)
        FD_RR fsgnj.d, , 0x3ff0000000000000, 0, 0x3ff0000000000000, 0x3ff0000000000000    // fsgnj(ONE, ONE)
        FD_RR fsgnjn.d, , 0xbff0000000000000, 0, 0x3ff0000000000000, 0x3ff0000000000000    // fsgnjn(ONE, ONE)
        FD_RR fsgnjx.d, , 0x3ff0000000000000, 0, 0x3ff0000000000000, 0x3ff0000000000000    // fsgnjx(ONE, ONE)
        FD_RR fsgnj.d, , 0xfff8000000000000, 0, 0x7ff8000000000000, 0xbff0000000000000    // fsgnj(QNAN, NONE)
        FD_RR fsgnjn.d, , 0x7ff8000000000000, 0, 0x7ff8000000000000, 0xbff0000000000000    // fsgnjn(QNAN, NONE)
        FD_RR fsgnjx.d, , 0xfff8000000000000, 0, 0x7ff8000000000000, 0xbff0000000000000    // fsgnjx(QNAN, NONE)
        FD_RR fsgnj.d, , 0xfff4000000000abc, 0, 0x7ff4000000000abc, 0x8000000000000000    // fsgnj(SNANP, NZ)
        FD_RR fsgnjn.d, , 0x7ff4000000000abc, 0, 0x7ff4000000000abc, 0x8000000000000000    // fsgnjn(SNANP, NZ)
        FD_RR fsgnjx.d, , 0xfff4000000000abc, 0, 0x7ff4000000000abc, 0x8000000000000000    // fsgnjx(SNANP, NZ)
        FD_RR fsgnj.d, , 0x7ff8000000000123, 0, 0xfff8000000000123, 0x7ff8000000000000    // fsgnj(NQNANP, QNAN)
        FD_RR fsgnjn.d, , 0xfff8000000000123, 0, 0xfff8000000000123, 0x7ff8000000000000    // fsgnjn(NQNANP, QNAN)
        FD_RR fsgnjx.d, , 0xfff8000000000123, 0, 0xfff8000000000123, 0x7ff8000000000000    // fsgnjx(NQNANP, QNAN)
        FD_RR fsgnj.d, , 0x7ff0000000000000, 0, 0xfff0000000000000, 0x0000000000000000    // fsgnj(NINF, Z)
        FD_RR fsgnjn.d, , 0xfff0000000000000, 0, 0xfff0000000000000, 0x0000000000000000    // fsgnjn(NINF, Z)
        FD_RR fsgnjx.d, , 0xfff0000000000000, 0, 0xfff0000000000000, 0x0000000000000000    // fsgnjx(NINF, Z)
        FD_RR fsgnj.d, , 0x8000000000000001, 0, 0x0000000000000001, 0x8000000000000001    // fsgnj(MINSUB, NMINSUB)
        FD_RR fsgnjn.d, , 0x0000000000000001, 0, 0x0000000000000001, 0x8000000000000001    // fsgnjn(MINSUB, NMINSUB)
        FD_RR fsgnjx.d, , 0x8000000000000001, 0, 0x0000000000000001, 0x8000000000000001    // fsgnjx(MINSUB, NMINSUB)
// ------------------------------------------------------------- compares
        FD_CMP feq.d, 1, 0, 0x3ff0000000000000, 0x3ff0000000000000    // feq(ONE, ONE)
        FD_CMP flt.d, 0, 0, 0x3ff0000000000000, 0x3ff0000000000000    // flt(ONE, ONE)
        FD_CMP fle.d, 1, 0, 0x3ff0000000000000, 0x3ff0000000000000    // fle(ONE, ONE)
        FD_CMP feq.d, 0, 0, 0x3ff0000000000000, 0x4000000000000000    // feq(ONE, TWO)
        FD_CMP flt.d, 1, 0, 0x3ff0000000000000, 0x4000000000000000    // flt(ONE, TWO)
        FD_CMP fle.d, 1, 0, 0x3ff0000000000000, 0x4000000000000000    // fle(ONE, TWO)
        FD_CMP feq.d, 0, 0, 0x4000000000000000, 0x3ff0000000000000    // feq(TWO, ONE)
        FD_CMP flt.d, 0, 0, 0x4000000000000000, 0x3ff0000000000000    // flt(TWO, ONE)
        FD_CMP fle.d, 0, 0, 0x4000000000000000, 0x3ff0000000000000    // fle(TWO, ONE)
        FD_CMP feq.d, 1, 0, 0x8000000000000000, 0x0000000000000000    // feq(NZ, Z)
        FD_CMP flt.d, 0, 0, 0x8000000000000000, 0x0000000000000000    // flt(NZ, Z)
        FD_CMP fle.d, 1, 0, 0x8000000000000000, 0x0000000000000000    // fle(NZ, Z)
        FD_CMP feq.d, 0, 0, 0xbff0000000000000, 0x8000000000000000    // feq(NONE, NZ)
        FD_CMP flt.d, 1, 0, 0xbff0000000000000, 0x8000000000000000    // flt(NONE, NZ)
        FD_CMP fle.d, 1, 0, 0xbff0000000000000, 0x8000000000000000    // fle(NONE, NZ)
        FD_CMP feq.d, 0, 0, 0xfff0000000000000, 0xffefffffffffffff    // feq(NINF, NMAX)
        FD_CMP flt.d, 1, 0, 0xfff0000000000000, 0xffefffffffffffff    // flt(NINF, NMAX)
        FD_CMP fle.d, 1, 0, 0xfff0000000000000, 0xffefffffffffffff    // fle(NINF, NMAX)
        FD_CMP feq.d, 1, 0, 0x7ff0000000000000, 0x7ff0000000000000    // feq(INF, INF)
        FD_CMP flt.d, 0, 0, 0x7ff0000000000000, 0x7ff0000000000000    // flt(INF, INF)
        FD_CMP fle.d, 1, 0, 0x7ff0000000000000, 0x7ff0000000000000    // fle(INF, INF)
        FD_CMP feq.d, 0, 0, 0x7ff8000000000000, 0x3ff0000000000000    // feq(QNAN, ONE)
        FD_CMP flt.d, 0, FF_NV, 0x7ff8000000000000, 0x3ff0000000000000    // flt(QNAN, ONE)
        FD_CMP fle.d, 0, FF_NV, 0x7ff8000000000000, 0x3ff0000000000000    // fle(QNAN, ONE)
        FD_CMP feq.d, 0, 0, 0x3ff0000000000000, 0x7ff8000000000000    // feq(ONE, QNAN)
        FD_CMP flt.d, 0, FF_NV, 0x3ff0000000000000, 0x7ff8000000000000    // flt(ONE, QNAN)
        FD_CMP fle.d, 0, FF_NV, 0x3ff0000000000000, 0x7ff8000000000000    // fle(ONE, QNAN)
        FD_CMP feq.d, 0, FF_NV, 0x7ff0000000000001, 0x3ff0000000000000    // feq(SNAN, ONE)
        FD_CMP flt.d, 0, FF_NV, 0x7ff0000000000001, 0x3ff0000000000000    // flt(SNAN, ONE)
        FD_CMP fle.d, 0, FF_NV, 0x7ff0000000000001, 0x3ff0000000000000    // fle(SNAN, ONE)
        FD_CMP feq.d, 0, 0, 0x7ff8000000000000, 0x7ff8000000000000    // feq(QNAN, QNAN)
        FD_CMP flt.d, 0, FF_NV, 0x7ff8000000000000, 0x7ff8000000000000    // flt(QNAN, QNAN)
        FD_CMP fle.d, 0, FF_NV, 0x7ff8000000000000, 0x7ff8000000000000    // fle(QNAN, QNAN)
        FD_CMP feq.d, 0, 0, 0x0000000000000001, 0x0000000000000000    // feq(MINSUB, Z)
        FD_CMP flt.d, 0, 0, 0x0000000000000001, 0x0000000000000000    // flt(MINSUB, Z)
        FD_CMP fle.d, 0, 0, 0x0000000000000001, 0x0000000000000000    // fle(MINSUB, Z)
        FD_CMP feq.d, 0, 0, 0x8000000000000001, 0x8000000000000000    // feq(NMINSUB, NZ)
        FD_CMP flt.d, 1, 0, 0x8000000000000001, 0x8000000000000000    // flt(NMINSUB, NZ)
        FD_CMP fle.d, 1, 0, 0x8000000000000001, 0x8000000000000000    // fle(NMINSUB, NZ)
// ---------------------------------------------------------------- fclass
        FD_X fclass.d, , 0x1, 0, 0xfff0000000000000    // fclass(NINF)
        FD_X fclass.d, , 0x2, 0, 0xbff0000000000000    // fclass(NONE)
        FD_X fclass.d, , 0x4, 0, 0x8000000000000001    // fclass(NMINSUB)
        FD_X fclass.d, , 0x8, 0, 0x8000000000000000    // fclass(NZ)
        FD_X fclass.d, , 0x10, 0, 0x0000000000000000    // fclass(Z)
        FD_X fclass.d, , 0x20, 0, 0x0000000000000001    // fclass(MINSUB)
        FD_X fclass.d, , 0x40, 0, 0x3ff0000000000000    // fclass(ONE)
        FD_X fclass.d, , 0x80, 0, 0x7ff0000000000000    // fclass(INF)
        FD_X fclass.d, , 0x100, 0, 0x7ff0000000000001    // fclass(SNAN)
        FD_X fclass.d, , 0x200, 0, 0x7ff8000000000000    // fclass(QNAN)
        FD_X fclass.d, , 0x200, 0, 0xfff8000000000123    // fclass(NQNANP)
        FD_X fclass.d, , 0x100, 0, 0x7ff4000000000abc    // fclass(SNANP)
        FD_X fclass.d, , 0x40, 0, 0x7fefffffffffffff    // fclass(MAX)
        FD_X fclass.d, , 0x2, 0, 0xffefffffffffffff    // fclass(NMAX)
        FD_X fclass.d, , 0x20, 0, 0x000fffffffffffff    // fclass(MAXSUB)
        FD_X fclass.d, , 0x40, 0, 0x0010000000000000    // fclass(MINN)
// ------------------------------------------------------ fused multiply-add
        FD_RRR fmadd.d, rne, 0x401c000000000000, 0, 0x4000000000000000, 0x4008000000000000, 0x3ff0000000000000    // fmadd(TWO, THREE, ONE) rne
        FD_RRR fmadd.d, rne, 0xc004000000000000, 0, 0xbff0000000000000, 0x4008000000000000, 0x3fe0000000000000    // fmadd(NONE, THREE, HALF) rne
        FD_RRR fmsub.d, rne, 0x4014000000000000, 0, 0x4000000000000000, 0x4008000000000000, 0x3ff0000000000000    // fmsub(TWO, THREE, ONE) rne
        FD_RRR fmsub.d, rne, 0xc00c000000000000, 0, 0xbff0000000000000, 0x4008000000000000, 0x3fe0000000000000    // fmsub(NONE, THREE, HALF) rne
        FD_RRR fnmsub.d, rne, 0xc014000000000000, 0, 0x4000000000000000, 0x4008000000000000, 0x3ff0000000000000    // fnmsub(TWO, THREE, ONE) rne
        FD_RRR fnmsub.d, rne, 0x400c000000000000, 0, 0xbff0000000000000, 0x4008000000000000, 0x3fe0000000000000    // fnmsub(NONE, THREE, HALF) rne
        FD_RRR fnmadd.d, rne, 0xc01c000000000000, 0, 0x4000000000000000, 0x4008000000000000, 0x3ff0000000000000    // fnmadd(TWO, THREE, ONE) rne
        FD_RRR fnmadd.d, rne, 0x4004000000000000, 0, 0xbff0000000000000, 0x4008000000000000, 0x3fe0000000000000    // fnmadd(NONE, THREE, HALF) rne
        FD_RRR fmsub.d, rne, 0x3e20000000200000, 0, 0x3ff0000000400000, 0x3ff0000000400000, 0x3ff0000000000000    // single rounding: (1+2^-k)^2 - 1 exact
        FD_RRR fmadd.d, rne, 0x3e20000000200000, 0, 0x3ff0000000400000, 0x3ff0000000400000, 0xbff0000000000000    // fmadd(4607182418804211712, 4607182418804211712, NONE) rne
        FD_RRR fnmadd.d, rne, 0xbe20000000200000, 0, 0x3ff0000000400000, 0x3ff0000000400000, 0xbff0000000000000    // fnmadd(4607182418804211712, 4607182418804211712, NONE) rne
        FD_RRR fnmsub.d, rne, 0xbe20000000200000, 0, 0x3ff0000000400000, 0x3ff0000000400000, 0x3ff0000000000000    // fnmsub(4607182418804211712, 4607182418804211712, ONE) rne
        FD_RRR fmadd.d, rne, 0x3cc0000000000000, FF_NX, 0x3ff0000000000001, 0x3ff0000000000001, 0xbff0000000000000    // fmadd(ONEULP, ONEULP, NONE) rne
        FD_RRR fmadd.d, rtz, 0x3cc0000000000000, FF_NX, 0x3ff0000000000001, 0x3ff0000000000001, 0xbff0000000000000    // fmadd(ONEULP, ONEULP, NONE) rtz
        FD_RRR fmadd.d, rdn, 0x3cc0000000000000, FF_NX, 0x3ff0000000000001, 0x3ff0000000000001, 0xbff0000000000000    // fmadd(ONEULP, ONEULP, NONE) rdn
        FD_RRR fmadd.d, rup, 0x3cc0000000000001, FF_NX, 0x3ff0000000000001, 0x3ff0000000000001, 0xbff0000000000000    // fmadd(ONEULP, ONEULP, NONE) rup
        FD_RRR fmadd.d, rmm, 0x3cc0000000000001, FF_NX, 0x3ff0000000000001, 0x3ff0000000000001, 0xbff0000000000000    // fmadd(ONEULP, ONEULP, NONE) rmm
        FD_RRR fmadd.d, rne, 0xbc90000000000000, 0, 0x3fd5555555555555, 0x4008000000000000, 0xbff0000000000000    // residual of 1/3*3
        FD_RRR fmadd.d, rtz, 0xbc90000000000000, 0, 0x3fd5555555555555, 0x4008000000000000, 0xbff0000000000000    // residual of 1/3*3
        FD_RRR fmadd.d, rdn, 0xbc90000000000000, 0, 0x3fd5555555555555, 0x4008000000000000, 0xbff0000000000000    // residual of 1/3*3
        FD_RRR fmadd.d, rup, 0xbc90000000000000, 0, 0x3fd5555555555555, 0x4008000000000000, 0xbff0000000000000    // residual of 1/3*3
        FD_RRR fmadd.d, rmm, 0xbc90000000000000, 0, 0x3fd5555555555555, 0x4008000000000000, 0xbff0000000000000    // residual of 1/3*3
        FD_RRR fmadd.d, rne, 0x7ff8000000000000, FF_NV, 0x0000000000000000, 0x7ff0000000000000, 0x7ff8000000000000    // inf*0 + qNaN: invalid
        FD_RRR fmadd.d, rne, 0x7ff8000000000000, FF_NV, 0x7ff0000000000000, 0x8000000000000000, 0x3ff0000000000000    // fmadd(INF, NZ, ONE) rne
        FD_RRR fmadd.d, rne, 0x7ff8000000000000, FF_NV, 0x7ff0000000000000, 0x3ff0000000000000, 0xfff0000000000000    // inf - inf: invalid
        FD_RRR fmsub.d, rne, 0x7ff8000000000000, FF_NV, 0x7ff0000000000000, 0x3ff0000000000000, 0x7ff0000000000000    // fmsub(INF, ONE, INF) rne
        FD_RRR fmadd.d, rne, 0x7ff0000000000000, 0, 0x7ff0000000000000, 0x3ff0000000000000, 0x7ff0000000000000    // fmadd(INF, ONE, INF) rne
        FD_RRR fmadd.d, rne, 0x7ff8000000000000, 0, 0x3ff0000000000000, 0x3ff0000000000000, 0x7ff8000000000000    // fmadd(ONE, ONE, QNAN) rne
        FD_RRR fmadd.d, rne, 0x7ff8000000000000, FF_NV, 0x3ff0000000000000, 0x7ff0000000000001, 0x3ff0000000000000    // fmadd(ONE, SNAN, ONE) rne
        FD_RRR fmadd.d, rne, 0x0000000000000000, 0, 0x3ff0000000000000, 0x0000000000000000, 0x8000000000000000    // +0 + -0
        FD_RRR fmadd.d, rdn, 0x8000000000000000, 0, 0x3ff0000000000000, 0x0000000000000000, 0x8000000000000000    // +0 + -0
        FD_RRR fnmadd.d, rne, 0x8000000000000000, 0, 0x0000000000000000, 0x3ff0000000000000, 0x0000000000000000    // -(0*1) - 0 = -0
        FD_RRR fnmsub.d, rne, 0x0000000000000000, 0, 0x0000000000000000, 0x3ff0000000000000, 0x0000000000000000    // fnmsub(Z, ONE, Z) rne
        FD_RRR fnmsub.d, rdn, 0x8000000000000000, 0, 0x0000000000000000, 0x3ff0000000000000, 0x0000000000000000    // fnmsub(Z, ONE, Z) rdn
        FD_RRR fmsub.d, rne, 0x0000000000000000, 0, 0x3ff0000000000000, 0x3ff0000000000000, 0x3ff0000000000000    // fmsub(ONE, ONE, ONE) rne
        FD_RRR fmsub.d, rdn, 0x8000000000000000, 0, 0x3ff0000000000000, 0x3ff0000000000000, 0x3ff0000000000000    // fmsub(ONE, ONE, ONE) rdn
        FD_RRR fmadd.d, rne, 0x7fefffffffffffff, 0, 0x7fefffffffffffff, 0x4000000000000000, 0xffefffffffffffff    // no intermediate overflow
        FD_RRR fmadd.d, rtz, 0x7fefffffffffffff, 0, 0x7fefffffffffffff, 0x4000000000000000, 0xffefffffffffffff    // no intermediate overflow
        FD_RRR fmadd.d, rdn, 0x7fefffffffffffff, 0, 0x7fefffffffffffff, 0x4000000000000000, 0xffefffffffffffff    // no intermediate overflow
        FD_RRR fmadd.d, rup, 0x7fefffffffffffff, 0, 0x7fefffffffffffff, 0x4000000000000000, 0xffefffffffffffff    // no intermediate overflow
        FD_RRR fmadd.d, rmm, 0x7fefffffffffffff, 0, 0x7fefffffffffffff, 0x4000000000000000, 0xffefffffffffffff    // no intermediate overflow
        FD_RRR fmadd.d, rne, 0x7ff0000000000000, FF_OF|FF_NX, 0x7fefffffffffffff, 0x7fefffffffffffff, 0x3ff0000000000000    // overflow
        FD_RRR fmadd.d, rtz, 0x7fefffffffffffff, FF_OF|FF_NX, 0x7fefffffffffffff, 0x7fefffffffffffff, 0x3ff0000000000000    // overflow
        FD_RRR fmadd.d, rne, 0x0008000000000001, 0, 0x0010000000000000, 0x3fe0000000000000, 0x0000000000000001    // subnormal exact
        FD_RRR fmadd.d, rne, 0x0005555555555555, FF_UF|FF_NX, 0x0010000000000000, 0x3fd5555555555555, 0x0000000000000000    // underflow
        FD_RRR fmadd.d, rtz, 0x0005555555555555, FF_UF|FF_NX, 0x0010000000000000, 0x3fd5555555555555, 0x0000000000000000    // underflow
        FD_RRR fmadd.d, rdn, 0x0005555555555555, FF_UF|FF_NX, 0x0010000000000000, 0x3fd5555555555555, 0x0000000000000000    // underflow
        FD_RRR fmadd.d, rup, 0x0005555555555556, FF_UF|FF_NX, 0x0010000000000000, 0x3fd5555555555555, 0x0000000000000000    // underflow
        FD_RRR fmadd.d, rmm, 0x0005555555555555, FF_UF|FF_NX, 0x0010000000000000, 0x3fd5555555555555, 0x0000000000000000    // underflow

// ------------------------------------------------------ moves, loads, stores
        TEST_CASE                       // fmv.d.x / fmv.x.d keep every bit, NaN payloads too
        li      a1, 0x7ff4000000000abc
        fmv.d.x ft0, a1
        fmv.x.d a0, ft0
        CHECK   a0, 0x7ff4000000000abc
        li      a1, 0xfff8000000000123
        fmv.d.x ft11, a1
        fmv.x.d a0, ft11
        CHECK   a0, 0xfff8000000000123

        TEST_CASE                       // fld / fsd keep every bit
        la      a1, fdata
        fld     fa0, 0(a1)
        fld     fa1, 8(a1)
        fmv.x.d a0, fa0
        CHECK   a0, 0x7ff0000000000001
        fmv.x.d a0, fa1
        CHECK   a0, 0x8000000000000001
        fsd     fa1, 16(a1)
        fsd     fa0, 24(a1)
        ld      a0, 16(a1)
        CHECK   a0, 0x8000000000000001
        ld      a0, 24(a1)
        CHECK   a0, 0x7ff0000000000001
        la      a2, fdata + 2048
        fld     fa2, -2048(a2)
        fsd     fa2, -2040(a2)
        ld      a0, 8(a1)
        CHECK   a0, 0x7ff0000000000001

        TEST_CASE                       // no flags from moves, loads, stores, sign injection
        fsflags zero
        la      a1, fdata
        fld     fa0, 0(a1)              // sNaN
        fsd     fa0, 16(a1)
        fmv.x.d a0, fa0
        fmv.d.x fa1, a0
        fsgnj.d fa2, fa0, fa1
        fsgnjn.d fa2, fa0, fa0
        fsgnjx.d fa2, fa2, fa0
        frflags a0
        CHECK   a0, 0

        TEST_CASE                       // all 32 FP registers are distinct
        li      a0, 0x4000000000000000
        fmv.d.x f0, zero
        fmv.d.x f31, a0
        fmv.x.d a1, f0
        CHECK   a1, 0
        fadd.d  f1, f31, f31
        fmv.x.d a1, f1
        CHECK   a1, 0x4010000000000000
        fadd.d  f31, f31, f1
        fmv.x.d a1, f31
        CHECK   a1, 0x4018000000000000
        PASS

        .data
        .balign 8
fdata:  .dword  0x7ff0000000000001, 0x8000000000000001, 0, 0
