// Two harts hammer the same words at once: amoadd.d, amoadd.w, an LR/SC increment loop and an
// amoswap-based spinlock guarding a plain read-modify-write. Every update must survive: with
// N iterations per hart each counter ends at 2N. Exit status 1..4 names the counter that lost
// updates. Runs with 2 harts (moat: two worker threads; QEMU: multi-threaded TCG).
        .option norelax
        .equ    N, 20000
        .equ    FINISHER, 0x100000

        .text
        .globl  _start
_start:
        la      s0, counters
        addi    s2, s0, 8
        addi    s3, s0, 16
        addi    s4, s0, 24
        addi    s5, s0, 32
        addi    s6, s0, 40
        li      s1, N
1:      li      t0, 1
        amoadd.d zero, t0, (s0)          // counter 0: amoadd.d
        amoadd.w zero, t0, (s2)          // counter 1: amoadd.w
2:      lr.d    t1, (s3)                // counter 2: LR/SC loop
        addi    t1, t1, 1
        sc.d    t2, t1, (s3)
        bnez    t2, 2b
3:      li      t0, 1                     // counter 3: under a test-and-set lock
        amoswap.w.aq t0, t0, (s5)
        bnez    t0, 3b
        ld      t1, 24(s0)
        addi    t1, t1, 1
        sd      t1, 24(s0)
        amoswap.w.rl zero, zero, (s5)
        addi    s1, s1, -1
        bnez    s1, 1b

        li      t0, 1
        amoadd.d zero, t0, (s6)         // this hart is done
        csrr    t0, mhartid
        bnez    t0, park
4:      ld      t0, 40(s0)                // hart 0 waits for both
        li      t1, 2
        bne     t0, t1, 4b

        li      t3, 2*N
        li      a0, 1
        ld      t0, 0(s0)
        bne     t0, t3, fail
        li      a0, 2
        lw      t0, 8(s0)
        bne     t0, t3, fail
        li      a0, 3
        ld      t0, 16(s0)
        bne     t0, t3, fail
        li      a0, 4
        ld      t0, 24(s0)
        bne     t0, t3, fail
        li      t0, 0x10000000            // "PASS\n" on the UART, as the other programs end
        li      t1, 'P'
        sb      t1, 0(t0)
        li      t1, 'A'
        sb      t1, 0(t0)
        li      t1, 'S'
        sb      t1, 0(t0)
        sb      t1, 0(t0)
        li      t1, '\n'
        sb      t1, 0(t0)
        li      t0, FINISHER
        li      t1, 0x5555
        sw      t1, 0(t0)
park:   wfi
        j       park
fail:   slli    a0, a0, 16
        li      t1, 0x3333
        or      a0, a0, t1
        li      t0, FINISHER
        sw      a0, 0(t0)
        j       park

        .data
        .balign 64
counters:
        .dword  0, 0, 0, 0, 0, 0
