// Sv48 virtual memory: the shared checks of vm.h run with a level-3 table
// on top of the Sv39 tree, plus Sv48-specific cases: 512 GiB terapages
// (aligned and misaligned), 48-bit canonical addresses (VA[63:48] must
// equal VA[47]), addresses that are non-canonical in Sv39 but valid in
// Sv48, and switching between Sv39 and Sv48 with SFENCE.VMA.
#include "common.h"
#include "vm.h"

        VM_BUILD
        SET_PTR  vm_top, 0, vm_root
        SET_LEAF vm_top, 1, 0x00000000, RW_AD                   // terapage -> PA 0
        SET_LEAF vm_top, 2, 0x80000000, PTE_V | PTE_R | PTE_A   // misaligned terapage
        TEST_CASE                       // satp accepts Sv48
        la      a0, vm_top
        srli    a0, a0, 12
        li      a1, SATP_MODE_SV48 << 60
        or      a0, a0, a1
        csrw    satp, a0
        sfence.vma
        csrr    a2, satp
        CHECKR  a2, a0

        VM_COMMON_TESTS

// ---- terapages
        PAGE_PA a2, 0, 0x10
        li      a1, 0x0000008000000000  // vm_top[1]: VA 512 GiB + PA
        add     a1, a1, a2
        S_OK    "ld a0, 0(a1)", "sd a0, 8(a1)"
        CHECK   a0, 0x1000
        li      a1, 0x0000010000000040  // vm_top[2]: misaligned
        S_FAULT CAUSE_LOAD_PAGE, 0x0000010000000040, "ld a0, 0(a1)"

// ---- 48-bit canonical addresses
        li      a1, 0x0000004000000000  // non-canonical in Sv39, fine here
        li      a3, 0x80000000
        sub     a2, a2, a3
        add     a1, a1, a2
        S_OK    "ld a0, 0(a1)"
        CHECK   a0, 0x1000
        li      a1, 0xffffffffc0000000  // canonical but VPN[3] = 511 is not mapped
        S_FAULT CAUSE_LOAD_PAGE, 0xffffffffc0000000, "ld a0, 0(a1)"
        li      a1, 0x0000800000000000  // bit 47 set, bits 63:48 clear
        S_FAULT CAUSE_LOAD_PAGE, 0x0000800000000000, "ld a0, 0(a1)"
        li      a1, 0xffff000040000000  // bit 47 clear, bits 63:48 set
        S_FAULT CAUSE_STORE_PAGE, 0xffff000040000000, "sd a0, 0(a1)"

// ---- switch to Sv39 on the same tree and back
        TEST_CASE
        csrr    a4, satp
        la      a0, vm_root
        srli    a0, a0, 12
        li      a1, SATP_MODE_SV39 << 60
        or      a5, a0, a1
        li      a1, 0x0000004000000000
        S_FAULT CAUSE_LOAD_PAGE, 0x0000004000000000, "csrw satp, a5", "sfence.vma", "ld a0, 0(a1)"
        csrw    satp, a4
        sfence.vma
        li      a1, VA_PAGE(0)
        S_OK    "ld a0, 0x10(a1)"
        CHECK   a0, 0x1000
        PASS
