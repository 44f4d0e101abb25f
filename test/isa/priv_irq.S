// Interrupts:
//  - machine timer (CLINT mtimecmp): MTIP follows mtime >= mtimecmp, is
//    read-only in mip, traps with mcause = 2^63 | 7;
//  - machine software (CLINT msip): MSIP, mcause = 2^63 | 3;
//  - supervisor software: mip.SSIP set by M; not delegated -> taken in M;
//    delegated through mideleg -> taken in S (scause = 2^63 | 1), enabled by
//    sstatus.SIE in S and always enabled in U; never taken in M;
//  - M interrupts are taken in S/U regardless of mstatus.MIE;
//  - priority MSI > MTI when both are pending;
//  - sie/sip are views of mie/mip restricted by mideleg;
//  - WFI wakes on a pending locally-enabled interrupt with MIE = 0 (no trap)
//    and with MIE = 1 the interrupt is taken with mepc = the next instruction;
//  - vectored mtvec, if the implementation supports it (mode is WARL).
#include "common.h"

#define IRQ_N     0           // number of interrupts taken (M handler)
#define IRQ_EPC   8           // mepc of the last one
#define IRQ_LOG   16          // mcause of the first 8
#define IRQ_SAVE  80
#define SIRQ_N    0
#define SIRQ_EPC  8
#define SIRQ_CAUSE 16
#define SIRQ_STATUS 24
#define SIRQ_SAVE 32

        .macro WAIT_IRQ n, limit=50000000   // generous: QEMU delivers timer interrupts late on a loaded host
        li      a5, \limit
8831:   la      a4, irqrec
        ld      a4, IRQ_N(a4)
        li      a3, \n
        bgeu    a4, a3, 8832f
        addi    a5, a5, -1
        bnez    a5, 8831b
8832:   la      a4, irqrec
        ld      a4, IRQ_N(a4)
        CHECK   a4, \n
        .endm

        .macro CHECK_IRQ_LOG idx, exp
        la      s10, irqrec
        ld      s10, IRQ_LOG + 8 * \idx(s10)
        CHECK   s10, \exp
        .endm

        .macro RESET_IRQREC
        la      a0, irqrec
        sd      zero, IRQ_N(a0)
        la      a0, sirqrec
        sd      zero, SIRQ_N(a0)
        .endm

// mtimecmp = mtime + \delta
        .macro TIMER_IN delta
        li      a0, CLINT_MTIME
        ld      a1, 0(a0)
        li      a2, \delta
        add     a1, a1, a2
        li      a0, CLINT_MTIMECMP
        sd      a1, 0(a0)
        .endm

        .macro TIMER_OFF
        li      a0, CLINT_MTIMECMP
        li      a1, -1
        sd      a1, 0(a0)
        .endm

        la      a0, irq_m
        csrw    mtvec, a0
        la      a0, irq_s
        csrw    stvec, a0

// ------------------------------------------------------------ machine timer
        TEST_CASE                       // MTIP follows mtimecmp
        csrw    mie, zero
        li      a0, CLINT_MTIMECMP
        sd      zero, 0(a0)             // in the past
        CHECK_CSR_BITS mip, MIP_MTIP, MIP_MTIP
        TIMER_OFF
        CHECK_CSR_BITS mip, MIP_MTIP, 0
        TEST_CASE                       // MTIP is read-only in mip
        li      a0, MIP_MTIP
        csrs    mip, a0
        CHECK_CSR_BITS mip, MIP_MTIP, 0

        TEST_CASE                       // timer interrupt taken
        RESET_IRQREC
        li      a0, MIP_MTIP
        csrw    mie, a0
        csrsi   mstatus, MSTATUS_MIE
        TIMER_IN 200
        WAIT_IRQ 1
        csrci   mstatus, MSTATUS_MIE
        CHECK_IRQ_LOG 0, INTERRUPT_BIT | IRQ_MTI
        CHECK_CSR_BITS mip, MIP_MTIP, 0  // handler moved mtimecmp

        TEST_CASE                       // pending timer taken as soon as MIE is set
        RESET_IRQREC
        li      a0, CLINT_MTIMECMP
        sd      zero, 0(a0)
        csrsi   mstatus, MSTATUS_MIE
1:      nop
        csrci   mstatus, MSTATUS_MIE
        WAIT_IRQ 1
        la      a0, irqrec
        ld      a0, IRQ_EPC(a0)
        la      a1, 1b
        CHECKR  a0, a1
        csrw    mie, zero

