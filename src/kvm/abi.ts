// KVM's ioctl numbers and struct layouts on x86-64 (Linux Documentation/virt/kvm/api.rst,
// include/uapi/linux/kvm.h). Offsets are in bytes.

export const KVM_API_VERSION = 12;

export const KVM_GET_API_VERSION = 0xae00;
export const KVM_CREATE_VM = 0xae01;
export const KVM_CHECK_EXTENSION = 0xae03;
export const KVM_GET_VCPU_MMAP_SIZE = 0xae04;
export const KVM_CREATE_VCPU = 0xae41;
export const KVM_SET_USER_MEMORY_REGION = 0x4020ae46;
export const KVM_RUN = 0xae80;
export const KVM_GET_REGS = 0x8090ae81;
export const KVM_SET_REGS = 0x4090ae82;
export const KVM_GET_SREGS = 0x8138ae83;
export const KVM_SET_SREGS = 0x4138ae84;

export const KVM_CREATE_IRQCHIP = 0xae60;
export const KVM_IRQ_LINE = 0x4008ae61;
export const KVM_CREATE_PIT2 = 0x4040ae77;
export const PIT_CONFIG_SIZE = 64; // struct kvm_pit_config { u32 flags; u32 pad[15]; }

// struct kvm_ioeventfd { u64 datamatch, addr; u32 len; s32 fd; u32 flags; u8 pad[36]; }
export const KVM_IOEVENTFD = 0x4040ae79;
export const IOEVENTFD_SIZE = 64;
export const IOEVENTFD_FLAG_DATAMATCH = 1;
export const IOEVENTFD_FLAG_PIO = 2;
export const IOEVENTFD_FLAG_DEASSIGN = 4;
// struct kvm_irqfd { u32 fd, gsi, flags, resamplefd; u8 pad[16]; }
export const KVM_IRQFD = 0x4020ae76;
export const IRQFD_SIZE = 32;
export const IRQFD_FLAG_DEASSIGN = 1;
export const IRQFD_FLAG_RESAMPLE = 2;

// struct kvm_msrs { u32 nmsrs, pad; struct kvm_msr_entry { u32 index, reserved; u64 data; }[] }
export const KVM_SET_MSRS = 0x4008ae89;
export const KVM_GET_MSRS = 0xc008ae88;
export const MSR_ENTRY_SIZE = 16;

// struct kvm_mp_state { u32 mp_state; }
export const KVM_SET_MP_STATE = 0x4004ae99;
export const KVM_GET_MP_STATE = 0x8004ae98;
export const MP_STATE_RUNNABLE = 0;
export const MP_STATE_UNINITIALIZED = 1;
export const MP_STATE_INIT_RECEIVED = 2;
export const MP_STATE_SIPI_RECEIVED = 4;

export const KVM_GET_SUPPORTED_CPUID = 0xc008ae05;
export const KVM_SET_CPUID2 = 0x4008ae90;

// struct kvm_cpuid2 { u32 nent; u32 padding; struct kvm_cpuid_entry2 entries[]; }
// struct kvm_cpuid_entry2 { u32 function, index, flags, eax, ebx, ecx, edx, padding[3]; }
export const CPUID_HEADER_SIZE = 8;
export const CPUID_ENTRY_SIZE = 40;
/** Entries asked for from KVM_GET_SUPPORTED_CPUID (hosts report well under 100). */
export const CPUID_MAX_ENTRIES = 256;

export const KVM_CAP_IRQCHIP = 0;
export const KVM_CAP_USER_MEMORY = 3;
export const KVM_CAP_IOEVENTFD = 36;
export const KVM_CAP_IRQFD = 32;
export const KVM_CAP_NR_VCPUS = 9;
export const KVM_CAP_MAX_VCPUS = 66;
export const KVM_CAP_IMMEDIATE_EXIT = 136;

/** kvm_run.exit_reason values moat handles or reports. */
export const ExitReason = {
  UNKNOWN: 0,
  EXCEPTION: 1,
  IO: 2,
  HYPERCALL: 3,
  DEBUG: 4,
  HLT: 5,
  MMIO: 6,
  IRQ_WINDOW_OPEN: 7,
  SHUTDOWN: 8,
  FAIL_ENTRY: 9,
  INTR: 10,
  INTERNAL_ERROR: 17,
  SYSTEM_EVENT: 24,
} as const;

export function exitReasonName(r: number): string {
  for (const [k, v] of Object.entries(ExitReason)) if (v === r) return k;
  return `exit ${r}`;
}

// struct kvm_run
export const RUN_IMMEDIATE_EXIT = 1;
export const RUN_EXIT_REASON = 8;
export const RUN_IO_DIRECTION = 32; // 0 in, 1 out
export const RUN_IO_SIZE = 33;
export const RUN_IO_PORT = 34;
export const RUN_IO_COUNT = 36;
export const RUN_IO_DATA_OFFSET = 40;
export const RUN_MMIO_PHYS_ADDR = 32;
export const RUN_MMIO_DATA = 40;
export const RUN_MMIO_LEN = 48;
export const RUN_MMIO_IS_WRITE = 52;
export const RUN_FAIL_ENTRY_REASON = 32;
export const RUN_INTERNAL_SUBERROR = 32;

