import { MoatError } from "../../base/moat-error.js";
/**
 * A small writer for flattened device trees (DTB), format version 17
 * (last compatible version 16), as described in chapter 5 of the Devicetree
 * Specification.
 *
 * Layout of the blob produced by {@link FdtBuilder.finish}:
 *
 * ```
 * 0x00  header (40 bytes)
 * 0x28  memory reservation map (8-byte aligned; empty, i.e. just the
 *       terminating all-zero entry)
 * 0x38  structure block (FDT_BEGIN_NODE / FDT_PROP / FDT_END_NODE / FDT_END)
 *       strings block (property names, NUL-terminated, de-duplicated)
 * ```
 *
 * All integers are big-endian. Node names and property values are padded
 * with zeros to a multiple of 4 bytes inside the structure block.
 */

/** Magic number at offset 0 of every DTB. */
export const FDT_MAGIC = 0xd00dfeed;
/** Format version written by this module. */
export const FDT_VERSION = 17;
/** Oldest format version the blobs written here are compatible with. */
export const FDT_LAST_COMP_VERSION = 16;

/** Structure block token: start of a node, followed by its NUL-terminated name. */
export const FDT_BEGIN_NODE = 0x1;
/** Structure block token: end of a node. */
export const FDT_END_NODE = 0x2;
/** Structure block token: a property (length, name offset, value). */
export const FDT_PROP = 0x3;
/** Structure block token: no-op (never written by this module). */
export const FDT_NOP = 0x4;
/** Structure block token: end of the structure block. */
export const FDT_END = 0x9;

/** Size of the version 17 header in bytes. */
export const FDT_HEADER_SIZE = 40;

/** Maximum length of the node-name part of a node name (before any `@`). */
const MAX_NODE_NAME_LENGTH = 31;
/** Maximum length of a property name. */
const MAX_PROPERTY_NAME_LENGTH = 31;