// ------------------------------------------------------- machine software
        TEST_CASE
        RESET_IRQREC
        li      a0, CLINT_MSIP
        li      a1, 1
        sw      a1, 0(a0)
        CHECK_CSR_BITS mip, MIP_MSIP, MIP_MSIP
        li      a0, MIP_MSIP
        csrw    mie, a0
        csrsi   mstatus, MSTATUS_MIE
        nop
        csrci   mstatus, MSTATUS_MIE
        WAIT_IRQ 1
        CHECK_IRQ_LOG 0, INTERRUPT_BIT | IRQ_MSI
        CHECK_CSR_BITS mip, MIP_MSIP, 0
        csrw    mie, zero

// ---------------------------------------------- supervisor software, in M
        TEST_CASE                       // SSIP is writable by M; not delegated -> M
        RESET_IRQREC
        csrw    mideleg, zero
        csrsi   mip, MIP_SSIP
        CHECK_CSR_BITS mip, MIP_SSIP, MIP_SSIP
        li      a0, MIP_SSIP
        csrw    mie, a0
        csrsi   mstatus, MSTATUS_MIE
        nop
        csrci   mstatus, MSTATUS_MIE
        WAIT_IRQ 1
        CHECK_IRQ_LOG 0, INTERRUPT_BIT | IRQ_SSI
        CHECK_CSR_BITS mip, MIP_SSIP, 0
        csrw    mie, zero

// --------------------------------------------------------------- priority
        // MSI before MTI.  (The spec orders MEI > MSI > MTI > SEI > SSI > STI;
        // QEMU 7.2 without AIA takes the lowest-numbered pending bit first,
        // i.e. a non-delegated SSI before MSI, so SSI is left out here.)
        TEST_CASE
        RESET_IRQREC
        li      a0, CLINT_MTIMECMP
        sd      zero, 0(a0)
        li      a0, CLINT_MSIP
        li      a1, 1
        sw      a1, 0(a0)
        li      a0, MIP_MTIP | MIP_MSIP
        csrw    mie, a0
        csrsi   mstatus, MSTATUS_MIE
        nop
        nop
        csrci   mstatus, MSTATUS_MIE
        WAIT_IRQ 2
        CHECK_IRQ_LOG 0, INTERRUPT_BIT | IRQ_MSI
        CHECK_IRQ_LOG 1, INTERRUPT_BIT | IRQ_MTI
        csrw    mie, zero

// -------------------------------------------------- sie / sip as views
        TEST_CASE
        csrw    mideleg, zero
        csrw    mie, zero
        li      a0, MIP_SSIP | MIP_STIP | (1 << IRQ_SEI)
        csrs    sie, a0                 // nothing delegated: no effect
        CHECK_CSR_BITS mie, 0x222, 0
        CHECK_CSR_BITS sie, 0x222, 0
        li      a0, MIP_SSIP
        csrw    mideleg, a0
        CHECK_CSR_BITS mideleg, 0x222, MIP_SSIP
        li      a0, 0x222
        csrs    sie, a0                 // only SSIE reaches mie
        CHECK_CSR_BITS mie, 0x222, MIP_SSIP
        CHECK_CSR_BITS sie, 0x222, MIP_SSIP
        li      a0, 0xaaa
        csrs    mie, a0
        CHECK_CSR_BITS sie, 0xaaa, MIP_SSIP
        csrc    sie, a0
        CHECK_CSR_BITS mie, 0xaaa, 0xaa8
        csrsi   mip, MIP_SSIP
        CHECK_CSR_BITS sip, 0x222, MIP_SSIP
        csrci   sip, MIP_SSIP           // sip.SSIP writable when delegated
        CHECK_CSR_BITS mip, MIP_SSIP, 0
        csrw    mie, zero
        csrw    mideleg, zero

// ------------------------------------------- supervisor software, delegated
        TEST_CASE                       // never taken in M
        RESET_IRQREC
        li      a0, MIP_SSIP
        csrw    mideleg, a0
        csrw    mie, a0
        csrsi   mip, MIP_SSIP
        csrsi   mstatus, MSTATUS_MIE
        nop
        nop
        csrci   mstatus, MSTATUS_MIE
        la      a0, irqrec
        ld      a0, IRQ_N(a0)
        CHECK   a0, 0

        TEST_CASE                       // taken in S once sstatus.SIE is set
        ARM_TRAP 9f
        csrci   sstatus, MSTATUS_SIE
        MRET_TO PRV_S, 1f
