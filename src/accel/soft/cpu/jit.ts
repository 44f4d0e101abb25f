// The core's half of the translator (the other half, in src/accel/soft/jit/, turns the guest
// code reachable from a hot entry, within its page, into a WebAssembly function). Here: which
// entries have translations (a per-hart table keyed by the entry's virtual address and its host
// page), how hot an untranslated entry is, entering a translated function, and the code versions
// that make a translation stale once its page may have changed.
//
// Why stores need no check of their own: a hart claims a page before translating it (its version
// becomes odd), and any later TLB fill for writing to the page, on any hart, first makes the
// version even again (mmu.ts tlbFill). A translation is entered only while the version is the one
// it was made at. Write TLB entries filled before the claim are the one gap: the claiming hart
// drops its own at once, and bumps VM_CODE_EPOCH so every other hart drops its own at its next
// slice (SH_CODE_ACK); the host installs a translation only once every running hart has, and
// after checking that the page's bytes are still those it translated.
import {
  CODE_PAGES, CODE_VERSIONS, HA_JIT_ABI, JIT_COUNTERS, JIT_ENTRIES, JIT_TABLES, JIT_TABLE_STRIDE, MAX_HARTS,
  RAM_OFFSET,
  SHARED_BASE, SHARED_STRIDE, SH_CODE_ACK, TLB_ENTRIES, VM_CODE_EPOCH,
} from "./layout";
import * as st from "./state";
import { dataKey, tlbW } from "./mmu";

// What a translated function returns (src/accel/soft/jit/translate.ts emits the same numbers).
export const JS_JUMP: i32 = 0; // go on at ABI_PC (a jump, or the budget ran out)
export const JS_INTERP: i32 = 1; // interpret the one instruction at ABI_PC, then dispatch again
export const JS_FAULT: i32 = 2; // the instruction at ABI_PC faulted (see fault.ts); ABI_NEXT follows it
export const JS_CHECK: i32 = 4; // a CSR write may have made an interrupt takeable: check, go on at ABI_PC
// Only from jitDispatch():
export const JS_NONE: i32 = -1; // nothing translated here: interpret on
export const JS_REQUEST: i32 = -2; // a page became hot: the host should translate it (jitReq*)

// Offsets in the hart's JIT ABI block, written by a translated function on every return.
export const ABI_PC: u32 = 0; // u64
export const ABI_NEXT: u32 = 8; // u64: the instruction after ABI_PC (for JS_FAULT)
export const ABI_IR: u32 = 16; // u64: instret (for JS_FAULT: before the faulting instruction)
export const ABI_N: u32 = 24; // i32: budget left

/** Jumps to an untranslated entry before the host is asked to translate it (jitSetHot). */
let hotEntries: i32 = 32768;

export let jitOn: bool = false;
let table: u32 = JIT_TABLES; // this hart's entry table
let jitHarts: u32 = 1;
let seenEpoch: i32 = 0;
export let jitReqVa: u64 = 0;
export let jitReqHost: u32 = 0;
export let jitBudget: i32 = 0; // the budget left when run() returned EXIT_JIT
export let jitClaimEpoch: i32 = 0;

@inline export function abiBase(): u32 {
  return st.hartArea + HA_JIT_ABI;
}

// Virtual and host page numbers move together (a kernel's linear map, a process's text), so
// they are mixed by multiplication before the top bits are taken: a plain XOR of the two would
// send every page of such a mapping to one entry. Two ways per set: the first entry of the pair
// is the newer.
@inline function mix(va: u64, host: u32): u32 {
  return (<u32>(va >> 1) * 0x9e37_79b1) ^ ((host >> 12) * 0x85eb_ca6b);
}

@inline function setOf(va: u64, host: u32): u32 {
  const i = (mix(va, host) >>> 18) & ~1; // JIT_ENTRIES = 16384
  return table + (i << 5);
}

/**
 * Where jumps to an entry not in the table are counted: an untagged u16, so cold code costs one
 * load and store per jump and takes no table entry (two entries sharing a count only get hot
 * sooner). JIT_COUNTERS = 65536.
 */
@inline function counterOf(va: u64, host: u32): u32 {
  return table + (JIT_ENTRIES << 5) + ((mix(va, host) >>> 16) << 1);
}

@inline function matches(e: u32, va: u64, host: u32): bool {
  return load<u64>(e) == va && load<u32>(e, 8) == host;
}

/** The entry of (va, host), or 0 if neither way has it. */
@inline function lookup(va: u64, host: u32): u32 {
  const e = setOf(va, host);
  if (matches(e, va, host)) return e;
  if (matches(e + 32, va, host)) return e + 32;
  return 0;
}

/** The entry of (va, host), made in the set's first way (the older entry moves to the second). */
function entryFor(va: u64, host: u32): u32 {
  const found = lookup(va, host);
  if (found != 0) return found;
  const e = setOf(va, host);
  memory.copy(e + 32, e, 32);
  store<u64>(e, va);
  store<u32>(e, host, 8);
  store<i32>(e, 0, 12);
  store<u32>(e, 0, 16);
  store<i32>(e, 0, 20);
  return e;
}

/** The code-version slot of the RAM page at host address `host`, or 0 past CODE_PAGES. */
@inline function versionSlot(host: u32): u32 {
  const page = (host - RAM_OFFSET) >> 12;
  return page < CODE_PAGES ? CODE_VERSIONS + (page << 2) : 0;
}

/**
 * A write may change the RAM page at host address `host`: translations of it become stale.
 * Called before a write TLB entry for the page exists (so one check per fill, none per store).
 */
