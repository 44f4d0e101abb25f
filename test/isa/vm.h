// vm.h - page-table layout and checks shared by vm_sv39.S and vm_sv48.S.
//
// Include after common.h.  The including program builds the tables with
// VM_BUILD (M-mode), points satp at them, then expands VM_COMMON_TESTS,
// which checks translation and page faults with the same virtual layout in
// either mode (every test VA has VPN[3] = 0, so in Sv48 the top-level table
// just points at the Sv39 root, which then acts as the level-2 table).
//
// Virtual layout (root = level-2 table "vm_root"):
//   root[0]    gigapage  VA 0x0000_0000 -> PA 0x0000_0000  RW      (MMIO)
//   root[1]    -> vm_l1  VA 0x4000_0000 ..
//     vm_l1[0] -> vm_l0  VA_PAGE(i) = 0x4000_0000 + i * 4 KiB: test pages,
//                        each leaf set per test (MAP_PAGE)
//     vm_l1[1]  megapage VA 0x4020_0000 -> PA 0x8000_0000  R  (aligned)
//     vm_l1[2]  megapage VA 0x4040_0000 -> PA 0x8000_1000  R  (misaligned)
//   root[2]    gigapage  VA 0x8000_0000 -> PA 0x8000_0000  RWX     (S code)
//   root[3]    gigapage  VA 0xc000_0000 -> PA 0x8000_0000  RWX+U   (U code)
//   root[4]    gigapage  VA 0x1_0000_0000 -> PA 0x8020_0000 R (misaligned)
//   root[5]    gigapage  VA 0x1_4000_0000 -> PA 0x8000_0000 R (aligned)
//   root[256]  gigapage  -> PA 0x8000_0000 R: VA 0xffff_ffc0_0000_0000 in
//              Sv39, VA 0x40_0000_0000 in Sv48
// All leaves have A (and D if writable) set unless a test says otherwise.

#define VA_PAGE(i)      (0x40000000 + (i) * 0x1000)
#define VA_MEGA         0x40200000
#define VA_MEGA_BAD     0x40400000
#define VA_GIGA_BAD     0x100000000
#define VA_GIGA         0x140000000
#define U_ALIAS         0x40000000          // U code runs at PA + U_ALIAS

#define RW_AD   (PTE_V | PTE_R | PTE_W | PTE_A | PTE_D)
#define RWX_AD  (PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D)

// Point entry \idx of \table at the next-level table \next.
        .macro SET_PTR table, idx, next
        la      s10, \next
        srli    s10, s10, 12
        slli    s10, s10, 10
        ori     s10, s10, PTE_V
        la      s11, \table + (\idx) * 8
        sd      s10, 0(s11)
        .endm

// Leaf entry \idx of \table -> constant physical address \pa, \flags.
        .macro SET_LEAF table, idx, pa, flags
        li      s10, ((((\pa) >> 12) << 10) | (\flags))
        la      s11, \table + (\idx) * 8
        sd      s10, 0(s11)
        .endm

// Map test page VA_PAGE(\i) to physical test page \p with \flags, flush.
        .macro MAP_PAGE i, p, flags
        la      s10, vm_pages + (\p) * 4096
        srli    s10, s10, 12
        slli    s10, s10, 10
        li      s11, \flags
        or      s10, s10, s11
        la      s11, vm_l0 + (\i) * 8
        sd      s10, 0(s11)
        sfence.vma
        .endm

// a0 <- PTE of test page \i
        .macro GET_PTE reg, i
        la      \reg, vm_l0 + (\i) * 8
        ld      \reg, 0(\reg)
        .endm

// Physical address of test page \p (+ \off) into \reg.
        .macro PAGE_PA reg, p, off=0
        la      \reg, vm_pages + (\p) * 4096 + (\off)
        .endm

        .macro SET_MSTATUS bits
        li      s10, \bits
        csrs    mstatus, s10
        .endm
        .macro CLR_MSTATUS bits
        li      s10, \bits
        csrc    mstatus, s10
        .endm

