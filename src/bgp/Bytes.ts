/**
 * Big-endian byte helpers for the codec. Reads assume the caller checked bounds (the decoders always do before
 * reading); `?? 0` only satisfies `noUncheckedIndexedAccess`.
 *
 * @since 0.1.0
 */

export const u8 = (b: Uint8Array, i: number): number => b[i] ?? 0
export const u16 = (b: Uint8Array, i: number): number => ((b[i] ?? 0) << 8) | (b[i + 1] ?? 0)
export const u32 = (b: Uint8Array, i: number): number =>
  (b[i] ?? 0) * 0x1000000 + (((b[i + 1] ?? 0) << 16) | ((b[i + 2] ?? 0) << 8) | (b[i + 3] ?? 0))

/** A growable output buffer. */
export class ByteWriter {
  buf: Uint8Array
  pos = 0

  constructor(initialCapacity = 256) {
    this.buf = new Uint8Array(initialCapacity)
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.pos + n) size *= 2
    const next = new Uint8Array(size)
    next.set(this.buf.subarray(0, this.pos))
    this.buf = next
  }

  u8(v: number): void {
    this.ensure(1)
    this.buf[this.pos++] = v & 0xff
  }

  u16(v: number): void {
    this.ensure(2)
    this.buf[this.pos++] = (v >>> 8) & 0xff
    this.buf[this.pos++] = v & 0xff
  }

  u32(v: number): void {
    this.ensure(4)
    this.buf[this.pos++] = (v >>> 24) & 0xff
    this.buf[this.pos++] = (v >>> 16) & 0xff
    this.buf[this.pos++] = (v >>> 8) & 0xff
    this.buf[this.pos++] = v & 0xff
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length)
    this.buf.set(b, this.pos)
    this.pos += b.length
  }

  /** Writes `n` zero bytes and returns where they start, to be patched once a length is known. */
  reserve(n: number): number {
    this.ensure(n)
    const at = this.pos
    this.buf.fill(0, at, at + n)
    this.pos += n
    return at
  }

  patch16(at: number, v: number): void {
    this.buf[at] = (v >>> 8) & 0xff
    this.buf[at + 1] = v & 0xff
  }

  patch8(at: number, v: number): void {
    this.buf[at] = v & 0xff
  }

  /** Moves `buf[from, pos)` one byte right, to widen a 1-octet length field into 2 octets after the fact. */
  shiftRight(from: number): void {
    this.ensure(1)
    this.buf.copyWithin(from + 1, from, this.pos)
    this.pos++
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.pos)
  }
}