export function invalidateCode(host: u32): void {
  const slot = versionSlot(host);
  if (slot == 0) return;
  let v = atomic.load<u32>(slot);
  while ((v & 1) != 0) {
    const seen = atomic.cmpxchg<u32>(slot, v, v + 1);
    if (seen == v) return;
    v = seen;
  }
}

/** Turns translation on for this hart (the VM has `harts` harts), and clears its table. */
export function jitEnable(on: bool, harts: u32): void {
  jitOn = on;
  jitHarts = harts < MAX_HARTS ? harts : MAX_HARTS;
  table = JIT_TABLES + st.hartId * JIT_TABLE_STRIDE;
  jitFlushTable();
}

/** How many entries make a page hot (at least 1); tests and fuzzing translate at once. */
export function jitSetHot(entries: i32): void {
  hotEntries = entries < 1 ? 1 : entries;
}

/** Forgets every translation this hart knows (the host dropped its code cache). */
export function jitFlushTable(): void {
  memory.fill(table, 0xff, JIT_ENTRIES << 5);
  memory.fill(table + (JIT_ENTRIES << 5), 0, JIT_COUNTERS << 1);
}

/** At the start of a slice: drop the write TLB if some hart claimed a page since the last one. */
export function ackCodeEpoch(): void {
  const e = atomic.load<i32>(VM_CODE_EPOCH);
  if (e == seenEpoch) return;
  memory.fill(tlbW, 0xff, TLB_ENTRIES * 16);
  seenEpoch = e;
  atomic.store<i32>(st.shared + SH_CODE_ACK, e);
}

/**
 * Claims the page at host address `host` for translation: its version becomes odd (returned),
 * this hart's write TLB is dropped and VM_CODE_EPOCH bumped (jitClaimEpoch). 0: the page is past
 * CODE_PAGES and is never translated.
 */
export function jitClaim(host: u32): u32 {
  const slot = versionSlot(host & ~0xfff);
  if (slot == 0) return 0;
  let v = atomic.load<u32>(slot);
  while ((v & 1) == 0) {
    const seen = atomic.cmpxchg<u32>(slot, v, v + 1);
    if (seen == v) {
      v = v + 1;
      break;
    }
    v = seen;
  }
  jitClaimEpoch = atomic.add<i32>(VM_CODE_EPOCH, 1) + 1;
  seenEpoch = jitClaimEpoch;
  atomic.store<i32>(st.shared + SH_CODE_ACK, seenEpoch);
  memory.fill(tlbW, 0xff, TLB_ENTRIES * 16);
  return v;
}

/** True once every other running hart has dropped write TLB entries older than `epoch`. */
export function jitAcked(epoch: i32): bool {
  for (let h: u32 = 0; h < jitHarts; h++) {
    if (h == st.hartId) continue;
    const blk = SHARED_BASE + h * SHARED_STRIDE;
    if (atomic.load<i32>(blk + 0x30) != 0) continue; // SH_IDLE: acknowledges before it runs
    if (atomic.load<i32>(blk + SH_CODE_ACK) - epoch < 0) return false;
  }
  return true;
}

/**
 * Enters function `fn` of the host's table for the entry at `va` (on host page `host`) if the
 * page is still at `version`; false if it changed (the host drops the translation).
 */
export function jitInstall(va: u64, host: u32, fn: i32, version: u32): bool {
  const slot = versionSlot(host);
  if (slot == 0 || atomic.load<u32>(slot) != version) return false;
  const e = entryFor(va, host);
  store<i32>(e, fn, 12);
  store<u32>(e, version, 16);
  store<i32>(e, 0, 20);
  return true;
}

/** The host is compiling this entry's code: count it no more until jitInstall or jitForget. */
export function jitPending(va: u64, host: u32): void {
  store<i32>(entryFor(va, host), -1, 12);
}

/** The host's compile came to nothing (the page changed meanwhile): count the entry afresh. */
export function jitForget(va: u64, host: u32): void {
  const e = entryFor(va, host);
  store<i32>(e, 0, 12);
  store<i32>(e, 0, 20);
}

/** The host will not translate this entry (for now): stop counting it. */
export function jitDecline(va: u64, host: u32): void {
  store<i32>(entryFor(va, host), -1, 12);
}

function request(va: u64, host: u32, e: u32): i32 {
  store<i32>(e, 0, 20);
  jitReqVa = va;
  jitReqHost = host;
  return JS_REQUEST;
}

/**
 * At a jump target `va` on the page at host address `host` (fetchable at the current privilege):
 * runs its translation if there is a current one and returns a JS_* status, or counts the jump
 * and returns JS_NONE or JS_REQUEST. Bound: a translated function runs at most about `n`
 * instructions (it checks the budget at every block).
 */
export function jitDispatch(va: u64, host: u32, n: i32, ir: u64): i32 {
  const e = lookup(va, host);
  if (e == 0) {
    const c = counterOf(va, host);
    const count = <i32>load<u16>(c) + 1;
    if (count < hotEntries && count < 0xffff) {
      store<u16>(c, <u16>count);
      return JS_NONE;
    }
    store<u16>(c, 0);
    return request(va, host, entryFor(va, host));
  }
  const fn = load<i32>(e, 12);
  if (fn < 0) return JS_NONE;
  const count = load<i32>(e, 20) + 1;
  if (fn == 0) {
    if (count >= hotEntries) return request(va, host, e);
    store<i32>(e, count, 20);
    return JS_NONE;
  }
  if (atomic.load<u32>(versionSlot(host)) != load<u32>(e, 16)) {
    // The page was written since: count it as untranslated again.
    store<i32>(e, 0, 12);
    store<i32>(e, 1, 20);
    return JS_NONE;
  }
  return call_indirect<i32>(<u32>fn, <i32>(<u32>va & 0xfff), n, ir, <i32>dataKey);
}
