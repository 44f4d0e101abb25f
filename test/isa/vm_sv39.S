// Sv39 virtual memory (see vm.h for the layout and the shared checks):
// 4 KiB pages, 2 MiB and 1 GiB superpages (and misaligned ones), page
// faults 12/13/15 with mtval/stval = the faulting address for invalid PTEs,
// missing R/W/X, reserved W-without-R, U pages from S with and without SUM,
// S pages from U, MXR, pointer PTEs at the last level; hardware A/D update;
// SFENCE.VMA; delegated page faults; MPRV; satp WARL and bare mode; plus the
// Sv39-specific canonical-address rule (VA[63:39] must equal VA[38]).
#include "common.h"
#include "vm.h"

        VM_BUILD
        TEST_CASE                       // satp accepts Sv39
        la      a0, vm_root
        srli    a0, a0, 12
        li      a1, SATP_MODE_SV39 << 60
        or      a0, a0, a1
        csrw    satp, a0
        sfence.vma
        csrr    a2, satp
        CHECKR  a2, a0

        VM_COMMON_TESTS

// ---- canonical addresses
        li      a1, 0xffffffc000000000  // VPN[2] = 256: maps PA 0x8000_0000
        PAGE_PA a2, 0, 0x10
        li      a3, 0x80000000
        sub     a2, a2, a3
        add     a1, a1, a2
        S_OK    "ld a0, 0(a1)"
        CHECK   a0, 0x1000
        li      a1, 0x0000004000000000  // bit 38 set, bits 63:39 clear
        S_FAULT CAUSE_LOAD_PAGE, 0x0000004000000000, "ld a0, 0(a1)"
        li      a1, 0xffffff8000000010  // bit 38 clear, bits 63:39 set
        S_FAULT CAUSE_STORE_PAGE, 0xffffff8000000010, "sd a0, 0(a1)"
        li      a1, 0x0000008040000000  // would be root[1] if bit 39 were ignored
        S_FAULT CAUSE_FETCH_PAGE, 0x0000008040000000, "jalr ra, 0(a1)"
        li      a1, 0x8000000040000010
        S_FAULT CAUSE_LOAD_PAGE, 0x8000000040000010, "ld a0, 0(a1)"
        PASS