// struct kvm_regs: 18 u64: rax rbx rcx rdx rsi rdi rsp rbp r8..r15 rip rflags
export const REGS_SIZE = 144;
export const REG_NAMES = [
  "rax",
  "rbx",
  "rcx",
  "rdx",
  "rsi",
  "rdi",
  "rsp",
  "rbp",
  "r8",
  "r9",
  "r10",
  "r11",
  "r12",
  "r13",
  "r14",
  "r15",
  "rip",
  "rflags",
] as const;
export type RegName = (typeof REG_NAMES)[number];

// struct kvm_sregs: segments (24 bytes each) cs ds es fs gs ss tr ldt, gdt idt (16 each),
// cr0 cr2 cr3 cr4 cr8 efer apic_base, interrupt_bitmap[4].
export const SREGS_SIZE = 312;
export const SEGMENT_NAMES = ["cs", "ds", "es", "fs", "gs", "ss", "tr", "ldt"] as const;
export type SegmentName = (typeof SEGMENT_NAMES)[number];
export const SEGMENT_SIZE = 24;
export const SREGS_GDT = 192;
export const SREGS_IDT = 208;
export const SREGS_CR0 = 224;
export const SREGS_CR3 = 240;
export const SREGS_CR4 = 248;
export const SREGS_EFER = 264;

// struct kvm_userspace_memory_region: slot u32, flags u32, guest_phys_addr, memory_size, userspace_addr
export const MEMORY_REGION_SIZE = 32;

// State save/restore (snapshots: vcpu-state.ts, vm-state.ts). Numbers and sizes from
// include/uapi/linux/kvm.h and arch/x86/include/uapi/asm/kvm.h; api.rst describes each.
// struct kvm_msr_list { u32 nmsrs; u32 indices[]; } (system ioctl)
export const KVM_GET_MSR_INDEX_LIST = 0xc004ae02;
/** MSR indices asked for from KVM_GET_MSR_INDEX_LIST (hosts list well under 200). */
export const MSR_LIST_MAX = 1024;
export const KVM_GET_FPU = 0x81a0ae8c;
export const KVM_SET_FPU = 0x41a0ae8d;
export const FPU_SIZE = 416; // struct kvm_fpu
export const KVM_GET_LAPIC = 0x8400ae8e;
export const KVM_SET_LAPIC = 0x4400ae8f;
export const LAPIC_SIZE = 1024; // struct kvm_lapic_state { char regs[1024]; }
export const KVM_GET_XSAVE = 0x9000aea4;
export const KVM_SET_XSAVE = 0x5000aea5;
/** KVM_GET_XSAVE2: the same struct, as long as KVM_CHECK_EXTENSION(KVM_CAP_XSAVE2) says. */
export const KVM_GET_XSAVE2 = 0x9000aecf;
export const XSAVE_SIZE = 4096; // struct kvm_xsave { u32 region[1024]; u32 extra[]; }
/** Bound on an XSAVE area moat accepts (KVM_CAP_XSAVE2 reports ~11 KiB with AMX). */
export const XSAVE_MAX_SIZE = 64 * 1024;
export const KVM_GET_XCRS = 0x8188aea6;
export const KVM_SET_XCRS = 0x4188aea7;
export const XCRS_SIZE = 392; // struct kvm_xcrs { u32 nr_xcrs, flags; {u32 xcr, pad; u64 value}[16]; u64 pad[16]; }
export const XCRS_MAX = 16;
export const KVM_GET_VCPU_EVENTS = 0x8040ae9f;
export const KVM_SET_VCPU_EVENTS = 0x4040aea0;
export const VCPU_EVENTS_SIZE = 64; // struct kvm_vcpu_events
export const KVM_GET_DEBUGREGS = 0x8080aea1;
export const KVM_SET_DEBUGREGS = 0x4080aea2;
export const DEBUGREGS_SIZE = 128; // struct kvm_debugregs
// struct kvm_irqchip { u32 chip_id, pad; union { char dummy[512]; pic; ioapic; } chip; }
export const KVM_GET_IRQCHIP = 0xc208ae62;
export const KVM_SET_IRQCHIP = 0x8208ae63; // _IOR in the kernel's header, as it has always been
export const IRQCHIP_SIZE = 520;
export const IRQCHIP_DATA = 8;
export const IRQCHIP_DATA_SIZE = 512;
/** chip_id values: the two i8259 PICs and the IO-APIC. */
export const IRQCHIP_IDS = { picMaster: 0, picSlave: 1, ioapic: 2 } as const;
export const KVM_GET_PIT2 = 0x8070ae9f;
export const KVM_SET_PIT2 = 0x4070aea0;
export const PIT_STATE2_SIZE = 112; // struct kvm_pit_state2
// struct kvm_clock_data { u64 clock; u32 flags, pad0; u64 realtime, host_tsc; u32 pad[4]; }
export const KVM_GET_CLOCK = 0x8030ae7c;
export const KVM_SET_CLOCK = 0x4030ae7b;
export const CLOCK_DATA_SIZE = 48;
export const KVM_CAP_PIT_STATE2 = 35;
export const KVM_CAP_ADJUST_CLOCK = 39;
export const KVM_CAP_VCPU_EVENTS = 41;
export const KVM_CAP_DEBUGREGS = 50;
export const KVM_CAP_XSAVE = 55;
export const KVM_CAP_XCRS = 56;
export const KVM_CAP_XSAVE2 = 208;
/** struct kvm_mp_state values up to KVM_MP_STATE_AP_RESET_HOLD; a snapshot holds one. */
export const MP_STATE_MAX = 10;
