/**
 * Interop of the BGP codec with two other implementations, gobgpd and FRR's bgpd, each a private instance on a
 * loopback port: a session driven by hand (no FSM, no Session: those are other modules) announces packed UPDATEs
 * and checks what the router stored, withdraws them, and an OPEN with the wrong AS gets the router's NOTIFICATION
 * decoded. Needs root (lab convention), gobgpd/gobgp and FRR (/usr/lib/frr/bgpd, vtysh).
 */
import { spawn, spawnSync } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
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

interface Router {
  readonly name: string
  readonly port: number
  /** Ready to accept our connection (idle after a reset otherwise). */
  readonly ready: () => boolean
  /** Prefixes of a family received from us. */
  readonly received: (afi: "ipv4" | "ipv6") => number
  /** What the router shows for one IPv4 and one IPv6 route, as text to search. */
  readonly show: () => string
}

const routerAs = 64512
const ourAs = 4200000000
const basePort = 20000 + (process.pid % 20000) * 2

const dial = async (router: Router): Promise<Peer> => {
  await eventually(router.ready, `${router.name} to accept connections`)
  const socket = connect({ host: "127.0.0.1", port: router.port })
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject))
  return new Peer(socket)
}

const wrongAs = async (router: Router, routerId: number): Promise<void> => {
  const peer = await dial(router)
  peer.send(makeOpen({ asn: 64999, holdTime: 90, bgpIdentifier: 0xc000020b, families: [{ afi: 1, safi: 1 }] }))
  expect(await peer.next()).toMatchObject({ _tag: "Open", myAs: routerAs, bgpIdentifier: routerId })
  expect(await peer.next()).toMatchObject({ _tag: "Notification", code: 2, subcode: 2 })
  peer.socket.destroy()
}