// From S-mode run the instructions \i1..\i5 (each a quoted string); a trap
// to M with mcause \cause, mtval \tval must follow.  Registers set in M
// before are visible to them.
        .macro S_FAULT cause, tval, i1, i2, i3, i4, i5
        TEST_CASE
        ARM_TRAP 8871f
        MRET_TO PRV_S, 8870f
8870:   \i1
        \i2
        \i3
        \i4
        \i5
        ecall
8871:   CHECK_MCAUSE \cause
        CHECK_MTVAL \tval
        .endm

// From S-mode run \i1..\i6, which must not trap.
        .macro S_OK i1, i2, i3, i4, i5, i6
        TEST_CASE
        ARM_TRAP 8873f
        MRET_TO PRV_S, 8872f
8872:   \i1
        \i2
        \i3
        \i4
        \i5
        \i6
        ecall
8873:   CHECK_MCAUSE CAUSE_ECALL_S
        .endm

// mret to U-mode at the U alias of \label.
        .macro MRET_TO_U label
        li      s10, MSTATUS_MPP
        csrc    mstatus, s10
        la      s10, \label
        li      s11, U_ALIAS
        add     s10, s10, s11
        csrw    mepc, s10
        mret
        .endm

        .macro U_FAULT cause, tval, i1, i2, i3
        TEST_CASE
        ARM_TRAP 8875f
        MRET_TO_U 8874f
8874:   \i1
        \i2
        \i3
        ecall
8875:   CHECK_MCAUSE \cause
        CHECK_MTVAL \tval
        .endm

        .macro U_OK i1, i2, i3
        TEST_CASE
        ARM_TRAP 8877f
        MRET_TO_U 8876f
8876:   \i1
        \i2
        \i3
        ecall
8877:   CHECK_MCAUSE CAUSE_ECALL_U
        .endm

// Build the Sv39 tree (M-mode, tables are zeroed by _start) and fill the
// physical test pages: word at +0x10 of page p = 0x1000 + p; page p starts
// with "li a0, 0x100 + p; ret" so that it can be executed.
        .macro VM_BUILD
        SET_LEAF vm_root, 0, 0x00000000, RW_AD
        SET_PTR  vm_root, 1, vm_l1
        SET_PTR  vm_l1, 0, vm_l0
        SET_LEAF vm_l1, 1, 0x80000000, PTE_V | PTE_R | PTE_A
        SET_LEAF vm_l1, 2, 0x80001000, PTE_V | PTE_R | PTE_A
        SET_LEAF vm_root, 2, 0x80000000, RWX_AD
        SET_LEAF vm_root, 3, 0x80000000, RWX_AD | PTE_U
        SET_LEAF vm_root, 4, 0x80200000, PTE_V | PTE_R | PTE_A
        SET_LEAF vm_root, 5, 0x80000000, PTE_V | PTE_R | PTE_A
        SET_LEAF vm_root, 256, 0x80000000, PTE_V | PTE_R | PTE_A
        la      a0, vm_pages
        li      a1, 0
        li      a2, 16
1:      li      a3, 0x10000513          // addi a0, zero, 0x100
        slli    a4, a1, 20
        add     a3, a3, a4              // + p in the immediate
        sw      a3, 0(a0)
        li      a3, 0x00008067          // ret
        sw      a3, 4(a0)
        li      a3, 0x1000
        add     a3, a3, a1
        sd      a3, 0x10(a0)
        li      a3, 4096
        add     a0, a0, a3
        addi    a1, a1, 1
        bne     a1, a2, 1b
        fence.i
        .endm

// ===================================================== mode-independent tests
        .macro VM_COMMON_TESTS
