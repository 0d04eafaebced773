/**
 * Interop of the BGP codec with GoBGP, a second implementation: a session driven by hand over loopback (no FSM,
 * no Session: those are other modules) announces packed UPDATEs and checks what gobgpd stored; a wrong AS gets
 * gobgpd's NOTIFICATION decoded. Needs root (lab convention) and gobgpd/gobgp on PATH.
 */
import { spawn, spawnSync } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { connect } from "node:net"
import type { Socket } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Result } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { asPathAttributes } from "../../src/bgp/Attributes.ts"
import { decodeMessage, encodeMessage, endOfRib } from "../../src/bgp/Codec.ts"
import type { CodecOptions } from "../../src/bgp/Codec.ts"
import type { BgpMessage, PathAttribute } from "../../src/bgp/Message.ts"
import { MessageReader } from "../../src/bgp/MessageReader.ts"
import { makeOpen, validateOpen } from "../../src/bgp/Negotiation.ts"
import * as Prefix from "../../src/bgp/Prefix.ts"
import { packAnnouncements, packWithdrawals } from "../../src/bgp/UpdatePacker.ts"

const isRoot = process.getuid?.() === 0
const runLab = isRoot || process.env["CI"] === "true"

/** A hand-driven BGP connection: decodes every incoming frame and hands messages out in order. */
class Peer {
  private readonly reader = new MessageReader()
  private readonly inbox: Array<BgpMessage> = []
  private failure: string | undefined
  private waiter: (() => void) | undefined
  readonly socket: Socket
  options: CodecOptions = { fourOctetAs: false }
  closed = false

  constructor(socket: Socket) {
    this.socket = socket
    socket.on("data", (chunk: Buffer) => {
      const { frames, error } = this.reader.feed(chunk)
      for (const frame of frames) {
        const decoded = decodeMessage(frame, this.options)
        if (Result.isFailure(decoded)) this.failure ??= decoded.failure.message
        else this.inbox.push(decoded.success)
      }
      if (error !== undefined) this.failure ??= error.message
      this.waiter?.()
    })
    socket.on("close", () => {
      this.closed = true
      this.waiter?.()
    })
  }

  send(message: BgpMessage): void {
    this.socket.write(encodeMessage(message, this.options))
  }

  async next(timeoutMs = 10_000): Promise<BgpMessage> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      if (this.failure !== undefined) throw new Error(`gobgpd sent something we cannot decode: ${this.failure}`)
      const message = this.inbox.shift()
      if (message !== undefined) return message
      if (this.closed) throw new Error("connection closed")
      if (Date.now() > deadline) throw new Error("timed out waiting for a message")
      await new Promise<void>((resolve) => {
        this.waiter = resolve
        setTimeout(resolve, 200)
      })
    }
  }
}

