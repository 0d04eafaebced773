/**
 * Big-endian field access on `Uint8Array`s for the codecs of this folder (callers check lengths first; a read past
 * the end yields 0 rather than `undefined`).
 *
 * @since 0.1.0
 */

export const u8 = (b: Uint8Array, i: number): number => b[i] ?? 0

export const u16 = (b: Uint8Array, i: number): number => ((b[i] ?? 0) << 8) | (b[i + 1] ?? 0)

export const u32 = (b: Uint8Array, i: number): number =>
  (((b[i] ?? 0) << 24) >>> 0) + (((b[i + 1] ?? 0) << 16) | ((b[i + 2] ?? 0) << 8) | (b[i + 3] ?? 0))

export const put16 = (b: Uint8Array, i: number, v: number): void => {
  b[i] = (v >>> 8) & 0xff
  b[i + 1] = v & 0xff
}

export const put32 = (b: Uint8Array, i: number, v: number): void => {
  b[i] = (v >>> 24) & 0xff
  b[i + 1] = (v >>> 16) & 0xff
  b[i + 2] = (v >>> 8) & 0xff
  b[i + 3] = v & 0xff
}

/** A copy, so decoded values never alias a receive buffer the caller may reuse. */
export const copy = (b: Uint8Array, start: number, end: number): Uint8Array => b.slice(start, end)