// ---- basic 4 KiB mapping
        MAP_PAGE 0, 0, RW_AD
        li      a1, VA_PAGE(0)
        S_OK    "ld a0, 0x10(a1)"
        CHECK   a0, 0x1000
        MAP_PAGE 0, 3, RW_AD            // same VA, another frame
        li      a2, 0x5555aaaa
        S_OK    "ld a0, 0x10(a1)", "sd a2, 0x18(a1)"
        CHECK   a0, 0x1003
        PAGE_PA a3, 3, 0x18
        ld      a0, 0(a3)
        CHECK   a0, 0x5555aaaa
        MAP_PAGE 0, 0, RW_AD

// ---- invalid PTE: load/store/fetch faults with tval = the address
        MAP_PAGE 1, 1, RWX_AD & ~PTE_V
        li      a1, VA_PAGE(1)
        S_FAULT CAUSE_LOAD_PAGE, VA_PAGE(1) + 8, "ld a0, 8(a1)"
        S_FAULT CAUSE_STORE_PAGE, VA_PAGE(1) + 0x7f8, "sd a0, 0x7f8(a1)"
        S_FAULT CAUSE_LOAD_PAGE, VA_PAGE(1) + 3, "lbu a0, 3(a1)"
        // An AMO raises a store/AMO page fault.  (QEMU 7.2 gets this right
        // only with more than one hart - with one it runs AMOs as a load plus
        // a store and reports a load page fault - so the VM programs run with
        // harts = 2; see docs/testing-isa.md.)
        S_FAULT CAUSE_STORE_PAGE, VA_PAGE(1) + 0x10, "addi a3, a1, 0x10", "amoadd.d a0, a0, (a3)"
        S_FAULT CAUSE_FETCH_PAGE, VA_PAGE(1), "jalr ra, 0(a1)"
        CHECK_TI trap_info, TI_EPC, VA_PAGE(1)     // mepc = the target

// ---- W without R is reserved: faults
        MAP_PAGE 2, 2, PTE_V | PTE_W | PTE_A | PTE_D
        li      a1, VA_PAGE(2)
        S_FAULT CAUSE_LOAD_PAGE, VA_PAGE(2) + 0x10, "ld a0, 0x10(a1)"
        S_FAULT CAUSE_STORE_PAGE, VA_PAGE(2) + 0x10, "sd a0, 0x10(a1)"
        MAP_PAGE 2, 2, PTE_V | PTE_W | PTE_X | PTE_A | PTE_D
        S_FAULT CAUSE_FETCH_PAGE, VA_PAGE(2), "jalr ra, 0(a1)"

// ---- execute-only page; MXR
        MAP_PAGE 3, 3, PTE_V | PTE_X | PTE_A
        li      a1, VA_PAGE(3)
        S_OK    "li a0, 0", "jalr ra, 0(a1)"
        CHECK   a0, 0x103
        S_FAULT CAUSE_LOAD_PAGE, VA_PAGE(3) + 0x10, "ld a0, 0x10(a1)"
        S_FAULT CAUSE_STORE_PAGE, VA_PAGE(3) + 0x10, "sd a0, 0x10(a1)"
        SET_MSTATUS MSTATUS_MXR
        S_OK    "ld a0, 0x10(a1)"
        CHECK   a0, 0x1003
        S_FAULT CAUSE_STORE_PAGE, VA_PAGE(3) + 0x10, "sd a0, 0x10(a1)"
        CLR_MSTATUS MSTATUS_MXR

// ---- read-only page
        MAP_PAGE 4, 4, PTE_V | PTE_R | PTE_A
        li      a1, VA_PAGE(4)
        S_OK    "ld a0, 0x10(a1)"
        CHECK   a0, 0x1004
        S_FAULT CAUSE_STORE_PAGE, VA_PAGE(4) + 0x10, "sd a0, 0x10(a1)"
        S_FAULT CAUSE_STORE_PAGE, VA_PAGE(4) + 0x10, "addi a2, a1, 0x10", "lr.d a0, (a2)", "sc.d a0, a0, (a2)"
        S_FAULT CAUSE_STORE_PAGE, VA_PAGE(4) + 0x10, "addi a2, a1, 0x10", "amoswap.w a0, a0, (a2)"
        S_FAULT CAUSE_FETCH_PAGE, VA_PAGE(4), "jalr ra, 0(a1)"

