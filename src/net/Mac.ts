/**
 * 48-bit MAC addresses: six bytes, written `02:00:00:00:00:11`.
 *
 * @since 0.1.0
 */
export type Mac = Uint8Array

export const broadcast: Mac = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff])

export const parse = (text: string): Mac | undefined => {
  const parts = text.split(/[:-]/)
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{2}$/.test(p))) return undefined
  return new Uint8Array(parts.map((p) => parseInt(p, 16)))
}

export const format = (mac: Mac): string => Array.from(mac, (b) => b.toString(16).padStart(2, "0")).join(":")

export const equals = (a: Mac, b: Mac): boolean => a.length === b.length && a.every((byte, i) => byte === b[i])