const eventually = async (check: () => boolean, what: string): Promise<void> => {
  const deadline = Date.now() + 15_000
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

const hostPrefixes = (family: 4 | 6, count: number): Array<Prefix.Prefix> => {
  if (family === 4) {
    // Every /32 of the three IPv4 documentation networks.
    return [[192, 0, 2], [198, 51, 100], [203, 0, 113]].flatMap((net) =>
      Array.from({ length: 256 }, (_, host) => Prefix.make(4, Uint8Array.of(...net, host), 32))
    ).slice(0, count)
  }
  return Array.from({ length: count }, (_, i) => {
    const bytes = new Uint8Array(16)
    bytes.set([0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff])
    bytes[14] = i >> 8
    bytes[15] = i & 0xff
    return Prefix.make(6, bytes, 128)
  })
}

describe.skipIf(!runLab)("codec interop with gobgpd (lab)", () => {
  let dir = ""
  let gobgpd: ChildProcess | undefined
  const port = 20000 + (process.pid % 20000)
  const gobgp = (...args: Array<string>): string => {
    const result = spawnSync("gobgp", ["--target", `unix://${dir}/api.sock`, ...args], { encoding: "utf8" })
    if (result.status !== 0) throw new Error(`gobgp ${args.join(" ")}: ${result.stderr}`)
    return result.stdout
  }
  const count = (afi: "ipv4" | "ipv6"): number => {
    const match = /Destination: (\d+)/.exec(gobgp("global", "rib", "-a", afi, "summary"))
    return Number(match?.[1] ?? -1)
  }

  beforeAll(async () => {
    if (spawnSync("gobgpd", ["--version"]).status !== 0) {
      throw new Error("gobgpd is not installed (apt-get install gobgpd): the lab needs it")
    }
    dir = mkdtempSync(join(tmpdir(), "bgp-codec-gobgp-"))
    writeFileSync(
      join(dir, "gobgpd.toml"),
      `[global.config]
  as = 64512
  router-id = "192.0.2.1"
  port = ${port}
  local-address-list = ["127.0.0.1"]
[[neighbors]]
  [neighbors.config]
    neighbor-address = "127.0.0.1"
    peer-as = 4200000000
  [neighbors.transport.config]
    passive-mode = true
  [neighbors.timers.config]
    idle-hold-time-after-reset = 1
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv6-unicast"
`
    )
    gobgpd = spawn(
      "gobgpd",
      ["-f", join(dir, "gobgpd.toml"), "--api-hosts", `unix://${dir}/api.sock`, "--pprof-disable", "-p", "-l", "warn"],
      { stdio: "ignore" }
    )
    await eventually(() => spawnSync("gobgp", ["--target", `unix://${dir}/api.sock`, "neighbor"]).status === 0, "gobgpd API")
  })

  afterAll(() => {
    if (gobgpd?.pid !== undefined && gobgpd.exitCode === null) process.kill(gobgpd.pid, "SIGKILL")
    if (dir !== "") rmSync(dir, { recursive: true, force: true })
  })

  /** gobgpd's session state for us: 3 = Active (waiting for a connection), 6 = Established. */
  const sessionState = (): number => {
    const [neighbor] = JSON.parse(gobgp("-j", "neighbor")) as Array<{ state: { session_state?: number } }>
    return neighbor?.state.session_state ?? 0
  }

  const dial = async (): Promise<Peer> => {
    await eventually(() => sessionState() === 3, "gobgpd to accept connections")
    const socket = connect({ host: "127.0.0.1", port })
    await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject))
    return new Peer(socket)
  }

  it("decodes gobgpd's OPEN and its Bad Peer AS NOTIFICATION for an OPEN with the wrong AS", async () => {
    const peer = await dial()
    peer.send(makeOpen({ asn: 64999, holdTime: 90, bgpIdentifier: 0xc000020b, families: [{ afi: 1, safi: 1 }] }))
    expect(await peer.next()).toMatchObject({ _tag: "Open", myAs: 64512, holdTime: 90, bgpIdentifier: 0xc0000201 })
    expect(await peer.next()).toMatchObject({ _tag: "Notification", code: 2, subcode: 2 })
    peer.socket.destroy()
  })

  it("establishes, announces 768 IPv4 and 10,000 IPv6 prefixes in packed UPDATEs with End-of-RIB, and withdraws them", async () => {
    const peer = await dial()
    const socket = peer.socket
    const local = makeOpen({
      asn: 4200000000,
      holdTime: 90,
      bgpIdentifier: 0xc000020b,
      families: [{ afi: 1, safi: 1 }, { afi: 2, safi: 1 }],
      routeRefresh: true,
      gracefulRestart: { restartTime: 120, restarting: false, forwardingPreserved: false }
    })
    peer.send(local)
    const open = await peer.next()
    expect(open._tag).toBe("Open")
    if (open._tag !== "Open") return
    const negotiated = validateOpen(open, { local, peerAs: 64512 })
    if (Result.isFailure(negotiated)) throw new Error(negotiated.failure.message)
    expect(negotiated.success).toMatchObject({ peerAs: 64512, fourOctetAs: true, holdTime: 90 })
    expect(negotiated.success.families).toEqual([{ afi: 1, safi: 1 }, { afi: 2, safi: 1 }])
    peer.options = negotiated.success.codecOptions
    peer.send({ _tag: "Keepalive" })
    expect(await peer.next()).toEqual({ _tag: "Keepalive" })

    const attributes: Array<PathAttribute> = [
      { _tag: "Origin", value: 0 },
      ...asPathAttributes([4200000000], true),
      { _tag: "Communities", values: [0xfde80064] },
      { _tag: "LargeCommunities", values: [{ globalAdmin: 4200000000, localData1: 1, localData2: 2 }] }
    ]
    const v4 = hostPrefixes(4, 768)
    const v6 = hostPrefixes(6, 10_000)
    const packed = packAnnouncements([...v4, ...v6], {
      attributes,
      // A unicast next hop: gobgpd, like this codec, treats a loopback NEXT_HOP as withdraw.
      nextHopIpv4: Uint8Array.of(192, 0, 2, 11),
      nextHopIpv6: Prefix.make(6, Uint8Array.of(0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0b), 128).bytes
    }, peer.options)
    if (Result.isFailure(packed)) throw new Error(packed.failure.message)
    // 768 /32s fit one classic UPDATE. The /128s get 4096 - 23 (header, lengths) - 35 (ORIGIN 4, AS_PATH 9,
    // COMMUNITIES 7, LARGE_COMMUNITY 15) - 25 (MP_REACH header, AFI/SAFI, next hop) = 4013 octets, 236 per UPDATE.
    expect(packed.success).toHaveLength(1 + Math.ceil(10_000 / Math.floor(4013 / 17)))
    for (const update of packed.success) peer.send(update)
    peer.send(endOfRib(1, 1))
    peer.send(endOfRib(2, 1))
    await eventually(() => count("ipv4") === 768 && count("ipv6") === 10_000, "all prefixes in gobgpd's RIB")

    const route = JSON.parse(gobgp("-j", "global", "rib", "-a", "ipv4", "203.0.113.10/32")) as Record<string, unknown>
    const text = JSON.stringify(route)
    expect(text).toContain("4200000000")
    expect(text).toContain("192.0.2.11")
    const shown = gobgp("global", "rib", "-a", "ipv6", "2001:db8:ffff::10/128")
    expect(shown).toContain("2001:db8::b")
    expect(shown).toContain("65000:100")
    expect(shown).toContain("4200000000:1:2")

    for (const update of packWithdrawals([...v4, ...v6], peer.options)) peer.send(update)
    await eventually(() => count("ipv4") === 0 && count("ipv6") === 0, "all prefixes withdrawn")

    socket.destroy()
  })
})
