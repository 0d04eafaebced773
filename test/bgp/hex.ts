/** Test helpers: byte vectors written as hex with free spacing, and the 16-octet marker. */
export const hex = (text: string): Uint8Array => {
  const clean = text.replace(/\s+/g, "")
  const out = new Uint8Array(clean.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(clean.slice(2 * i, 2 * i + 2), 16)
  return out
}

export const MARKER = "ffffffff ffffffff ffffffff ffffffff"

/** A whole message from its type and body hex, with the header length computed. */
export const frame = (type: number, body: string): Uint8Array => {
  const payload = hex(body)
  const length = 19 + payload.length
  const out = new Uint8Array(length)
  out.set(hex(MARKER))
  out[16] = length >> 8
  out[17] = length & 0xff
  out[18] = type
  out.set(payload, 19)
  return out
}

const u16Hex = (n: number): string => n.toString(16).padStart(4, "0")

/** An UPDATE from its withdrawn-routes, attributes and NLRI hex, with both length fields computed. */
export const update = (withdrawn: string, attributes: string, nlri: string): Uint8Array => {
  const w = hex(withdrawn)
  const a = hex(attributes)
  return frame(2, `${u16Hex(w.length)} ${withdrawn} ${u16Hex(a.length)} ${attributes} ${nlri}`)
}
