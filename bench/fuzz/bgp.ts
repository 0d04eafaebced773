/**
 * Fuzzes the BGP codec: valid messages from the arbitraries, mutated ones, random bytes behind a valid header and
 * plain noise, through `decodeMessage` and (one in 16) through `MessageReader` in random chunks; decoded OPENs also
 * go through `validateOpen`. A crash is any
 * exception; an oracle failure is a message that decoded cleanly but does not survive encode → decode unchanged.
 * Prints a table of outcomes (decoded kinds, RFC 7606 issues, NOTIFICATION code/subcode) and, last, one JSON line.
 *
 *   npm run fuzz -- bgp [--count 1000000] [--seed 1] [--corpus 2000]
 */
import * as fc from "fast-check"
import { Result } from "effect"
import { encoded, encodedUpdate, mutate, prng } from "../../src/bgp/Arbitraries.ts"
import { decodeMessage, encodeMessage } from "../../src/bgp/Codec.ts"
import type { CodecOptions } from "../../src/bgp/Codec.ts"
import { MessageReader } from "../../src/bgp/MessageReader.ts"
import { makeOpen, validateOpen } from "../../src/bgp/Negotiation.ts"
import { describe } from "../../src/bgp/Notification.ts"

const flag = (args: ReadonlyArray<string>, name: string, fallback: number): number => {
  const at = args.indexOf(`--${name}`)
  const value = at >= 0 ? Number(args[at + 1]) : fallback
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`--${name} needs a non-negative integer`)
  return value
}

const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex")

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i])

/** The NOTIFICATION name of an outcome key ending in `code/subcode`. */
/** The local side decoded OPENs are checked against, so the OPEN semantic errors show up in the table too. */
const local = makeOpen({ asn: 64512, holdTime: 90, bgpIdentifier: 0xc0000201, families: [{ afi: 1, safi: 1 }] })

const label = (key: string): string => {
  const match = /(\d+)\/(\d+)$/.exec(key)
  return match === null ? "" : describe(Number(match[1]), Number(match[2]))
}