const announceAndWithdraw = async (router: Router): Promise<void> => {
  const peer = await dial(router)
  const local = makeOpen({
    asn: ourAs,
    holdTime: 90,
    bgpIdentifier: 0xc000020b,
    families: [{ afi: 1, safi: 1 }, { afi: 2, safi: 1 }],
    routeRefresh: true,
    gracefulRestart: { restartTime: 120, restarting: false, forwardingPreserved: false }
  })
  peer.send(local)
  const open = await peer.next()
  if (open._tag !== "Open") throw new Error(`expected OPEN, got ${open._tag}`)
  const negotiated = validateOpen(open, { local, peerAs: routerAs })
  if (Result.isFailure(negotiated)) throw new Error(negotiated.failure.message)
  expect(negotiated.success).toMatchObject({ peerAs: routerAs, fourOctetAs: true })
  expect(negotiated.success.families).toEqual([{ afi: 1, safi: 1 }, { afi: 2, safi: 1 }])
  peer.options = negotiated.success.codecOptions
  peer.send({ _tag: "Keepalive" })
  expect(await peer.next()).toEqual({ _tag: "Keepalive" })

  const attributes: Array<PathAttribute> = [
    { _tag: "Origin", value: 0 },
    ...asPathAttributes([ourAs], true),
    { _tag: "Communities", values: [0xfde80064] },
    { _tag: "LargeCommunities", values: [{ globalAdmin: ourAs, localData1: 1, localData2: 2 }] }
  ]
  const v4 = hostPrefixes(4, 768)
  const v6 = hostPrefixes(6, 10_000)
  const packed = packAnnouncements([...v4, ...v6], {
    attributes,
    // A unicast next hop: the routers, like this codec, treat a loopback NEXT_HOP as withdraw.
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
  await eventually(() => router.received("ipv4") === 768 && router.received("ipv6") === 10_000, `all prefixes in ${router.name}`)

  const shown = router.show()
  for (const text of ["4200000000", "192.0.2.11", "2001:db8::b", "65000:100", "4200000000:1:2"]) expect(shown).toContain(text)

  for (const update of packWithdrawals([...v4, ...v6], peer.options)) peer.send(update)
  await eventually(() => router.received("ipv4") === 0 && router.received("ipv6") === 0, `${router.name} to drop all`)
  peer.socket.destroy()
}

const run = (command: string, args: ReadonlyArray<string>): string => {
  const result = spawnSync(command, args, { encoding: "utf8" })
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")}: ${result.stderr}`)
  return result.stdout
}

const stop = (child: ChildProcess | undefined): void => {
  if (child?.pid !== undefined && child.exitCode === null) process.kill(child.pid, "SIGKILL")
}

describe.skipIf(!runLab)("codec interop with gobgpd (lab)", () => {
  let dir = ""
  let gobgpd: ChildProcess | undefined
  const gobgp = (...args: Array<string>): string => run("gobgp", ["--target", `unix://${dir}/api.sock`, ...args])
  const router: Router = {
    name: "gobgpd",
    port: basePort,
    ready: () => {
      // gobgpd's session_state 3 = Active: waiting for our connection.
      const [neighbor] = JSON.parse(gobgp("-j", "neighbor")) as Array<{ state: { session_state?: number } }>
      return neighbor?.state.session_state === 3
    },
    received: (afi) => Number(/Destination: (\d+)/.exec(gobgp("global", "rib", "-a", afi, "summary"))?.[1] ?? -1),
    show: () =>
      gobgp("-j", "global", "rib", "-a", "ipv4", "203.0.113.10/32") +
      gobgp("global", "rib", "-a", "ipv6", "2001:db8:ffff::10/128")
  }

  beforeAll(async () => {
    if (spawnSync("gobgpd", ["--version"]).status !== 0) {
      throw new Error("gobgpd is not installed (apt-get install gobgpd): the lab needs it")
    }
    dir = mkdtempSync(join(tmpdir(), "bgp-codec-gobgp-"))
    writeFileSync(
      join(dir, "gobgpd.toml"),
      `[global.config]
  as = ${routerAs}
  router-id = "192.0.2.1"
  port = ${router.port}
  local-address-list = ["127.0.0.1"]
[[neighbors]]
  [neighbors.config]
    neighbor-address = "127.0.0.1"
    peer-as = ${ourAs}
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
    stop(gobgpd)
    if (dir !== "") rmSync(dir, { recursive: true, force: true })
  })

  it("decodes gobgpd's OPEN and its Bad Peer AS NOTIFICATION for an OPEN with the wrong AS", async () => {
    await expect(wrongAs(router, 0xc0000201)).resolves.toBeUndefined()
  })

  it("establishes, announces 768 IPv4 and 10,000 IPv6 prefixes in packed UPDATEs with End-of-RIB, and withdraws them", async () => {
    await expect(announceAndWithdraw(router)).resolves.toBeUndefined()
  })
})

describe.skipIf(!runLab)("codec interop with FRR bgpd (lab)", () => {
  let dir = ""
  let bgpd: ChildProcess | undefined
  const vtysh = (command: string): string => run("vtysh", ["--vty_socket", join(dir, "run"), "-d", "bgpd", "-c", command])
  const neighbor = (): { bgpState?: string } =>
    (JSON.parse(vtysh("show bgp neighbors 127.0.0.1 json")) as Record<string, { bgpState?: string }>)["127.0.0.1"] ?? {}
  const router: Router = {
    name: "FRR bgpd",
    port: basePort + 1,
    ready: () => {
      try {
        return neighbor().bgpState === "Active"
      } catch {
        return false
      }
    },
    received: (afi) => {
      const summary = JSON.parse(vtysh(`show bgp ${afi} unicast summary json`)) as {
        peers?: Record<string, { pfxRcd?: number }>
      }
      return summary.peers?.["127.0.0.1"]?.pfxRcd ?? -1
    },
    show: () =>
      vtysh("show bgp ipv4 unicast 203.0.113.10/32 json") + vtysh("show bgp ipv6 unicast 2001:db8:ffff::10/128 json")
  }

  beforeAll(async () => {
    if (spawnSync("/usr/lib/frr/bgpd", ["--version"]).status !== 0) {
      throw new Error("FRR is not installed (apt-get install frr): the lab needs /usr/lib/frr/bgpd")
    }
    dir = mkdtempSync(join(tmpdir(), "bgp-codec-frr-"))
    // bgpd drops to the frr user: it must traverse the directory, own the socket directory and read the config.
    chmodSync(dir, 0o755)
    mkdirSync(join(dir, "run"))
    const frr = (name: string) => Number(run("id", ["-u", name]).trim())
    const frrGroup = Number(run("id", ["-g", "frr"]).trim())
    chownSync(join(dir, "run"), frr("frr"), frrGroup)
    writeFileSync(
      join(dir, "bgpd.conf"),
      `frr defaults traditional
hostname bgp-codec-lab
log stdout informational
!
router bgp ${routerAs}
 bgp router-id 192.0.2.1
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor 127.0.0.1 remote-as ${ourAs}
 neighbor 127.0.0.1 passive
 address-family ipv4 unicast
  neighbor 127.0.0.1 activate
 exit-address-family
 address-family ipv6 unicast
  neighbor 127.0.0.1 activate
 exit-address-family
!
`
    )
    chownSync(join(dir, "bgpd.conf"), 0, frrGroup)
    chmodSync(join(dir, "bgpd.conf"), 0o640)
    bgpd = spawn(
      "/usr/lib/frr/bgpd",
      [
        "-f", join(dir, "bgpd.conf"),
        "-i", join(dir, "run", "bgpd.pid"),
        "-z", join(dir, "run", "zserv.api"),
        "--vty_socket", join(dir, "run"),
        "-P", "0",
        "-u", "frr",
        "-g", "frr",
        "-Z",
        "-p", String(router.port),
        "-l", "127.0.0.1"
      ],
      { stdio: "ignore" }
    )
    await eventually(router.ready, "FRR bgpd")
  })

  afterAll(() => {
    stop(bgpd)
    if (dir !== "") rmSync(dir, { recursive: true, force: true })
  })

  it("decodes FRR's OPEN and its Bad Peer AS NOTIFICATION for an OPEN with the wrong AS", async () => {
    await expect(wrongAs(router, 0xc0000201)).resolves.toBeUndefined()
  })

  it("establishes, announces 768 IPv4 and 10,000 IPv6 prefixes in packed UPDATEs with End-of-RIB, and withdraws them", async () => {
    await expect(announceAndWithdraw(router)).resolves.toBeUndefined()
  })
})
