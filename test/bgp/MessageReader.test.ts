import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as Arb from "../../src/bgp/Arbitraries.ts"
import { decodeMessage, encodeMessage } from "../../src/bgp/Codec.ts"
import { MessageReader } from "../../src/bgp/MessageReader.ts"
import { hex, MARKER } from "./hex.ts"

describe("MessageReader", () => {
  it("yields the same messages however the stream is chunked", () => {
    fc.assert(
      fc.property(
        fc.array(Arb.encoded.filter(({ options }) => options.extendedMessages !== true), { minLength: 1, maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 600 }), { minLength: 1, maxLength: 50 }),
        (messages, cuts) => {
          const stream = new Uint8Array(messages.reduce((n, m) => n + m.bytes.length, 0))
          let offset = 0
          for (const m of messages) {
            stream.set(m.bytes, offset)
            offset += m.bytes.length
          }
          const reader = new MessageReader()
          const frames: Array<Uint8Array> = []
          let at = 0
          let i = 0
          while (at < stream.length) {
            const size = cuts[i++ % cuts.length] ?? 1
            const result = reader.feed(stream.subarray(at, at + size))
            expect(result.error).toBeUndefined()
            frames.push(...result.frames)
            at += size
          }
          expect(frames).toEqual(messages.map((m) => m.bytes))
          expect(reader.buffered).toBe(0)
        }
      ),
      { numRuns: 300 }
    )
  })

  it("never throws on damaged streams, and every frame it returns decodes without throwing", () => {
    fc.assert(
      fc.property(fc.array(Arb.mutated, { minLength: 1, maxLength: 6 }), fc.integer({ min: 1, max: 300 }), (inputs, size) => {
        const reader = new MessageReader()
        const stream = new Uint8Array(inputs.flatMap(({ bytes }) => [...bytes]))
        let failure: { readonly code: number } | undefined
        for (let at = 0; at < stream.length && failure === undefined; at += size) {
          const { frames, error } = reader.feed(stream.subarray(at, at + size))
          for (const frame of frames) decodeMessage(frame, { fourOctetAs: true })
          failure = error
        }
        // Framing can only fail with a Message Header Error, and then stays failed.
        expect(failure === undefined || failure.code === 1).toBe(true)
        expect(failure === undefined || reader.next()._tag === "FrameError").toBe(true)
      }),
      { numRuns: 300 }
    )
  })

  it("reports a bad marker as soon as the header is complete, and keeps reporting it", () => {
    const reader = new MessageReader()
    const keepalive = encodeMessage({ _tag: "Keepalive" })
    const broken = keepalive.slice()
    broken[0] = 0xfe
    const result = reader.feed(new Uint8Array([...keepalive, ...broken, ...keepalive]))
    expect(result.frames).toEqual([keepalive])
    expect(result.error).toMatchObject({ code: 1, subcode: 1 })
    expect(reader.next()).toMatchObject({ _tag: "FrameError", error: { code: 1, subcode: 1 } })
  })

  it("rejects a header length below 19 or above the maximum without waiting for the body", () => {
    expect(new MessageReader().feed(hex(`${MARKER} 0012 04`)).error).toMatchObject({ code: 1, subcode: 2, data: hex("0012") })
    expect(new MessageReader().feed(hex(`${MARKER} 1001 02`)).error).toMatchObject({ code: 1, subcode: 2, data: hex("1001") })
  })

  it("accepts messages up to 65535 octets once extended messages are switched on", () => {
    const big = encodeMessage({ _tag: "Notification", code: 6, subcode: 2, data: new Uint8Array(10_000) })
    const reader = new MessageReader()
    reader.setExtendedMessages(true)
    expect(reader.feed(big.subarray(0, 5000))).toEqual({ frames: [] })
    expect(reader.feed(big.subarray(5000))).toEqual({ frames: [big] })
    expect(reader.buffered).toBe(0)
  })

  it("waits for more data on partial headers and bodies", () => {
    const reader = new MessageReader()
    const keepalive = encodeMessage({ _tag: "Keepalive" })
    expect(reader.feed(keepalive.subarray(0, 10))).toEqual({ frames: [] })
    expect(reader.next()).toEqual({ _tag: "NeedMore" })
    expect(reader.buffered).toBe(10)
    expect(reader.feed(keepalive.subarray(10))).toEqual({ frames: [keepalive] })
  })
})