1:      csrr    a1, sip                 // pending, visible, not taken yet
        la      a0, sirqrec
        ld      a2, SIRQ_N(a0)
        csrsi   sstatus, MSTATUS_SIE
2:      nop
        csrci   sstatus, MSTATUS_SIE
        ecall
9:      CHECK_MCAUSE CAUSE_ECALL_S
        andi    a1, a1, MIP_SSIP
        CHECK   a1, MIP_SSIP
        CHECK   a2, 0
        la      a0, sirqrec
        ld      a1, SIRQ_N(a0)
        CHECK   a1, 1
        ld      a1, SIRQ_CAUSE(a0)
        CHECK   a1, INTERRUPT_BIT | IRQ_SSI
        ld      a1, SIRQ_EPC(a0)
        la      a2, 2b
        CHECKR  a1, a2
        ld      a1, SIRQ_STATUS(a0)     // SPP = S, SPIE = 1
        andi    a1, a1, MSTATUS_SPP | MSTATUS_SPIE | MSTATUS_SIE
        CHECK   a1, MSTATUS_SPP | MSTATUS_SPIE
        CHECK_CSR_BITS mip, MIP_SSIP, 0

        TEST_CASE                       // in U it is taken even with SIE = 0
        RESET_IRQREC
        csrci   sstatus, MSTATUS_SIE
        csrsi   mip, MIP_SSIP
        ARM_TRAP 9f
        MRET_TO PRV_U, 1f
1:      nop
        nop
        ecall
9:      CHECK_MCAUSE CAUSE_ECALL_U
        la      a0, sirqrec
        ld      a1, SIRQ_N(a0)
        CHECK   a1, 1
        ld      a1, SIRQ_EPC(a0)
        la      a2, 1b
        CHECKR  a1, a2
        ld      a1, SIRQ_STATUS(a0)     // SPP = U, SPIE = 0
        andi    a1, a1, MSTATUS_SPP | MSTATUS_SPIE
        CHECK   a1, 0
        csrw    mie, zero
        csrw    mideleg, zero

        TEST_CASE                       // M interrupts are taken in S even with MIE = 0
        RESET_IRQREC
        li      a0, MIP_MSIP
        csrw    mie, a0
        csrci   mstatus, MSTATUS_MIE
        ARM_TRAP 9f
        MRET_TO PRV_S, 1f
1:      li      a0, CLINT_MSIP
        li      a1, 1
        sw      a1, 0(a0)               // S raises a machine software interrupt
        li      a5, 1000000
2:      addi    a5, a5, -1              // ... which arrives here
        bnez    a5, 2b
        ecall
9:      CHECK_MCAUSE CAUSE_ECALL_S
        la      a0, irqrec
        ld      a1, IRQ_N(a0)
        CHECK   a1, 1
        CHECK_IRQ_LOG 0, INTERRUPT_BIT | IRQ_MSI
        csrw    mie, zero

// --------------------------------------------------------------------- WFI
        TEST_CASE                       // MIE = 0: wfi wakes up, no trap
        RESET_IRQREC
        csrci   mstatus, MSTATUS_MIE
        li      a0, MIP_MTIP
        csrw    mie, a0
        TIMER_IN 2000
        li      a5, 1000000
1:      wfi
        csrr    a1, mip
        andi    a1, a1, MIP_MTIP
        bnez    a1, 2f
        addi    a5, a5, -1
        bnez    a5, 1b
2:      CHECK   a1, MIP_MTIP
        la      a0, irqrec
        ld      a1, IRQ_N(a0)
        CHECK   a1, 0
        TIMER_OFF

        TEST_CASE                       // MIE = 1: interrupt taken after the wfi
        RESET_IRQREC
        TIMER_IN 10000
        csrsi   mstatus, MSTATUS_MIE
1:      wfi
2:      la      a0, irqrec
        ld      a1, IRQ_N(a0)
        beqz    a1, 1b
        csrci   mstatus, MSTATUS_MIE
        CHECK   a1, 1
        CHECK_IRQ_LOG 0, INTERRUPT_BIT | IRQ_MTI
        ld      a1, IRQ_EPC(a0)
        la      a2, 2b
        CHECKR  a1, a2
        csrw    mie, zero