// ---- read-write page without X
        li      a1, VA_PAGE(0)
        S_FAULT CAUSE_FETCH_PAGE, VA_PAGE(0), "jalr ra, 0(a1)"

// ---- U pages from S: SUM
        MAP_PAGE 5, 5, RWX_AD | PTE_U
        li      a1, VA_PAGE(5)
        CLR_MSTATUS MSTATUS_SUM
        S_FAULT CAUSE_LOAD_PAGE, VA_PAGE(5) + 0x10, "ld a0, 0x10(a1)"
        S_FAULT CAUSE_STORE_PAGE, VA_PAGE(5) + 0x20, "sd a0, 0x20(a1)"
        SET_MSTATUS MSTATUS_SUM
        li      a2, 0x77
        S_OK    "ld a0, 0x10(a1)", "sd a2, 0x20(a1)"
        CHECK   a0, 0x1005
        PAGE_PA a3, 5, 0x20
        ld      a0, 0(a3)
        CHECK   a0, 0x77
        S_FAULT CAUSE_FETCH_PAGE, VA_PAGE(5), "jalr ra, 0(a1)"     // never, even with SUM
        CLR_MSTATUS MSTATUS_SUM

// ---- U-mode: only U pages
        li      a1, VA_PAGE(5)
        U_OK    "ld a0, 0x10(a1)"
        CHECK   a0, 0x1005
        U_OK    "li a0, 0", "jalr ra, 0(a1)"
        CHECK   a0, 0x105
        li      a1, VA_PAGE(0)
        U_FAULT CAUSE_LOAD_PAGE, VA_PAGE(0) + 0x10, "ld a0, 0x10(a1)"
        U_FAULT CAUSE_STORE_PAGE, VA_PAGE(0) + 0x10, "sd a0, 0x10(a1)"
        li      a1, VA_PAGE(3)
        U_FAULT CAUSE_FETCH_PAGE, VA_PAGE(3), "jalr ra, 0(a1)"
        SET_MSTATUS MSTATUS_SUM         // SUM does not matter for U
        li      a1, VA_PAGE(4)
        U_FAULT CAUSE_LOAD_PAGE, VA_PAGE(4) + 0x10, "ld a0, 0x10(a1)"
        CLR_MSTATUS MSTATUS_SUM
        MAP_PAGE 6, 6, PTE_V | PTE_R | PTE_A | PTE_U
        li      a1, VA_PAGE(6)
        U_FAULT CAUSE_STORE_PAGE, VA_PAGE(6) + 0x10, "sd a0, 0x10(a1)"

// ---- A and D are set by the hardware (moat and QEMU 7.2 both do)
        MAP_PAGE 6, 6, PTE_V | PTE_R | PTE_W
        li      a1, VA_PAGE(6)
        S_OK    "ld a0, 0x10(a1)"
        CHECK   a0, 0x1006
        TEST_CASE
        GET_PTE a0, 6
        andi    a0, a0, PTE_A | PTE_D
        CHECK   a0, PTE_A
        S_OK    "sd a0, 0x18(a1)"
        TEST_CASE
        GET_PTE a0, 6
        andi    a0, a0, PTE_A | PTE_D
        CHECK   a0, PTE_A | PTE_D
        MAP_PAGE 7, 7, PTE_V | PTE_R | PTE_W
        li      a1, VA_PAGE(7)
        S_OK    "sd a0, 0x18(a1)"         // a store sets both
        TEST_CASE
        GET_PTE a0, 7
        andi    a0, a0, PTE_A | PTE_D
        CHECK   a0, PTE_A | PTE_D
        MAP_PAGE 7, 7, PTE_V | PTE_X
        li      a1, VA_PAGE(7)
        S_OK    "li a0, 0", "jalr ra, 0(a1)"
        CHECK   a0, 0x107
        TEST_CASE                       // a fetch sets A
        GET_PTE a0, 7
        andi    a0, a0, PTE_A | PTE_D
        CHECK   a0, PTE_A
        MAP_PAGE 7, 7, PTE_V | PTE_R
        S_FAULT CAUSE_STORE_PAGE, VA_PAGE(7) + 8, "sd a0, 8(a1)"
        TEST_CASE                       // a faulting store sets neither
        GET_PTE a0, 7
        andi    a0, a0, PTE_A | PTE_D
        CHECK   a0, 0

