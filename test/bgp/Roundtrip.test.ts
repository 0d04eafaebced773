import * as fc from "fast-check"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import * as Arb from "../../src/bgp/Arbitraries.ts"
import { decodeMessage, encodeMessage } from "../../src/bgp/Codec.ts"
import { MessageReader } from "../../src/bgp/MessageReader.ts"

describe("decode ∘ encode", () => {
  it("is the identity for every generated message and option set", () => {
    fc.assert(
      fc.property(Arb.codecOptions.chain((options) => fc.tuple(fc.constant(options), Arb.message(options))), ([options, message]) => {
        const decoded = decodeMessage(encodeMessage(message, options), options)
        expect(Result.isSuccess(decoded) ? decoded.success : decoded.failure).toEqual(message)
      }),
      { numRuns: 2000 }
    )
  })

  it("encode ∘ decode is the identity on encoded bytes", () => {
    fc.assert(
      fc.property(Arb.encoded, ({ bytes, options }) => {
        const decoded = decodeMessage(bytes, options)
        if (Result.isFailure(decoded)) throw decoded.failure
        expect(encodeMessage(decoded.success, options)).toEqual(bytes)
      }),
      { numRuns: 500 }
    )
  })

  it("decode never throws on mutated messages", () => {
    fc.assert(
      fc.property(Arb.mutated, ({ bytes, options }) => {
        const decoded = decodeMessage(bytes, options)
        expect(Result.isSuccess(decoded) || decoded.failure._tag === "BgpDecodeError").toBe(true)
      }),
      { numRuns: 3000 }
    )
  })
})

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
})