/** Characters allowed in a node name and in its unit address (Devicetree Spec 2.2.1). */
const NODE_NAME_CHARS = /^[0-9a-zA-Z,._+-]+$/;
/** Characters allowed in a property name (Devicetree Spec 2.2.4). */
const PROPERTY_NAME_CHARS = /^[0-9a-zA-Z,._+?#-]+$/;

const U32_MAX = 0xffff_ffff;
const U64_MAX = (1n << 64n) - 1n;

/** Error thrown for any misuse of {@link FdtBuilder}. */
export class FdtError extends MoatError {
  override readonly kind = "host";
}

/** A growable big-endian byte buffer. */
class ByteWriter {
  private buf = new Uint8Array(1024);
  private view = new DataView(this.buf.buffer);
  private len = 0;

  get length(): number {
    return this.len;
  }

  private reserve(extra: number): void {
    const need = this.len + extra;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u32(value: number): void {
    this.reserve(4);
    this.view.setUint32(this.len, value >>> 0, false);
    this.len += 4;
  }

  bytes(data: Uint8Array): void {
    this.reserve(data.length);
    this.buf.set(data, this.len);
    this.len += data.length;
  }

  /** Appends zero bytes until the length is a multiple of `alignment`. */
  align(alignment: number): void {
    const pad = (alignment - (this.len % alignment)) % alignment;
    this.reserve(pad);
    this.buf.fill(0, this.len, this.len + pad);
    this.len += pad;
  }

  toBytes(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

const utf8 = new TextEncoder();

/** Encodes `s` as UTF-8 followed by a NUL byte; rejects embedded NULs. */
function cString(s: string, what: string): Uint8Array {
  if (s.includes("\0")) {
    throw new FdtError(`${what} must not contain a NUL character`);
  }
  const encoded = utf8.encode(s);
  const out = new Uint8Array(encoded.length + 1);
  out.set(encoded);
  return out;
}

function checkU32(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > U32_MAX) {
    throw new FdtError(`${what} must be an integer in 0..0xffffffff, got ${String(value)}`);
  }
}

function checkU64(value: bigint, what: string): void {
  if (typeof value !== "bigint" || value < 0n || value > U64_MAX) {
    throw new FdtError(`${what} must be a bigint in 0..2^64-1, got ${String(value)}`);
  }
}

/**
 * Checks a node name against the Devicetree Specification (section 2.2.1):
 * `node-name[@unit-address]`, where node-name is 1..31 characters from
 * `[0-9a-zA-Z,._+-]` starting with a letter and the unit address is non-empty
 * and drawn from the same characters. The root node's name is the empty string.
 *
 * @param name the node name to check
 * @param isRoot whether this is the root node (whose name must be empty)
 * @throws FdtError describing the first problem found
 */
export function validateNodeName(name: string, isRoot: boolean): void {
  if (isRoot) {
    if (name !== "") {
      throw new FdtError(`the root node's name must be empty, got "${name}"`);
    }
    return;
  }
  if (name === "") {
    throw new FdtError("node name must not be empty (only the root node has an empty name)");
  }
  const at = name.indexOf("@");
  const base = at < 0 ? name : name.slice(0, at);
  const unit = at < 0 ? undefined : name.slice(at + 1);
  if (base.length === 0) {
    throw new FdtError(`node name "${name}" has an empty node-name before '@'`);
  }
  if (base.length > MAX_NODE_NAME_LENGTH) {
    throw new FdtError(
      `node name "${name}": node-name part is ${base.length} characters, at most ${MAX_NODE_NAME_LENGTH} allowed`,
    );
  }
  if (!NODE_NAME_CHARS.test(base)) {
    throw new FdtError(`node name "${name}" contains a character outside [0-9a-zA-Z,._+-]`);
  }
  if (!/^[a-zA-Z]/.test(base)) {
    throw new FdtError(`node name "${name}" must start with a letter`);
  }
  if (unit !== undefined) {
    if (unit.length === 0) {
      throw new FdtError(`node name "${name}" has an empty unit address after '@'`);
    }
    if (!NODE_NAME_CHARS.test(unit)) {
      throw new FdtError(
        `node name "${name}": unit address contains a character outside [0-9a-zA-Z,._+-]`,
      );
    }
  }
}

/**
 * Checks a property name against the Devicetree Specification (section
 * 2.2.4): 1..31 characters from `[0-9a-zA-Z,._+?#-]`.
 *
 * @param name the property name to check
 * @throws FdtError describing the problem
 */
export function validatePropertyName(name: string): void {
  if (name.length === 0) {
    throw new FdtError("property name must not be empty");
  }
  if (name.length > MAX_PROPERTY_NAME_LENGTH) {
    throw new FdtError(
      `property name "${name}" is ${name.length} characters, at most ${MAX_PROPERTY_NAME_LENGTH} allowed`,
    );
  }
  if (!PROPERTY_NAME_CHARS.test(name)) {
    throw new FdtError(`property name "${name}" contains a character outside [0-9a-zA-Z,._+?#-]`);
  }
}

/** Book-keeping for a node that has been begun but not yet ended. */
interface OpenNode {
  path: string;
  properties: Set<string>;
  children: Set<string>;
}

/** Options for {@link FdtBuilder}. */
export interface FdtBuilderOptions {
  /** Physical id of the boot CPU (header field `boot_cpuid_phys`); default 0. */
  bootCpuidPhys?: number;
}

/**
 * Builds a flattened device tree one node and property at a time.
 *
 * ```ts
 * const fdt = new FdtBuilder();
 * fdt.beginNode("");                 // the root node
 * fdt.propU32("#address-cells", 2);
 * fdt.beginNode("chosen");
 * fdt.propString("bootargs", "console=ttyS0");
 * fdt.endNode();
 * fdt.endNode();
 * const dtb = fdt.finish();
 * ```
 *
 * Within a node, all properties must be added before its first child node
 * (the structure block requires it). Exactly one root node is allowed. Every
 * method throws {@link FdtError} on misuse; methods return `this` so calls can
 * be chained.
 */
export class FdtBuilder {
  private readonly struct = new ByteWriter();
  private readonly strings = new ByteWriter();
  private readonly stringOffsets = new Map<string, number>();
  private readonly stack: OpenNode[] = [];
  private readonly bootCpuidPhys: number;
  private rootDone = false;
  private finished = false;

  /**
   * @param options header options; see {@link FdtBuilderOptions}
   */
  constructor(options: FdtBuilderOptions = {}) {
    const boot = options.bootCpuidPhys ?? 0;
    checkU32(boot, "bootCpuidPhys");
    this.bootCpuidPhys = boot;
  }

  /** Number of nodes currently open (begun and not yet ended). */
  get depth(): number {
    return this.stack.length;
  }

  private checkWritable(): void {
    if (this.finished) {
      throw new FdtError("the device tree has already been finished");
    }
  }

  /**
   * Opens a node as a child of the currently open node, or the root node
   * (name `""`) if no node is open yet.
   *
   * @param name node name, `node-name[@unit-address]`; `""` for the root
   * @throws FdtError if the name is invalid, duplicates a sibling, or a
   *   second root node is begun
   */
  beginNode(name: string): this {
    this.checkWritable();
    const parent = this.stack[this.stack.length - 1];
    if (parent === undefined && this.rootDone) {
      throw new FdtError(`cannot begin node "${name}": the root node has already been ended`);
    }
    validateNodeName(name, parent === undefined);
    let path = "/";
    if (parent !== undefined) {
      if (parent.children.has(name)) {
        throw new FdtError(`duplicate node "${name}" under "${parent.path}"`);
      }
      parent.children.add(name);
      path = parent.path === "/" ? `/${name}` : `${parent.path}/${name}`;
    }
    this.struct.u32(FDT_BEGIN_NODE);
    this.struct.bytes(cString(name, "node name"));
    this.struct.align(4);
    this.stack.push({ path, properties: new Set(), children: new Set() });
    return this;
  }

  /**
   * Closes the most recently opened node.
   *
   * @throws FdtError if no node is open
   */
  endNode(): this {
    this.checkWritable();
    if (this.stack.pop() === undefined) {
      throw new FdtError("endNode() called with no open node (unbalanced nesting)");
    }
    this.struct.u32(FDT_END_NODE);
    if (this.stack.length === 0) this.rootDone = true;
    return this;
  }

  /** Offset of `name` in the strings block, adding it the first time it is used. */
  private stringOffset(name: string): number {
    const known = this.stringOffsets.get(name);
    if (known !== undefined) return known;
    const offset = this.strings.length;
    this.strings.bytes(cString(name, "property name"));
    this.stringOffsets.set(name, offset);
    return offset;
  }

  /**
   * Adds a property with an arbitrary value to the currently open node. All
   * the typed `prop*` methods end up here.
   *
   * @param name property name (validated)
   * @param value raw value bytes; copied
   * @throws FdtError if no node is open, the node already has children, the
   *   name is invalid or already used in this node
   */
  propBytes(name: string, value: Uint8Array): this {
    this.checkWritable();
    const node = this.stack[this.stack.length - 1];
    if (node === undefined) {
      throw new FdtError(`property "${name}" must be added inside a node`);
    }
    validatePropertyName(name);
    if (node.children.size > 0) {
      throw new FdtError(
        `property "${name}" of "${node.path}" must come before the node's child nodes`,
      );
    }
    if (node.properties.has(name)) {
      throw new FdtError(`duplicate property "${name}" in "${node.path}"`);
    }
    node.properties.add(name);
    this.struct.u32(FDT_PROP);
    this.struct.u32(value.length);
    this.struct.u32(this.stringOffset(name));
    this.struct.bytes(value);
    this.struct.align(4);
    return this;
  }

  /**
   * Adds a property with no value (a boolean such as `interrupt-controller`
   * or `ranges` meaning identity mapping).
   *
   * @param name property name
   */
  propEmpty(name: string): this {
    return this.propBytes(name, new Uint8Array(0));
  }

  /**
   * Adds a property holding one 32-bit cell.
   *
   * @param name property name
   * @param value integer in 0..0xffffffff
   */
  propU32(name: string, value: number): this {
    return this.propCells(name, [value]);
  }

  /**
   * Adds a property holding an array of 32-bit cells (`<a b c>` in DTS).
   *
   * @param name property name
   * @param values integers in 0..0xffffffff; may be empty
   */
  propCells(name: string, values: readonly number[]): this {
    const out = new Uint8Array(values.length * 4);
    const view = new DataView(out.buffer);
    values.forEach((v, i) => {
      checkU32(v, `property "${name}" cell ${i}`);
      view.setUint32(i * 4, v, false);
    });
    return this.propBytes(name, out);
  }

  /**
   * Adds a property holding one 64-bit value as two cells, high cell first.
   *
   * @param name property name
   * @param value bigint in 0..2^64-1
   */
  propU64(name: string, value: bigint): this {
    return this.propU64s(name, [value]);
  }

  /**
   * Adds a property holding several 64-bit values, each as two cells (high
   * cell first); e.g. a `reg` of (address, size) pairs when `#address-cells`
   * and `#size-cells` are both 2.
   *
   * @param name property name
   * @param values bigints in 0..2^64-1
   */
  propU64s(name: string, values: readonly bigint[]): this {
    const cells: number[] = [];
    values.forEach((v, i) => {
      checkU64(v, `property "${name}" value ${i}`);
      cells.push(Number(v >> 32n), Number(v & 0xffff_ffffn));
    });
    return this.propCells(name, cells);
  }

  /**
   * Adds a property holding one NUL-terminated string.
   *
   * @param name property name
   * @param value the string (UTF-8 encoded; must not contain NUL)
   */
  propString(name: string, value: string): this {
    return this.propBytes(name, cString(value, `property "${name}"`));
  }

  /**
   * Adds a property holding a list of NUL-terminated strings, e.g. a
   * `compatible` list from most to least specific.
   *
   * @param name property name
   * @param values at least one string; none may contain NUL
   */
  propStrings(name: string, values: readonly string[]): this {
    if (values.length === 0) {
      throw new FdtError(
        `property "${name}": a string list needs at least one string (use propEmpty for no value)`,
      );
    }
    const parts = values.map((v, i) => cString(v, `property "${name}" string ${i}`));
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return this.propBytes(name, out);
  }

  /**
   * Completes the tree and returns the DTB. The builder cannot be used
   * afterwards.
   *
   * @returns the flattened device tree blob
   * @throws FdtError if no root node was written or nodes are still open
   */
  finish(): Uint8Array {
    this.checkWritable();
    if (this.stack.length > 0) {
      const open = this.stack.map((n) => n.path).join(", ");
      throw new FdtError(
        `cannot finish: ${this.stack.length} node(s) still open (unbalanced nesting): ${open}`,
      );
    }
    if (!this.rootDone) {
      throw new FdtError("cannot finish: no root node was written");
    }
    this.finished = true;
    this.struct.u32(FDT_END);

    const rsvmapOffset = FDT_HEADER_SIZE; // 40, already 8-byte aligned
    const rsvmapSize = 16; // only the terminating {address 0, size 0} entry
    const structOffset = rsvmapOffset + rsvmapSize;
    const structSize = this.struct.length;
    const stringsOffset = structOffset + structSize;
    const stringsSize = this.strings.length;
    const totalSize = stringsOffset + stringsSize;

    const out = new ByteWriter();
    out.u32(FDT_MAGIC);
    out.u32(totalSize);
    out.u32(structOffset);
    out.u32(stringsOffset);
    out.u32(rsvmapOffset);
    out.u32(FDT_VERSION);
    out.u32(FDT_LAST_COMP_VERSION);
    out.u32(this.bootCpuidPhys);
    out.u32(stringsSize);
    out.u32(structSize);
    // Memory reservation map: just the terminator (two zero 64-bit values).
    out.u32(0);
    out.u32(0);
    out.u32(0);
    out.u32(0);
    out.bytes(this.struct.toBytes());
    out.bytes(this.strings.toBytes());
    const blob = out.toBytes();
    if (blob.length !== totalSize) {
      throw new FdtError(`internal error: wrote ${blob.length} bytes, expected ${totalSize}`);
    }
    return blob;
  }
}
