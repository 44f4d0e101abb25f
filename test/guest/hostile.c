// A hostile guest: run as root inside a moat VM, it maps the virtio-mmio register windows
// through /dev/mem, locks 1 MiB of its own memory and learns each page's guest-physical address
// from /proc/self/pagemap, and attacks every virtio device it finds by driving the registers and building rings itself:
// descriptor loops, buffers outside RAM, huge lengths, available indexes far ahead, nested
// indirect tables, notification storms, config writes past the config space, a reset in
// mid-request, queue changes while running, features changed after FEATURES_OK. After each
// attack it waits for the stop it expects (if it does), resets the device and prints one line,
// RESET the stops of the device's life that ended (see end_life):
//   ATTACK slot=S dev=ID name=NAME reset=RESET
// and before it, if an expected stop did not come within STOP_WAIT_MS:
//   ATTACK-TIMEOUT slot=S dev=ID name=NAME
// Then, on the virtio-gpu, what makes the VMM hold host memory or work (its own section below):
//   GPU name=NAME key=value...
// Then attacks of many connections or many resets, with lines of their own (issue 17, below):
// a vsock REQUEST+RST flood past the connection bound and connections held at it, and a
// virtio-rng zero-length buffer, NEEDS_RESET and reset in a loop.
// At the end: HOSTILE DONE attacks=N resets=M (of the ATTACK lines)
// The guest's own virtio drivers must be unbound first (the test does it through sysfs).
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define VIRTIO_BASE 0x10001000UL
#define VIRTIO_STRIDE 0x1000UL
#define SLOTS 8
#define QSIZE 8

enum {
  R_MAGIC = 0x000, R_DEVICE_ID = 0x008, R_DEV_FEATURES = 0x010, R_DEV_FEATURES_SEL = 0x014,
  R_DRV_FEATURES = 0x020, R_DRV_FEATURES_SEL = 0x024, R_QUEUE_SEL = 0x030,
  R_QUEUE_NUM_MAX = 0x034, R_QUEUE_NUM = 0x038, R_QUEUE_READY = 0x044, R_QUEUE_NOTIFY = 0x050,
  R_INT_STATUS = 0x060, R_INT_ACK = 0x064, R_STATUS = 0x070, R_DESC_LO = 0x080,
  R_DESC_HI = 0x084, R_AVAIL_LO = 0x090, R_AVAIL_HI = 0x094, R_USED_LO = 0x0a0,
  R_USED_HI = 0x0a4, R_CONFIG_GEN = 0x0fc, R_CONFIG = 0x100,
};
enum { F_NEXT = 1, F_WRITE = 2, F_INDIRECT = 4 };
enum { S_ACK = 1, S_DRIVER = 2, S_DRIVER_OK = 4, S_FEATURES_OK = 8, S_NEEDS_RESET = 64 };

struct desc {
  uint64_t addr;
  uint32_t len;
  uint16_t flags, next;
};

static volatile uint32_t *regs;
#define PAGES 256
static uint8_t *ram;                // 1 MiB of this process's memory, locked
static uint64_t page_phys[PAGES];   // the guest-physical address of each of its pages
static int attacks, resets;
static uint32_t life_gen; // the device's ConfigGeneration when its current life began

static uint32_t rd(uint32_t off) { return regs[off / 4]; }
static void wr(uint32_t off, uint32_t v) {
  regs[off / 4] = v;
  __sync_synchronize();
}

// Queue q's areas in the free RAM: descriptor table, available ring, used ring; data after.
static struct desc *table(int q) { return (struct desc *)(ram + q * 0x3000); }
static uint16_t *avail(int q) { return (uint16_t *)(ram + q * 0x3000 + 0x1000); }
// Every structure below lies within one page, so a page's address is enough.
static uint64_t phys(void *p) {
  size_t off = (uint8_t *)p - ram;
  return page_phys[off / 4096] + off % 4096;
}
static uint64_t data_phys(int i) { return phys(ram + 0x40000 + i * 0x1000); }

static void pause_ms(int ms) {
  struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&t, 0);
}

static long now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

