// A 16550A UART, enough of it for Linux's 8250 driver: FIFOs, interrupts (received data,
// transmitter empty), divisor latch, loopback. Owns no I/O: transmitted bytes go to `sink`,
// received bytes come in through receive(). Both directions are bounded.
import type { MmioDevice } from "../../bus/mmio-bus.js";
import type { IrqLine } from "../irq.js";
import { bytes, type DeviceState, type Snapshottable, type StateReader } from "../device-state.js";

const IER_RDI = 0x01;
const IER_THRI = 0x02;
const IIR_NONE = 0x01;
const IIR_THRI = 0x02;
const IIR_RDI = 0x04;
const IIR_FIFO = 0xc0;
const LCR_DLAB = 0x80;
const LSR_DR = 0x01;
const LSR_THRE = 0x20;
const LSR_TEMT = 0x40;
const MCR_LOOP = 0x10;
const FCR_ENABLE = 0x01;
const FCR_CLEAR_RX = 0x02;

/** Bytes received but not yet read by the guest; receive() takes no more than this. */
export const UART_RX_CAPACITY = 4096;

export class Uart16550 implements MmioDevice, Snapshottable {
  private ier = 0;
  private lcr = 0;
  private mcr = 0;
  private scr = 0;
  private dll = 0x0c;
  private dlm = 0;
  private fifoEnabled = false;
  private thrPending = false; // "transmitter empty" interrupt waiting to be seen
  private rx: number[] = [];
  private rxHead = 0;
  private lastIrq = false;

  /**
   * @param sink receives every byte the guest transmits, at once (the VMM bounds its buffer)
   * @param irq the UART's interrupt line
   * @param onRxSpace called when the guest has drained the receive buffer below half
   */
  constructor(
    private readonly sink: (byte: number) => void,
    private readonly irq: IrqLine,
    private readonly onRxSpace: () => void = () => {},
  ) {}

  private rxCount(): number {
    return this.rx.length - this.rxHead;
  }

  /** Free space in the receive buffer. */
  rxSpace(): number {
    return UART_RX_CAPACITY - this.rxCount();
  }

  /**
   * Whether the guest's driver is listening (receive interrupts enabled). Input is held back
   * until then: Linux clears the FIFOs when it opens the port, and disables the interrupt to
   * throttle, so this doubles as flow control.
   */
  listening(): boolean {
    return (this.ier & IER_RDI) !== 0;
  }

  /**
   * Queues host input for the guest while it listens; returns how many bytes were taken
   * (the rest stays with the caller). Bound: UART_RX_CAPACITY bytes buffered.
   */
  receive(bytes: Uint8Array): number {
    if (!this.listening()) return 0;
    const n = Math.min(bytes.length, this.rxSpace());
    for (let i = 0; i < n; i++) this.rx.push(bytes[i]!);
    if (n > 0) this.update();
    return n;
  }

  private iir(): number {
    let id = IIR_NONE;
    if ((this.ier & IER_RDI) !== 0 && this.rxCount() > 0) id = IIR_RDI;
    else if ((this.ier & IER_THRI) !== 0 && this.thrPending) id = IIR_THRI;
    return id | (this.fifoEnabled ? IIR_FIFO : 0);
  }

  private update(): void {
    const level = (this.iir() & IIR_NONE) === 0;
    if (level !== this.lastIrq) {
      this.lastIrq = level;
      this.irq(level);
    }
  }

  private popRx(): number {
    if (this.rxCount() === 0) return 0;
    const b = this.rx[this.rxHead++]!;
    if (this.rxHead > 1024 && this.rxHead * 2 > this.rx.length) {
      this.rx = this.rx.slice(this.rxHead);
      this.rxHead = 0;
    }
    if (this.rxCount() === UART_RX_CAPACITY / 2 - 1 || this.rxCount() === 0) this.onRxSpace();
    return b;
  }

