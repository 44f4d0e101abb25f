// A hostile guest: run as root inside a moat VM, it maps the virtio-mmio register windows
// through /dev/mem, locks 1 MiB of its own memory and learns each page's guest-physical address
// from /proc/self/pagemap, and attacks every virtio device it finds by driving the registers and building rings itself:
// descriptor loops, buffers outside RAM, huge lengths, available indexes far ahead, nested
// indirect tables, notification storms, config writes past the config space, a reset in
// mid-request, queue changes while running, features changed after FEATURES_OK. After each
// attack it reads the device's status and prints one line:
//   ATTACK slot=S dev=ID name=NAME reset=0|1
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
  R_USED_HI = 0x0a4, R_CONFIG = 0x100,
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

// A driver's set-up: VERSION_1 and INDIRECT_DESC, every queue of `size` in the free RAM.
static int setup_n(int size) {
  wr(R_STATUS, 0);
  wr(R_STATUS, S_ACK | S_DRIVER);
  wr(R_DRV_FEATURES_SEL, 0);
  wr(R_DRV_FEATURES, 1u << 28);
  wr(R_DRV_FEATURES_SEL, 1);
  wr(R_DRV_FEATURES, 1); // VERSION_1
  wr(R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
  memset(ram, 0, 0x40000); // rings and tables; the pages stay locked where they are
  int n = 0;
  for (int q = 0; q < 8; q++) {
    wr(R_QUEUE_SEL, q);
    if (rd(R_QUEUE_NUM_MAX) == 0) break;
    wr(R_QUEUE_NUM, size);
    uint64_t d = phys(table(q)), a = phys(avail(q)), u = phys((uint8_t *)table(q) + 0x2000);
    wr(R_DESC_LO, (uint32_t)d);
    wr(R_DESC_HI, (uint32_t)(d >> 32));
    wr(R_AVAIL_LO, (uint32_t)a);
    wr(R_AVAIL_HI, (uint32_t)(a >> 32));
    wr(R_USED_LO, (uint32_t)u);
    wr(R_USED_HI, (uint32_t)(u >> 32));
    wr(R_QUEUE_READY, 1);
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

static void report(int slot, uint32_t dev, const char *name) {
  pause_ms(50); // the device runs on the VMM's next turn
  int reset = (rd(R_STATUS) & S_NEEDS_RESET) != 0;
  attacks++;
  resets += reset;
  printf("ATTACK slot=%d dev=%u name=%s reset=%d\n", slot, dev, name, reset);
  fflush(stdout);
  wr(R_INT_ACK, rd(R_INT_STATUS));
  wr(R_STATUS, 0); // leave the device reset for the next attack
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
  report(slot, dev, "desc-loop");

  // A buffer outside RAM.
  setup();
  for (int q = 0; q < nq; q++) {
    table(q)[0] = (struct desc){0xdead00000000ULL, 64, F_WRITE, 0};
    offer(q, 0);
  }
  report(slot, dev, "outside-ram");

  // A huge length.
  setup();
  for (int q = 0; q < nq; q++) {
    table(q)[0] = (struct desc){data_phys(0), 0xffffffffu, 0, 0};
    offer(q, 0);
  }
  report(slot, dev, "huge-length");

  // The available index far ahead of the device.
  setup();
  for (int q = 0; q < nq; q++) {
    avail(q)[1] = 0x8000;
    wr(R_QUEUE_NOTIFY, q);
  }
  report(slot, dev, "avail-ahead");

  // An indirect table whose entry is itself indirect.
  setup();
  ind[0] = (struct desc){phys(ind), 64, F_INDIRECT, 0};
  for (int q = 0; q < nq; q++) {
    table(q)[0] = (struct desc){phys(ind), 64, F_INDIRECT, 0};
    offer(q, 0);
  }
  report(slot, dev, "nested-indirect");

  // A notification storm, on every queue and past them, with nothing available.
  setup();
  for (int i = 0; i < 100000; i++) wr(R_QUEUE_NOTIFY, i % (nq + 3));
  report(slot, dev, "notify-storm");

  // Config writes and reads over the whole window past the config space.
  setup();
  for (uint32_t off = R_CONFIG; off < 0x1000; off += 4) {
    wr(off, 0xffffffffu);
    (void)rd(off);
  }
  report(slot, dev, "config-writes");

  // A reset in mid-request: a plausible request on every queue, then status 0 at once. The
  // request must be one the device accepts (virtio-rng, ID 4, takes writable buffers only): a
  // stop it caused would be undone by this very reset before the status is read, so the VMM
  // would log a stop this program never sees.
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
  report(slot, dev, "reset-mid-request");

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
  report(slot, dev, "queue-change-running");

  // Features changed after FEATURES_OK, every status bit written, then empty descriptors.
  setup();
  wr(R_DRV_FEATURES_SEL, 0);
  wr(R_DRV_FEATURES, 0xffffffffu);
  wr(R_DRV_FEATURES_SEL, 1);
  wr(R_DRV_FEATURES, 0xffffffffu);
  wr(R_STATUS, 0xff);
  for (int q = 0; q < nq; q++) offer(q, 0);
  report(slot, dev, "features-after-ok");
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
    stops += stopped;
    cycles++;
    wr(R_STATUS, 0);
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
    munmap(w, VIRTIO_STRIDE);
  }
  many_reset_attacks(fd);
  printf("HOSTILE DONE devices=%d attacks=%d resets=%d\n", devices, attacks, resets);
  return 0;
}
