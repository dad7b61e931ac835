// Arena allocator over a WebAssembly.Memory (optimized for few, long-lived buffers): 16-byte
// aligned blocks in [base, limit), first-fit free list with coalescing, grows the memory on
// demand. It hands out byte offsets; views are made by the caller from `memory.buffer` AFTER
// allocating (a grow replaces memory.buffer; on a shared memory old views stay valid).

import './webassembly-types.js';

const ALIGN = 16;
const PAGE = 65536;

export class ArenaError extends Error {}

export class Arena {
  /** Free blocks, sorted by offset, never adjacent (coalesced). */
  private readonly freeList: { off: number; size: number }[] = [];
  /** Live blocks: offset → size in bytes. */
  private readonly live = new Map<number, number>();
  /** First byte never handed out. */
  private top: number;

  /**
   * @param memory the linear memory (shared or not)
   * @param base first byte this arena may use (rounded up to 16)
   * @param limit one past the last byte it may use (default: the memory's maximum, 4 GiB)
   */
  constructor(readonly memory: WebAssembly.Memory, readonly base: number, readonly limit = 65536 * PAGE) {
    this.top = Math.ceil(base / ALIGN) * ALIGN;
    if (this.top > limit) throw new ArenaError(`arena base ${base} is above its limit ${limit}`);
  }

  /** Allocates `bytes` (rounded up to 16), zero-filled unless `zero` is false. Returns the byte offset. */
  alloc(bytes: number, zero = true): number {
    const size = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
    for (let i = 0; i < this.freeList.length; i++) {
      const b = this.freeList[i];
      if (b.size >= size) {
        const off = b.off;
        if (b.size === size) this.freeList.splice(i, 1);
        else { b.off += size; b.size -= size; }
        this.live.set(off, size);
        if (zero) new Uint8Array(this.memory.buffer, off, size).fill(0);
        return off;
      }
    }
    const off = this.top;
    if (off + size > this.limit) {
      throw new ArenaError(`out of wasm memory: ${size} bytes requested, arena [${this.base}, ${this.limit}) has ${this.limit - off} left at the top`);
    }
    this.ensure(off + size);
    this.top = off + size;
    this.live.set(off, size);
    // Memory past the old top may hold data from blocks freed and trimmed: zero it.
    if (zero) new Uint8Array(this.memory.buffer, off, size).fill(0);
    return off;
  }

  /** Size in bytes of the live block at `off`, or 0 when it is not one. */
  sizeOf(off: number): number {
    return this.live.get(off) ?? 0;
  }

  /** Frees the block at `off` (from alloc). Freeing an unknown offset throws. */
  free(off: number): void {
    const size = this.live.get(off);
    if (size === undefined) throw new ArenaError(`free of ${off}: not a live block of this arena`);
    this.live.delete(off);
    if (off + size === this.top) {
      this.top = off;
      // Absorb a free block that now ends at the top.
      const last = this.freeList[this.freeList.length - 1];
      if (last && last.off + last.size === this.top) {
        this.top = last.off;
        this.freeList.pop();
      }
      return;
    }
    let i = 0;
    while (i < this.freeList.length && this.freeList[i].off < off) i++;
    const prev = this.freeList[i - 1];
    const next = this.freeList[i];
    if (prev && prev.off + prev.size === off) {
      prev.size += size;
      if (next && prev.off + prev.size === next.off) {
        prev.size += next.size;
        this.freeList.splice(i, 1);
      }
    } else if (next && off + size === next.off) {
      next.off = off;
      next.size += size;
    } else {
      this.freeList.splice(i, 0, { off, size });
    }
  }

  /** Bytes currently handed out. */
  get used(): number {
    let s = 0;
    for (const v of this.live.values()) s += v;
    return s;
  }

  /** One past the highest byte ever needed so far (the arena's high-water mark). */
  get end(): number {
    return this.top;
  }

  /** Grows the memory so that [0, end) is addressable. */
  ensure(end: number): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    const pages = Math.ceil((end - have) / PAGE);
    try {
      this.memory.grow(pages);
    } catch (e) {
      throw new ArenaError(`cannot grow wasm memory by ${pages} pages to ${end} bytes: ${(e as Error).message}`);
    }
  }
}