// --------------------------------------------------------- vectored mtvec
        TEST_CASE
        RESET_IRQREC
        la      a0, vec_table
        ori     a0, a0, 1
        csrw    mtvec, a0
        csrr    a1, mtvec
        andi    a1, a1, 3
        beqz    a1, 9f                  // vectored mode not implemented (WARL)
        la      a0, vec_hits
        sd      zero, 0(a0)
        li      a0, CLINT_MSIP
        li      a1, 1
        sw      a1, 0(a0)
        li      a0, MIP_MSIP
        csrw    mie, a0
        csrsi   mstatus, MSTATUS_MIE
        nop
        csrci   mstatus, MSTATUS_MIE
        WAIT_IRQ 1
        la      a0, vec_hits
        ld      a1, 0(a0)
        CHECK   a1, 3                   // entered through vec_table + 4 * 3
        TEST_CASE                       // exceptions still go to the base
        ARM_TRAP 1f
        ecall
1:      CHECK_MCAUSE CAUSE_ECALL_M
9:      csrw    mie, zero
        PASS

// ------------------------------------------------------------- handlers
        .balign 4
irq_m:
        csrw    mscratch, t0
        la      t0, irqrec
        sd      t1, IRQ_SAVE(t0)
        sd      t2, IRQ_SAVE + 8(t0)
        csrr    t1, mcause
        bgez    t1, irq_m_bad           // an exception: not counted here
        csrr    t1, mepc
        sd      t1, IRQ_EPC(t0)
        ld      t1, IRQ_N(t0)
        li      t2, 8
        bgeu    t1, t2, 1f
        slli    t2, t1, 3
        add     t2, t2, t0
        csrr    t1, mcause
        sd      t1, IRQ_LOG(t2)
        ld      t1, IRQ_N(t0)
1:      addi    t1, t1, 1
        sd      t1, IRQ_N(t0)
        csrr    t1, mcause
        slli    t1, t1, 1
        srli    t1, t1, 1
        li      t2, IRQ_MTI
        beq     t1, t2, 2f
        li      t2, IRQ_MSI
        beq     t1, t2, 3f
        li      t2, IRQ_SSI
        beq     t1, t2, 4f
        j       irq_m_bad
2:      li      t1, CLINT_MTIMECMP
        li      t2, -1
        sd      t2, 0(t1)
        j       5f
3:      li      t1, CLINT_MSIP
        sw      zero, 0(t1)
        j       5f
4:      csrci   mip, MIP_SSIP
5:      ld      t1, IRQ_SAVE(t0)
        ld      t2, IRQ_SAVE + 8(t0)
        csrr    t0, mscratch
        mret
irq_m_bad:
        // hand over to the default vector, which reports it (or resumes an
        // armed ecall)
        ld      t1, IRQ_SAVE(t0)
        ld      t2, IRQ_SAVE + 8(t0)
        csrr    t0, mscratch
        j       __trap_vector

        .balign 4
irq_s:
        csrw    sscratch, t0
        la      t0, sirqrec
        sd      t1, SIRQ_SAVE(t0)
        csrr    t1, scause
        bgez    t1, 1f                  // exception: not expected
        sd      t1, SIRQ_CAUSE(t0)
        csrr    t1, sepc
        sd      t1, SIRQ_EPC(t0)
        csrr    t1, sstatus
        sd      t1, SIRQ_STATUS(t0)
        ld      t1, SIRQ_N(t0)
        addi    t1, t1, 1
        sd      t1, SIRQ_N(t0)
        csrci   sip, MIP_SSIP
        ld      t1, SIRQ_SAVE(t0)
        csrr    t0, sscratch
        sret
1:      ld      t1, SIRQ_SAVE(t0)
        csrr    t0, sscratch
        j       __strap_vector

// Vectored table: entry i at vec_table + 4 * i records i in vec_hits.
        .balign 256
vec_table:
        j       __trap_vector           // 0: exceptions
        .irp    i, 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
        j       vec_stub_\i
        .endr
        .irp    i, 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
vec_stub_\i:
        csrw    mscratch, t0
        la      t0, vec_hits
        sd      t1, 8(t0)
        li      t1, \i
        sd      t1, 0(t0)
        ld      t1, 8(t0)
        csrr    t0, mscratch
        j       irq_m
        .endr

        .bss
        .balign 16
irqrec:   .skip 128
sirqrec:  .skip 64
vec_hits: .skip 16