export const main = (args: ReadonlyArray<string>): number => {
  const count = flag(args, "count", 1_000_000)
  const seed = flag(args, "seed", 1)
  const corpusSize = Math.max(1, flag(args, "corpus", 2000))
  const random = prng(seed)
  const int = (n: number) => Math.floor(random() * n)

  const corpusStarted = performance.now()
  // Half of the corpus is UPDATEs: they carry most of the parsing (attributes, NLRI, RFC 7606 decisions).
  const corpus = [
    ...fc.sample(encoded, { numRuns: Math.ceil(corpusSize / 2), seed }),
    ...fc.sample(encodedUpdate, { numRuns: Math.floor(corpusSize / 2), seed: seed + 1 })
  ]
  const corpusSeconds = (performance.now() - corpusStarted) / 1000

  const outcomes = new Map<string, number>()
  const tally = (key: string) => outcomes.set(key, (outcomes.get(key) ?? 0) + 1)
  const crashes: Array<string> = []
  const oracleFailures: Array<string> = []
  let decoded = 0
  let rejected = 0
  let readerRuns = 0

  const check = (bytes: Uint8Array, options: CodecOptions): void => {
    const result = decodeMessage(bytes, options)
    if (Result.isFailure(result)) {
      rejected++
      tally(`notification ${result.failure.code}/${result.failure.subcode}`)
      return
    }
    decoded++
    const message = result.success
    tally(`decoded ${message._tag}`)
    if (message._tag === "Open") {
      const checked = validateOpen(message, {
        local,
        minHoldTime: 9,
        requiredCapabilities: [{ _tag: "Multiprotocol", afi: 1, safi: 1 }]
      })
      tally(Result.isSuccess(checked) ? "validateOpen ok" : `validateOpen ${checked.failure.code}/${checked.failure.subcode}`)
    }
    if (message._tag === "Update" && message.issues !== undefined) {
      for (const issue of message.issues) tally(`${issue.action} ${issue.code}/${issue.subcode}`)
      return
    }
    // Oracle: a cleanly decoded message re-encodes to bytes that decode to the same message again.
    const once = encodeMessage(message, options)
    const again = decodeMessage(once, options)
    if (Result.isFailure(again) || !sameBytes(encodeMessage(again.success, options), once)) {
      if (oracleFailures.length < 5) oracleFailures.push(toHex(bytes))
      else oracleFailures.length++
    }
  }

  const started = performance.now()
  for (let i = 0; i < count; i++) {
    const source = corpus[int(corpus.length)] ?? { bytes: new Uint8Array(0), options: { fourOctetAs: false } }
    const pick = random()
    let bytes: Uint8Array
    let options = source.options
    if (pick < 0.1) {
      bytes = source.bytes
    } else if (pick < 0.8) {
      bytes = mutate(source.bytes, random)
    } else if (pick < 0.9) {
      // Noise behind a well-formed header, so the body parsers of every type see it.
      const length = 19 + int(200)
      bytes = new Uint8Array(length).map(() => int(256))
      bytes.fill(0xff, 0, 16)
      bytes[16] = length >> 8
      bytes[17] = length & 0xff
      bytes[18] = 1 + int(5)
      options = { fourOctetAs: random() < 0.5, extendedMessages: random() < 0.5 }
    } else {
      bytes = new Uint8Array(int(64)).map(() => int(256))
    }
    try {
      check(bytes, options)
      if ((i & 15) === 0) {
        readerRuns++
        const reader = new MessageReader()
        reader.setExtendedMessages(options.extendedMessages === true)
        for (let at = 0; at < bytes.length; ) {
          const size = 1 + int(64)
          const { frames, error } = reader.feed(bytes.subarray(at, at + size))
          for (const frame of frames) decodeMessage(frame, options)
          if (error !== undefined) break
          at += size
        }
      }
    } catch (cause) {
      if (crashes.length < 5) crashes.push(`${toHex(bytes)}: ${String(cause)}`)
      else crashes.length++
    }
  }
  const seconds = (performance.now() - started) / 1000

  const rows = [...outcomes.entries()].toSorted((a, b) => b[1] - a[1])
  console.log(`bgp fuzz: ${count} inputs, seed ${seed}, corpus ${corpus.length} (built in ${corpusSeconds.toFixed(1)} s)`)
  console.log("")
  console.log(`${"outcome".padEnd(34)} ${"count".padStart(9)} ${"share".padStart(7)}  meaning`)
  for (const [key, n] of rows) {
    console.log(`${key.padEnd(34)} ${String(n).padStart(9)} ${((100 * n) / count).toFixed(2).padStart(6)}%  ${label(key)}`)
  }
  console.log("")
  console.log(`decoded ${decoded}, rejected with a NOTIFICATION ${rejected}, reader runs ${readerRuns}`)
  console.log(`crashes ${crashes.length}, oracle failures ${oracleFailures.length}`)
  for (const crash of crashes.slice(0, 5)) console.log(`  crash: ${crash}`)
  for (const failure of oracleFailures.slice(0, 5)) console.log(`  oracle: ${failure}`)
  console.log(`${seconds.toFixed(1)} s, ${Math.round(count / seconds)} inputs/s`)
  console.log(
    JSON.stringify({
      bench: "fuzz-bgp",
      count,
      seed,
      corpus: corpus.length,
      seconds: Number(seconds.toFixed(2)),
      perSecond: Math.round(count / seconds),
      decoded,
      rejected,
      readerRuns,
      crashes: crashes.length,
      oracleFailures: oracleFailures.length,
      outcomes: Object.fromEntries(rows)
    })
  )
  return crashes.length === 0 && oracleFailures.length === 0 ? 0 : 1
}