  read(offset: number, _size: number): bigint {
    let v = 0;
    switch (offset) {
      case 0:
        if ((this.lcr & LCR_DLAB) !== 0) v = this.dll;
        else v = this.popRx();
        break;
      case 1:
        v = (this.lcr & LCR_DLAB) !== 0 ? this.dlm : this.ier;
        break;
      case 2:
        v = this.iir();
        if ((v & 0x0f) === IIR_THRI) this.thrPending = false; // reading IIR acknowledges THRE
        break;
      case 3:
        v = this.lcr;
        break;
      case 4:
        v = this.mcr;
        break;
      case 5:
        v = LSR_THRE | LSR_TEMT | (this.rxCount() > 0 ? LSR_DR : 0);
        break;
      case 6:
        // Modem status: in loopback the outputs feed back; otherwise carrier, DSR and CTS up.
        if ((this.mcr & MCR_LOOP) !== 0) {
          const m = this.mcr;
          v = ((m & 0x02) << 3) | ((m & 0x01) << 5) | ((m & 0x04) << 4) | ((m & 0x08) << 4);
        } else v = 0xb0;
        break;
      case 7:
        v = this.scr;
        break;
      default:
        v = 0;
    }
    this.update();
    return BigInt(v);
  }

  write(offset: number, _size: number, value: bigint): void {
    const v = Number(value & 0xffn);
    switch (offset) {
      case 0:
        if ((this.lcr & LCR_DLAB) !== 0) this.dll = v;
        else {
          if ((this.mcr & MCR_LOOP) !== 0) {
            if (this.rxCount() < UART_RX_CAPACITY) this.rx.push(v);
          } else this.sink(v);
          this.thrPending = true; // sent at once: the holding register is empty again
        }
        break;
      case 1:
        if ((this.lcr & LCR_DLAB) !== 0) this.dlm = v;
        else {
          const was = this.ier;
          this.ier = v & 0x0f;
          // Enabling the THRE interrupt while the transmitter is empty raises it at once.
          if ((was & IER_THRI) === 0 && (this.ier & IER_THRI) !== 0) this.thrPending = true;
          if ((was & IER_RDI) === 0 && (this.ier & IER_RDI) !== 0) queueMicrotask(this.onRxSpace);
        }
        break;
      case 2:
        this.fifoEnabled = (v & FCR_ENABLE) !== 0;
        if ((v & FCR_CLEAR_RX) !== 0) {
          this.rx = [];
          this.rxHead = 0;
          this.onRxSpace();
        }
        break;
      case 3:
        this.lcr = v;
        break;
      case 4:
        this.mcr = v & 0x1f;
        break;
      case 7:
        this.scr = v;
        break;
    }
    this.update();
  }

  /** The registers and the bytes the guest has yet to read (they are the guest's). */
  saveState(): DeviceState {
    return {
      ier: this.ier,
      lcr: this.lcr,
      mcr: this.mcr,
      scr: this.scr,
      dll: this.dll,
      dlm: this.dlm,
      fifoEnabled: this.fifoEnabled,
      thrPending: this.thrPending,
      rx: bytes(Uint8Array.from(this.rx.slice(this.rxHead))),
    };
  }

  /** Bounds: registers as their writes mask them; at most UART_RX_CAPACITY received bytes. */
  loadState(r: StateReader): void {
    const ier = r.int("ier", 0, 0x0f);
    const lcr = r.int("lcr", 0, 0xff);
    const mcr = r.int("mcr", 0, 0x1f);
    const scr = r.int("scr", 0, 0xff);
    const dll = r.int("dll", 0, 0xff);
    const dlm = r.int("dlm", 0, 0xff);
    const fifoEnabled = r.bool("fifoEnabled");
    const thrPending = r.bool("thrPending");
    const rx = r.bytes("rx", UART_RX_CAPACITY);
    Object.assign(this, { ier, lcr, mcr, scr, dll, dlm, fifoEnabled, thrPending });
    this.rx = [...rx];
    this.rxHead = 0;
    // The line as the registers say, driven again (the PLIC takes a level it already has).
    this.lastIrq = (this.iir() & IIR_NONE) === 0;
    this.irq(this.lastIrq);
  }
}