// ---- superpages
        li      a1, VA_MEGA
        PAGE_PA a2, 0, 0x10
        li      a3, 0x80000000
        sub     a2, a2, a3
        add     a1, a1, a2              // VA_MEGA + (PA of page 0 + 0x10 - 2 GiB)
        S_OK    "ld a0, 0(a1)"
        CHECK   a0, 0x1000
        li      a1, VA_GIGA
        add     a1, a1, a2
        S_OK    "ld a0, 0(a1)"
        CHECK   a0, 0x1000
        li      a1, VA_MEGA_BAD
        S_FAULT CAUSE_LOAD_PAGE, VA_MEGA_BAD + 0x40, "ld a0, 0x40(a1)"
        li      a1, VA_GIGA_BAD
        S_FAULT CAUSE_LOAD_PAGE, VA_GIGA_BAD + 0x40, "ld a0, 0x40(a1)"
        S_FAULT CAUSE_STORE_PAGE, VA_GIGA_BAD, "sd a0, 0(a1)"

// ---- a pointer PTE (R=W=X=0) at the last level faults
        TEST_CASE
        la      s10, vm_l0 + 8 * 8
        li      s11, PTE_V
        sd      s11, 0(s10)
        sfence.vma
        li      a1, VA_PAGE(8)
        S_FAULT CAUSE_LOAD_PAGE, VA_PAGE(8), "ld a0, 0(a1)"

// ---- sfence.vma makes PTE changes visible
        MAP_PAGE 9, 10, RW_AD
        li      a1, VA_PAGE(9)
        S_OK    "ld a0, 0x10(a1)"
        CHECK   a0, 0x100a
        TEST_CASE                       // remap, flush by address from S
        la      s10, vm_pages + 11 * 4096
        srli    s10, s10, 12
        slli    s10, s10, 10
        ori     s10, s10, RW_AD
        la      s11, vm_l0 + 9 * 8
        sd      s10, 0(s11)
        S_OK    "sfence.vma a1, zero", "ld a0, 0x10(a1)"
        CHECK   a0, 0x100b
        TEST_CASE                       // remap back, flush everything from S
        la      s10, vm_pages + 10 * 4096
        srli    s10, s10, 12
        slli    s10, s10, 10
        ori     s10, s10, RW_AD
        la      s11, vm_l0 + 9 * 8
        sd      s10, 0(s11)
        S_OK    "sfence.vma", "ld a0, 0x10(a1)"
        CHECK   a0, 0x100a
        TEST_CASE                       // unmap, flush with an ASID argument
        la      s11, vm_l0 + 9 * 8
        sd      zero, 0(s11)
        S_FAULT CAUSE_LOAD_PAGE, VA_PAGE(9) + 0x10, "sfence.vma zero, zero", "sfence.vma a1, zero", "ld a0, 0x10(a1)"

// ---- page faults delegated to S: scause / stval / sepc
        TEST_CASE
        li      a0, (1 << CAUSE_FETCH_PAGE) | (1 << CAUSE_LOAD_PAGE) | (1 << CAUSE_STORE_PAGE)
        csrw    medeleg, a0
        li      a1, VA_PAGE(1)
        ARM_TRAP 9f
        MRET_TO PRV_S, 1f