// From a reset up to FEATURES_OK, accepting VERSION_1 and the feature bits 0-31 in `low`.
static void negotiate(uint32_t low) {
  wr(R_STATUS, 0);
  life_gen = rd(R_CONFIG_GEN);
  wr(R_STATUS, S_ACK | S_DRIVER);
  wr(R_DRV_FEATURES_SEL, 0);
  wr(R_DRV_FEATURES, low);
  wr(R_DRV_FEATURES_SEL, 1);
  wr(R_DRV_FEATURES, 1); // VERSION_1
  wr(R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
}

// Queue q of `num` entries at `base` in `ram`: its descriptor table, the available ring a page
// on, the used ring two pages on.
static void place_queue(int q, int num, uint8_t *base) {
  uint64_t d = phys(base), a = phys(base + 0x1000), u = phys(base + 0x2000);
  wr(R_QUEUE_SEL, q);
  wr(R_QUEUE_NUM, num);
  wr(R_DESC_LO, (uint32_t)d);
  wr(R_DESC_HI, (uint32_t)(d >> 32));
  wr(R_AVAIL_LO, (uint32_t)a);
  wr(R_AVAIL_HI, (uint32_t)(a >> 32));
  wr(R_USED_LO, (uint32_t)u);
  wr(R_USED_HI, (uint32_t)(u >> 32));
  wr(R_QUEUE_READY, 1);
}

// A driver's set-up: VERSION_1 and INDIRECT_DESC, every queue of `size` in the free RAM.
static int setup_n(int size) {
  negotiate(1u << 28);
  memset(ram, 0, 0x40000); // rings and tables; the pages stay locked where they are
  int n = 0;
  for (int q = 0; q < 8; q++) {
    wr(R_QUEUE_SEL, q);
    if (rd(R_QUEUE_NUM_MAX) == 0) break;
    place_queue(q, size, (uint8_t *)table(q));
    n++;
  }
  wr(R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
  return n;
}
static int setup(void) { return setup_n(QSIZE); }

// Makes descriptor `head` of queue q available and notifies.
static void offer(int q, uint16_t head) {
  uint16_t *a = avail(q);
  uint16_t idx = a[1];
  a[2 + idx % QSIZE] = head;
  __sync_synchronize();
  a[1] = idx + 1;
  __sync_synchronize();
  wr(R_QUEUE_NOTIFY, q);
}

// Ends the device's life with a reset; returns how many times it stopped in that life. moat
// bumps ConfigGeneration as it sets NEEDS_RESET and logs the stop's line; a reset keeps it and
// drops what the device had not done yet. So, read after the reset, it counts every stop of the
// life, also one after the last status read (which the VMM logged all the same). Config changes
// bump it too: only the host's balloon target makes one, never here.
static int end_life(void) {
  wr(R_STATUS, 0);
  return (int)(rd(R_CONFIG_GEN) - life_gen);
}

// Bound: how long an attack waits for the stop it expects (a loaded host runs the VMM late).
#define STOP_WAIT_MS 30000
static int stop_wait_failed; // once a wait has run out the run has failed: no more waiting

// Waits until the device has stopped. It looks at a notified queue on a later turn of the VMM's
// thread: sleeping between reads lets that thread go idle and take it.
static int wait_stop(void) {
  for (long t0 = now_ms();; pause_ms(1)) {
    if (rd(R_STATUS) & S_NEEDS_RESET) return 1;
    if (stop_wait_failed || now_ms() - t0 >= STOP_WAIT_MS) break;
  }
  stop_wait_failed = 1;
  return 0;
}

enum { MAY_STOP, STOPS };

// After an attack: waits for the stop it must cause (if it must), then ends the device's life
// (the next attack starts from a reset) and prints the stops it had.
static void report(int slot, uint32_t dev, const char *name, int expect) {
  if (expect == STOPS && !wait_stop())
    printf("ATTACK-TIMEOUT slot=%d dev=%u name=%s\n", slot, dev, name);
  wr(R_INT_ACK, rd(R_INT_STATUS));
  int reset = end_life();
  attacks++;
  resets += reset;
  printf("ATTACK slot=%d dev=%u name=%s reset=%d\n", slot, dev, name, reset);
  fflush(stdout);
}

// Each attack is made on every queue at once: a device reads only some of its queues on a
// notify (an event queue waits for events), and one stop is all an attack may cause.
static void attack(int slot, uint32_t dev) {
  int nq = setup();
  struct desc *ind = (struct desc *)(ram + 0x30000);

  // A descriptor loop: 0 -> 1 -> 0.
  for (int q = 0; q < nq; q++) {
    table(q)[0] = (struct desc){data_phys(0), 16, F_NEXT, 1};
    table(q)[1] = (struct desc){data_phys(1), 16, F_NEXT, 0};
    offer(q, 0);
  }
  report(slot, dev, "desc-loop", STOPS);

  // A buffer outside RAM.
  setup();
  for (int q = 0; q < nq; q++) {
    table(q)[0] = (struct desc){0xdead00000000ULL, 64, F_WRITE, 0};
    offer(q, 0);
  }
  report(slot, dev, "outside-ram", STOPS);

  // A huge length.
  setup();
  for (int q = 0; q < nq; q++) {
    table(q)[0] = (struct desc){data_phys(0), 0xffffffffu, 0, 0};
    offer(q, 0);
  }
  report(slot, dev, "huge-length", STOPS);

  // The available index far ahead of the device.
  setup();
  for (int q = 0; q < nq; q++) {
    avail(q)[1] = 0x8000;
    wr(R_QUEUE_NOTIFY, q);
  }
  report(slot, dev, "avail-ahead", STOPS);

  // An indirect table whose entry is itself indirect.
  setup();
  ind[0] = (struct desc){phys(ind), 64, F_INDIRECT, 0};
  for (int q = 0; q < nq; q++) {
    table(q)[0] = (struct desc){phys(ind), 64, F_INDIRECT, 0};
    offer(q, 0);
  }
  report(slot, dev, "nested-indirect", STOPS);

  // A notification storm, on every queue and past them, with nothing available.
  setup();
  for (int i = 0; i < 100000; i++) wr(R_QUEUE_NOTIFY, i % (nq + 3));
  report(slot, dev, "notify-storm", MAY_STOP);

  // Config writes and reads over the whole window past the config space.
  setup();
  for (uint32_t off = R_CONFIG; off < 0x1000; off += 4) {
    wr(off, 0xffffffffu);
    (void)rd(off);
  }
  report(slot, dev, "config-writes", MAY_STOP);

  // A reset in mid-request: a plausible request on every queue, then status 0 at once. The
  // request is one the device may accept (virtio-rng, ID 4, takes writable buffers only);
  // whether the device looks at it before the reset is up to the VMM's timing, and a stop it
  // caused is counted all the same (end_life).
  setup();
  for (int q = 0; q < nq; q++) {
    if (dev == 4) {
      table(q)[0] = (struct desc){data_phys(1), 4096, F_WRITE, 0};
    } else {
      table(q)[0] = (struct desc){data_phys(0), 64, F_NEXT, 1};
      table(q)[1] = (struct desc){data_phys(1), 4096, F_WRITE, 0};
    }
    offer(q, 0);
  }
  wr(R_STATUS, 0);
  report(slot, dev, "reset-mid-request", MAY_STOP);

  // Queue changes while running: not ready, an odd size, a table outside RAM, ready again.
  setup();
  for (int q = 0; q < nq; q++) {
    wr(R_QUEUE_SEL, q);
    wr(R_QUEUE_READY, 0);
    wr(R_QUEUE_NUM, 3);
    wr(R_DESC_LO, 0xffffff00u);
    wr(R_DESC_HI, 0xffffffffu);
    wr(R_QUEUE_READY, 1);
    wr(R_QUEUE_NOTIFY, q);
  }
  report(slot, dev, "queue-change-running", MAY_STOP);

  // Features changed after FEATURES_OK, every status bit written, then empty descriptors.
  setup();
  wr(R_DRV_FEATURES_SEL, 0);
  wr(R_DRV_FEATURES, 0xffffffffu);
  wr(R_DRV_FEATURES_SEL, 1);
  wr(R_DRV_FEATURES, 0xffffffffu);
  wr(R_STATUS, 0xff);
  for (int q = 0; q < nq; q++) offer(q, 0);
  report(slot, dev, "features-after-ok", STOPS);
}

// ---- virtio-gpu: host memory and work a guest can make the VMM spend -------------------------
// Well-formed commands on a driver's own queues (control 256, cursor 16), with big requests
// described through indirect tables: 1x1 resources with 262,144-entry backing lists, resources
// until the VMM's cap, 128 large transfers and 51 attach/detach pairs of the largest lists on one
// notify each, scanouts larger than any mode, then the largest one of random pixels held until
// the host presses a key on the display's keyboard (the test takes a screenshot meanwhile).
enum {
  G_CREATE = 0x101, G_UNREF = 0x102, G_SCANOUT = 0x103, G_FLUSH = 0x104, G_TRANSFER = 0x105,
  G_ATTACH = 0x106, G_DETACH = 0x107, G_OK = 0x1100, G_OOM = 0x1201, G_BAD = 0x1205,
};
#define GQ 256
#define GBUF_PAGES 8704          // 34 MiB: the largest scanout's pixels (3840x2160x4) fit
#define GLIST (16u << 20)        // where lists go in gbuf (the pixels' pages come first)
#define GLIST_SCANOUT (8101u * 4096) // the scanout's list: after its pixels
#define G_RING 0x80000           // in `ram`: the gpu's rings, control then cursor (6 pages)
#define G_CMD 0x86000            // small commands, 64 bytes each
#define G_RESP 0x87000           // responses, 32 bytes each (two pages: 256)
#define IN_RING 0x89000          // the input devices' event queues and 8-byte events (4 pages each)
#define G_IND 0x91000            // indirect tables, a page each (up to 111)
static uint8_t *gbuf;
static uint64_t gbuf_phys[GBUF_PAGES];
static uint16_t gnext, gavail;

static uint64_t gphys(size_t off) { return gbuf_phys[off / 4096] + off % 4096; }
static struct desc *gtable(void) { return (struct desc *)(ram + G_RING); }
static uint16_t *gavail_ring(void) { return (uint16_t *)(ram + G_RING + 0x1000); }
static volatile uint16_t *gused_idx(void) { return (uint16_t *)(ram + G_RING + 0x2000 + 2); }
static uint8_t *gcmd(int i) { return ram + G_CMD + i * 64; }
static uint32_t *gresp(int i) { return (uint32_t *)(ram + G_RESP + i * 32); }

// Descriptors for [off, off + len) of gbuf, one per physically contiguous run, at most max;
// returns how many, and in *covered the bytes they cover (less than len when max ran out).
static int gruns(size_t off, size_t len, struct desc *d, int max, size_t *covered) {
  int n = 0;
  *covered = 0;
  while (*covered < len) {
    size_t take = 4096 - off % 4096;
    if (take > len - *covered) take = len - *covered;
    uint64_t p = gphys(off);
    if (n > 0 && d[n - 1].addr + d[n - 1].len == p) {
      d[n - 1].len += take;
    } else {
      if (n == max) break;
      d[n++] = (struct desc){p, (uint32_t)take, 0, 0};
    }
    off += take;
    *covered += take;
  }
  return n;
}

// A driver's set-up of the gpu: INDIRECT_DESC, the control queue of GQ, the cursor queue of 16.
static void gpu_setup(void) {
  negotiate(1u << 28);
  memset(ram + G_RING, 0, G_RESP + 0x2000 - G_RING);
  for (int q = 0; q < 2; q++) place_queue(q, q == 0 ? GQ : 16, ram + G_RING + q * 0x3000);
  wr(R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
  gnext = gavail = 0;
}

// Makes a request available (not yet notified): `n` readable descriptors, then response slot r.
// One readable buffer goes directly (two descriptors); more through indirect table `t`.
static void gqueue(struct desc *d, int n, int r, int t) {
  struct desc *ring = gtable();
  uint64_t resp = phys(gresp(r));
  memset(gresp(r), 0, 24);
  uint16_t head = gnext;
  if (n == 1) {
    ring[gnext] = (struct desc){d[0].addr, d[0].len, F_NEXT, (uint16_t)((gnext + 1) % GQ)};
    ring[(gnext + 1) % GQ] = (struct desc){resp, 24, F_WRITE, 0};
    gnext = (gnext + 2) % GQ;
  } else {
    struct desc *tab = (struct desc *)(ram + G_IND + t * 4096);
    for (int i = 0; i < n; i++) tab[i] = (struct desc){d[i].addr, d[i].len, F_NEXT, (uint16_t)(i + 1)};
    tab[n] = (struct desc){resp, 24, F_WRITE, 0};
    ring[gnext] = (struct desc){phys(tab), (uint32_t)(16 * (n + 1)), F_INDIRECT, 0};
    gnext = (gnext + 1) % GQ;
  }
  gavail_ring()[2 + gavail % GQ] = head;
  gavail++;
}

// Notifies what gqueue made available and waits until the device has answered all of it.
static int gkick(void) {
  __sync_synchronize();
  gavail_ring()[1] = gavail;
  __sync_synchronize();
  wr(R_QUEUE_NOTIFY, 0);
  for (int ms = 0; *gused_idx() != gavail; ms++) {
    if (ms > 300000) return -1;
    pause_ms(1);
  }
  return 0;
}

// One small command (its bytes in `body` after the header), answered; returns the response type.
static uint32_t gsend(uint32_t type, const uint32_t *body, int words) {
  uint32_t *c = (uint32_t *)gcmd(0);
  memset(c, 0, 64);
  c[0] = type;
  memcpy(c + 6, body, 4 * words);
  struct desc d = {phys(c), (uint32_t)(24 + 4 * words), 0, 0};
  gqueue(&d, 1, 0, 0);
  if (gkick() != 0) return 0;
  return gresp(0)[0];
}

static uint32_t gcreate(uint32_t id, uint32_t w, uint32_t h) {
  uint32_t b[4] = {id, 2 /* B8G8R8X8 */, w, h};
  return gsend(G_CREATE, b, 4);
}
static uint32_t gunref(uint32_t id) {
  uint32_t b[2] = {id, 0};
  return gsend(G_UNREF, b, 2);
}

// Writes ATTACH_BACKING for `id` with n entries at `at` in gbuf: entry i is `entry(i)`.
// Returns the descriptors describing it (or 0 when more than max runs would be needed).
static int glist(size_t at, uint32_t id, uint32_t n,
                 void (*entry)(uint32_t, uint64_t *, uint32_t *), struct desc *d, int max,
                 uint32_t *sent) {
  uint32_t *h = (uint32_t *)(gbuf + at);
  memset(h, 0, 32);
  h[0] = G_ATTACH;
  h[6] = id;
  h[7] = n;
  for (uint32_t i = 0; i < n; i++) {
    uint64_t addr;
    uint32_t len;
    entry(i, &addr, &len);
    uint8_t *e = gbuf + at + 32 + 16 * (size_t)i;
    memcpy(e, &addr, 8);
    memcpy(e + 8, &len, 4);
    memset(e + 12, 0, 4);
  }
  size_t covered;
  int runs = gruns(at, 32 + 16 * (size_t)n, d, max, &covered);
  // Fewer runs than the list needs: the list is cut to what they hold (the count says so too).
  *sent = covered < 32 ? 0 : (uint32_t)((covered - 32) / 16);
  h[7] = *sent;
  if (runs > 0 && covered < 32 + 16 * (size_t)n) d[runs - 1].len -= (covered - 32) % 16;
  return runs;
}

static void byte_entry(uint32_t i, uint64_t *addr, uint32_t *len) {
  *addr = gphys(i);
  *len = 1;
}
static void page_entry(uint32_t i, uint64_t *addr, uint32_t *len) {
  *addr = gbuf_phys[i];
  *len = 4096;
}

static uint32_t gattach(size_t at, uint32_t id, uint32_t n,
                        void (*entry)(uint32_t, uint64_t *, uint32_t *), uint32_t *sent) {
  struct desc d[255];
  int runs = glist(at, id, n, entry, d, 255, sent);
  gqueue(d, runs, 0, 0);
  if (gkick() != 0) return 0;
  return gresp(0)[0];
}

// Waits for a key on either of the display's input devices (slots in[0..1]), their event queues
// set up here: the host's signal that it has looked at the display.
static int wait_key(volatile uint32_t *in[2], int nin) {
  for (int k = 0; k < nin; k++) {
    regs = in[k];
    uint8_t *base = ram + IN_RING + k * 0x4000;
    memset(base, 0, 0x4000);
    negotiate(0);
    struct desc *t = (struct desc *)base;
    uint16_t *a = (uint16_t *)(base + 0x1000);
    for (int i = 0; i < 8; i++) {
      t[i] = (struct desc){phys(base + 0x3000 + 8 * i), 8, F_WRITE, 0};
      a[2 + i] = i;
    }
    a[1] = 8;
    place_queue(0, 8, base);
    wr(R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
    wr(R_QUEUE_NOTIFY, 0);
  }
  int got = 0;
  for (int ms = 0; ms < 600000 && !got; ms += 10) {
    for (int k = 0; k < nin; k++)
      if (*(volatile uint16_t *)(ram + IN_RING + k * 0x4000 + 0x2000 + 2) != 0) got = 1;
    pause_ms(10);
  }
  for (int k = 0; k < nin; k++) {
    regs = in[k];
    wr(R_STATUS, 0);
  }
  return got;
}

static void gpu_attacks(volatile uint32_t *gpu, volatile uint32_t *in[2], int nin) {
  gbuf = mmap(0, GBUF_PAGES * 4096UL, PROT_READ | PROT_WRITE,
              MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED | MAP_POPULATE, -1, 0);
  int pm = open("/proc/self/pagemap", O_RDONLY);
  if (gbuf == MAP_FAILED || pm < 0) {
    printf("GPU name=setup failed=1\n");
    return;
  }
  for (int i = 0; i < GBUF_PAGES; i++) {
    uint64_t e = 0;
    if (pread(pm, &e, 8, ((uintptr_t)gbuf / 4096 + i) * 8) != 8 || !(e >> 63)) {
      printf("GPU name=setup failed=1\n");
      return;
    }
    gbuf_phys[i] = (e & ((1ULL << 55) - 1)) * 4096;
  }
  close(pm);
  regs = gpu;
  printf("GPU-BEGIN\n");
  fflush(stdout);
  gpu_setup();

  // 1x1 resources, each with a backing list of 262,144 one-byte entries (a 4 MiB list).
  int attached = 0, refused = 0;
  uint32_t sent = 0;
  for (uint32_t id = 1; id <= 300; id++) {
    if (gcreate(id, 1, 1) != G_OK) break;
    uint32_t r = gattach(GLIST, id, 262144, byte_entry, &sent);
    attached += r == G_OK;
    refused += r == G_BAD;
  }
  for (uint32_t id = 1; id <= 300; id++) gunref(id);
  printf("GPU name=backing-meta entries=%u attached=%d refused=%d\n", sent, attached, refused);

  // 1024x1024 resources with the longest lists they may have, until the VMM's cap refuses.
  int created = 0, oom = 0;
  for (uint32_t id = 1; id <= 100 && !oom; id++) {
    uint32_t r = gcreate(id, 1024, 1024);
    if (r == G_OK) r = gattach(GLIST, id, 1024 + 16, byte_entry, &sent);
    if (r == G_OK) created++;
    oom = r == G_OOM;
  }
  for (uint32_t id = 1; id <= 100; id++) gunref(id);
  printf("GPU name=backing-cap created=%d oom=%d\n", created, oom);

  // 128 transfers of a whole 2048x1024 resource (8 MiB each) on one notify.
  gcreate(1, 2048, 1024);
  int attached_big = gattach(GLIST, 1, 2048, page_entry, &sent) == G_OK;
  uint32_t *c = (uint32_t *)gcmd(1);
  memset(c, 0, 64);
  c[0] = G_TRANSFER;
  c[8] = 2048; // rect: x, y, width, height at words 6..9, offset at 10..11, id at 12
  c[9] = 1024;
  c[12] = 1;
  struct desc d = {phys(c), 56, 0, 0};
  for (int i = 0; i < 128; i++) gqueue(&d, 1, i, 0);
  long t0 = now_ms();
  gkick();
  long took = now_ms() - t0;
  int ok = 0;
  for (int i = 0; i < 128; i++) ok += gresp(i)[0] == G_OK;
  gunref(1);
  printf("GPU name=many-transfers attached=%d ok=%d of=128 ms=%ld\n", attached_big, ok, took);

  // 51 attach/detach pairs of a 2048x2048 resource's longest list (4112 one-byte entries).
  gcreate(1, 2048, 2048);
  struct desc list[255];
  int runs = glist(GLIST, 1, 4096 + 16, byte_entry, list, 255, &sent);
  uint32_t *det = (uint32_t *)gcmd(2);
  memset(det, 0, 64);
  det[0] = G_DETACH;
  det[6] = 1;
  struct desc dd = {phys(det), 32, 0, 0};
  for (int i = 0; i < 51; i++) {
    gqueue(list, runs, 2 * i, i);
    gqueue(&dd, 1, 2 * i + 1, 0);
  }
  t0 = now_ms();
  gkick();
  took = now_ms() - t0;
  ok = 0;
  for (int i = 0; i < 102; i++) ok += gresp(i)[0] == G_OK;
  gunref(1);
  printf("GPU name=attach-detach entries=%u ok=%d of=102 ms=%ld\n", sent, ok, took);

  // Scanouts larger than the largest mode, then the largest, of random pixels, shown.
  int big = 0;
  if (gcreate(1, 4096, 4096) == G_OK) {
    uint32_t s[6] = {0, 0, 4096, 4096, 0, 1};
    big += gsend(G_SCANOUT, s, 6) == G_BAD;
    uint32_t t[6] = {0, 0, 3841, 1, 0, 1};
    big += gsend(G_SCANOUT, t, 6) == G_BAD;
  }
  gunref(1);
  uint64_t x = 88172645463325252ULL;
  for (size_t i = 0; i < 3840UL * 2160 * 4; i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    memcpy(gbuf + i, &x, 8);
  }
  int shown = gcreate(1, 3840, 2160) == G_OK;
  shown &= gattach(GLIST_SCANOUT, 1, 3840 * 2160 * 4 / 4096, page_entry, &sent) == G_OK;
  uint32_t tr[8] = {0, 0, 3840, 2160, 0, 0, 1, 0};
  shown &= gsend(G_TRANSFER, tr, 8) == G_OK;
  uint32_t so[6] = {0, 0, 3840, 2160, 0, 1};
  shown &= gsend(G_SCANOUT, so, 6) == G_OK;
  uint32_t fl[6] = {0, 0, 3840, 2160, 1, 0};
  shown &= gsend(G_FLUSH, fl, 6) == G_OK;
  printf("GPU-SCANOUT-READY\n");
  fflush(stdout);
  int key = wait_key(in, nin);
  regs = gpu;
  wr(R_STATUS, 0);
  printf("GPU name=scanout big_refused=%d shown=%d key=%d\n", big, shown, key);
  printf("GPU-END\n");
  fflush(stdout);
  munmap(gbuf, GBUF_PAGES * 4096UL);
}

// ---- Issue 17: attacks of many resets or many connections, each reported on its own lines
// (not in ATTACK lines or the counts of HOSTILE DONE). ----

// virtio-vsock: a REQUEST+RST flood past the connection bound, then connections held at it.
//   VSOCK FLOOD pairs=N took=T     the pairs sent, T the ones the device took
//   VSOCK HOLD accepted=A refused=R   REQUESTs answered RESPONSE or RST
//   VSOCK HOLDING                  held until the host writes a byte on one of them
//   VSOCK RELEASED go=G            the device reset (every connection dropped)
#define VQ 128            // vsock queue size: a ring of packets per notify
#define VSOCK_PORT 5000   // the host's service, PATH_5000
#define VSOCK_FLOOD 5120  // five times the device's 1024 connections
#define VSOCK_HOLD 1100   // past the bound
enum { V_RX = 0, V_TX = 1, OP_REQUEST = 1, OP_RESPONSE = 2, OP_RST = 3, OP_RW = 5 };

struct vsock_hdr {
  uint64_t src_cid, dst_cid;
  uint32_t src_port, dst_port, len;
  uint16_t type, op;
  uint32_t flags, buf_alloc, fwd_cnt;
} __attribute__((packed));

// Packet buffers, 64 bytes each, after the data pages the attacks above use.
static struct vsock_hdr *v_tx(int i) { return (struct vsock_hdr *)(ram + 0x60000 + i * 64); }
static struct vsock_hdr *v_rx(int i) { return (struct vsock_hdr *)(ram + 0x62000 + i * 64); }
static uint16_t v_avail[2], v_rx_seen;
static int v_tx_n, v_responses, v_rsts, v_data;

static uint16_t v_used(int q) {
  __sync_synchronize();
  return *(volatile uint16_t *)((uint8_t *)table(q) + 0x2002);
}
static void v_push(int q, uint16_t head) {
  uint16_t *a = avail(q);
  a[2 + v_avail[q] % VQ] = head;
  __sync_synchronize();
  a[1] = ++v_avail[q];
  __sync_synchronize();
}
static void v_rx_offer(int i) {
  table(V_RX)[i] = (struct desc){phys(v_rx(i)), 64, F_WRITE, 0};
  v_push(V_RX, i);
}
// Counts what the device sent and gives the buffers back.
static void v_rx_drain(void) {
  int n = 0;
  for (; v_rx_seen != v_used(V_RX); v_rx_seen++, n++) {
    uint32_t id = *(volatile uint32_t *)((uint8_t *)table(V_RX) + 0x2004 + 8 * (v_rx_seen % VQ));
    volatile struct vsock_hdr *h = v_rx(id % VQ);
    v_responses += h->op == OP_RESPONSE;
    v_rsts += h->op == OP_RST;
    v_data += h->op == OP_RW;
    v_rx_offer(id % VQ);
  }
  if (n) wr(R_QUEUE_NOTIFY, V_RX);
}
static void v_packet(uint16_t op, uint32_t port) {
  int i = v_tx_n++;
  struct vsock_hdr *h = v_tx(i);
  memset(h, 0, sizeof *h);
  h->src_cid = 3;
  h->dst_cid = 2;
  h->src_port = port;
  h->dst_port = VSOCK_PORT;
  h->type = 1; // stream
  h->op = op;
  h->buf_alloc = 65536;
  table(V_TX)[i] = (struct desc){phys(h), sizeof *h, 0, 0};
  v_push(V_TX, i);
}
// Notifies the packets queued so far and waits (up to 20 s) until the device has taken them.
static int v_flush(void) {
  wr(R_QUEUE_NOTIFY, V_TX);
  for (int t = 0; t < 20000 && v_used(V_TX) != v_avail[V_TX]; t++) pause_ms(1);
  v_tx_n = 0;
  v_rx_drain();
  return v_used(V_TX) == v_avail[V_TX];
}
static void v_wait_answers(int n) {
  for (int t = 0; t < 6000 && v_responses + v_rsts < n; t++) {
    v_rx_drain();
    pause_ms(10);
  }
}

static void vsock_attacks(void) {
  setup_n(VQ);
  v_avail[V_RX] = v_avail[V_TX] = v_rx_seen = 0;
  v_tx_n = v_responses = v_rsts = v_data = 0;
  for (int i = 0; i < VQ; i++) v_rx_offer(i);
  wr(R_QUEUE_NOTIFY, V_RX);
  // Each connection dropped by the guest before the host's connect can complete.
  int took = 0;
  for (int i = 0; i < VSOCK_FLOOD; i++) {
    v_packet(OP_REQUEST, 10000 + i);
    v_packet(OP_RST, 10000 + i);
    if (v_tx_n == VQ) {
      if (!v_flush()) break;
      took = i + 1;
    }
  }
  printf("VSOCK FLOOD pairs=%d took=%d\n", VSOCK_FLOOD, took);
  fflush(stdout);
  // Connections held: at most the bound is accepted, the rest refused.
  v_responses = v_rsts = 0;
  for (int i = 0; i < VSOCK_HOLD; i += 64) {
    for (int j = i; j < i + 64 && j < VSOCK_HOLD; j++) v_packet(OP_REQUEST, 20000 + j);
    v_flush();
    v_wait_answers(i + 64 < VSOCK_HOLD ? i + 64 : VSOCK_HOLD);
  }
  printf("VSOCK HOLD accepted=%d refused=%d\nVSOCK HOLDING\n", v_responses, v_rsts);
  fflush(stdout);
  for (int t = 0; t < 30000 && v_data == 0; t++) {
    v_rx_drain();
    pause_ms(10);
  }
  wr(R_STATUS, 0);
  printf("VSOCK RELEASED go=%d\n", v_data);
  fflush(stdout);
}

// virtio-rng: a zero-length buffer (NEEDS_RESET), a reset, again, for RNG_LOOP_MS.
//   RNGLOOP cycles=C stops=S ms=T
#define RNG_LOOP_MS 20000
static void rng_reset_loop(void) {
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  long ms = 0;
  int cycles = 0, stops = 0;
  while (ms < RNG_LOOP_MS) {
    setup();
    table(0)[0] = (struct desc){data_phys(0), 0, F_WRITE, 0};
    offer(0, 0);
    int stopped = 0;
    for (int i = 0; i < 100000 && !stopped; i++) stopped = (rd(R_STATUS) & S_NEEDS_RESET) != 0;
    stops += end_life(); // a stop after the last read is counted too: the VMM logged it
    cycles++;
    clock_gettime(CLOCK_MONOTONIC, &t);
    ms = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
  }
  printf("RNGLOOP cycles=%d stops=%d ms=%ld\n", cycles, stops, ms);
  fflush(stdout);
}

// Runs the issue 17 attacks on the devices that have them.
static void many_reset_attacks(int fd) {
  for (int slot = 0; slot < SLOTS; slot++) {
    void *w = mmap(0, VIRTIO_STRIDE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
                   VIRTIO_BASE + slot * VIRTIO_STRIDE);
    if (w == MAP_FAILED) continue;
    regs = w;
    if (rd(R_MAGIC) == 0x74726976 && rd(R_DEVICE_ID) == 19) vsock_attacks();
    if (rd(R_MAGIC) == 0x74726976 && rd(R_DEVICE_ID) == 4) rng_reset_loop();
    munmap(w, VIRTIO_STRIDE);
  }
}

int main(int argc, char **argv) {
  (void)argc;
  (void)argv;
  int fd = open("/dev/mem", O_RDWR | O_SYNC);
  if (fd < 0) {
    perror("/dev/mem");
    return 1;
  }
  ram = mmap(0, PAGES * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED | MAP_POPULATE, -1, 0);
  if (ram == MAP_FAILED || mlock(ram, PAGES * 4096) != 0) {
    perror("locking 1 MiB");
    return 1;
  }
  memset(ram, 0, PAGES * 4096);
  int pm = open("/proc/self/pagemap", O_RDONLY);
  for (int i = 0; i < PAGES; i++) {
    uint64_t e = 0;
    if (pm < 0 || pread(pm, &e, 8, ((uintptr_t)ram / 4096 + i) * 8) != 8 || !(e >> 63) ||
        (e & ((1ULL << 55) - 1)) == 0) {
      fprintf(stderr, "pagemap: no frame for page %d\n", i);
      return 1;
    }
    page_phys[i] = (e & ((1ULL << 55) - 1)) * 4096;
  }
  int devices = 0;
  volatile uint32_t *gpu = 0, *in[2];
  int nin = 0;
  for (int slot = 0; slot < SLOTS; slot++) {
    void *w = mmap(0, VIRTIO_STRIDE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
                   VIRTIO_BASE + slot * VIRTIO_STRIDE);
    if (w == MAP_FAILED) continue;
    regs = w;
    uint32_t dev = rd(R_DEVICE_ID);
    if (rd(R_MAGIC) == 0x74726976 && dev != 0) {
      devices++;
      attack(slot, dev);
    }
    // The gpu's and the input devices' windows stay mapped for the gpu section.
    if (dev == 16) gpu = w;
    else if (dev == 18 && nin < 2) in[nin++] = w;
    else munmap(w, VIRTIO_STRIDE);
  }
  if (gpu) gpu_attacks(gpu, in, nin);
  many_reset_attacks(fd);
  printf("HOSTILE DONE devices=%d attacks=%d resets=%d\n", devices, attacks, resets);
  return 0;
}