1:      S_ARM_TRAP 2f
8:      lw      a0, 4(a1)
        FAIL_HERE
2:      la      s10, strap_info
        ld      a2, TI_CAUSE(s10)
        ld      a3, TI_TVAL(s10)
        ld      a4, TI_EPC(s10)
        S_ARM_TRAP 3f
        sh      a0, 6(a1)
        FAIL_HERE
3:      la      s10, strap_info
        ld      a5, TI_CAUSE(s10)
        ld      a6, TI_TVAL(s10)
        S_ARM_TRAP 4f
        jalr    ra, 0(a1)
        FAIL_HERE
4:      la      s10, strap_info
        ld      a7, TI_CAUSE(s10)
        ld      t3, TI_TVAL(s10)
        ld      t4, TI_EPC(s10)
        ecall
9:      csrw    medeleg, zero
        CHECK_MCAUSE CAUSE_ECALL_S
        CHECK   a2, CAUSE_LOAD_PAGE
        CHECK   a3, VA_PAGE(1) + 4
        la      s10, 8b
        CHECKR  a4, s10
        CHECK   a5, CAUSE_STORE_PAGE
        CHECK   a6, VA_PAGE(1) + 6
        CHECK   a7, CAUSE_FETCH_PAGE
        CHECK   t3, VA_PAGE(1)
        CHECK   t4, VA_PAGE(1)

// ---- M-mode with MPRV = 1, MPP = S: loads and stores are translated
        TEST_CASE
        li      a1, VA_PAGE(0)
        SET_MSTATUS MSTATUS_MPRV | MSTATUS_MPP_S
        ld      a0, 0x10(a1)
        CLR_MSTATUS MSTATUS_MPRV | MSTATUS_MPP
        CHECK   a0, 0x1000
        TEST_CASE                       // ... and fault to M with mtval = VA
        li      a1, VA_PAGE(1)
        ARM_TRAP 1f
        SET_MSTATUS MSTATUS_MPRV | MSTATUS_MPP_S
        ld      a0, 0x28(a1)
1:      CLR_MSTATUS MSTATUS_MPRV | MSTATUS_MPP
        CHECK_MCAUSE CAUSE_LOAD_PAGE
        CHECK_MTVAL VA_PAGE(1) + 0x28
        TEST_CASE                       // fetches in M are never translated
        li      a1, VA_PAGE(0)
        SET_MSTATUS MSTATUS_MPRV | MSTATUS_MPP_S
        jal     ra, 2f
        j       3f
2:      ret
3:      CLR_MSTATUS MSTATUS_MPRV | MSTATUS_MPP

// ---- satp: unsupported modes are ignored entirely (WARL), bare in S
        TEST_CASE
        csrr    a1, satp
        li      a0, (5 << 60) | 0x12345
        csrw    satp, a0
        csrr    a2, satp
        CHECKR  a2, a1
        li      a0, (15 << 60) | 0x12345
        csrw    satp, a0
        csrr    a2, satp
        CHECKR  a2, a1
        li      a0, (11 << 60)
        csrw    satp, a0
        csrr    a2, satp
        CHECKR  a2, a1
        TEST_CASE                       // S switches translation off and back on
        PAGE_PA a1, 0, 0x10
        csrr    a3, satp
        S_OK    "csrw satp, zero", "sfence.vma", "ld a0, 0(a1)", "csrr a4, satp", "csrw satp, a3", "sfence.vma"
        CHECK   a0, 0x1000
        CHECK   a4, 0
        .endm

        .section .bss.pages, "aw", @nobits
        .balign 4096
vm_root:    .skip 4096
vm_l1:      .skip 4096
vm_l0:      .skip 4096
vm_top:     .skip 4096          // Sv48 level-3 table
vm_pages:   .skip 16 * 4096
        .text
