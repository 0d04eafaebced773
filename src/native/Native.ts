/**
 * Typed access to the project's N-API addon (`native/`): AF_PACKET sockets with classic BPF filters, TCP_MD5SIG,
 * integer socket options and interface facts. Every call returns an Effect; a failing system call becomes a
 * {@link NativeError} carrying the errno name (`ENODEV`, `EPERM`, ...), so callers can match on `code`.
 *
 * @since 0.1.0
 */
import binding from "@metallb-ts/native"
import { Effect, Schema } from "effect"

/** A failed system call of the addon, with its errno name. */
export class NativeError extends Schema.TaggedError<NativeError>()("NativeError", {
  syscall: Schema.String,
  code: Schema.String,
  errno: Schema.Number,
  detail: Schema.optional(Schema.String),
  message: Schema.String
}) {}

const toNativeError = (syscall: string) => (cause: unknown): NativeError => {
  const error = cause as { code?: unknown; errno?: unknown; syscall?: unknown; detail?: unknown; message?: unknown }
  const code = typeof error.code === "string" ? error.code : "EUNKNOWN"
  const detail = typeof error.detail === "string" ? error.detail : undefined
  return new NativeError({
    syscall: typeof error.syscall === "string" ? error.syscall : syscall,
    code,
    errno: typeof error.errno === "number" ? error.errno : 0,
    ...(detail === undefined ? {} : { detail }),
    message: typeof error.message === "string" ? error.message : `${syscall} failed: ${String(cause)}`
  })
}

const call = <A>(syscall: string, f: () => A): Effect.Effect<A, NativeError> =>
  Effect.try({ try: f, catch: toNativeError(syscall) })

/** Numeric constants of the host (socket levels, option names, interface flags, packet types). */
export const constants = binding.constants as Readonly<{
  IPPROTO_IP: number
  IPPROTO_IPV6: number
  IPPROTO_TCP: number
  SOL_SOCKET: number
  IP_TTL: number
  IP_MINTTL: number
  IPV6_UNICAST_HOPS: number
  IPV6_MINHOPCOUNT: number
  SO_RCVBUF: number
  /** SO_RCVBUF beyond `net.core.rmem_max` (needs CAP_NET_ADMIN). */
  SO_RCVBUFFORCE: number
  IFF_UP: number
  IFF_BROADCAST: number
  IFF_LOOPBACK: number
  IFF_NOARP: number
  IFF_RUNNING: number
  PACKET_HOST: number
  PACKET_BROADCAST: number
  PACKET_MULTICAST: number
  PACKET_OTHERHOST: number
  /** Bit set in a received frame's packet type when the reader already answered it (see `answerArp`). */
  PACKET_ANSWERED: number
}>

/** Interface facts that `os.networkInterfaces()` does not give (it omits interfaces without addresses). */
export interface InterfaceFacts {
  readonly name: string
  readonly index: number
  readonly mac: Uint8Array
  readonly flags: number
  readonly mtu: number
  readonly up: boolean
  readonly broadcast: boolean
  readonly noArp: boolean
  readonly loopback: boolean
}

export const interfaceInfo = (name: string): Effect.Effect<InterfaceFacts, NativeError> =>
  call("if_nametoindex", () => {
    const facts = binding.interfaceInfo(name)
    return {
      name,
      index: facts.index,
      mac: new Uint8Array(facts.mac),
      flags: facts.flags,
      mtu: facts.mtu,
      up: (facts.flags & constants.IFF_UP) !== 0,
      broadcast: (facts.flags & constants.IFF_BROADCAST) !== 0,
      noArp: (facts.flags & constants.IFF_NOARP) !== 0,
      loopback: (facts.flags & constants.IFF_LOOPBACK) !== 0
    }
  })

/** One classic BPF instruction (`struct sock_filter`). */
export interface BpfInstruction {
  readonly code: number
  readonly jt: number
  readonly jf: number
  readonly k: number
}

/** A raw AF_PACKET socket bound to one interface. */
export interface RawPacketSocket {
  readonly fd: number
  readonly ifindex: number
}

/**
 * Opens an AF_PACKET socket for `ethertype` on `ifname`, with `filter` attached in the kernel before the bind.
 * Not scoped by itself: {@link closePacket} releases it (the layer2 PacketSocket service wraps both in
 * `acquireRelease`).
 */
export const openPacket = (
  ifname: string,
  ethertype: number,
  filter: ReadonlyArray<BpfInstruction> | undefined
): Effect.Effect<RawPacketSocket, NativeError> =>
  call("socket(AF_PACKET)", () => {
    const flat = filter?.flatMap((i) => [i.code, i.jt, i.jf, i.k]) ?? null
    const opened = binding.openPacket(ifname, ethertype, flat)
    return { fd: opened.fd, ifindex: opened.index }
  })

export const sendFrame = (socket: RawPacketSocket, frame: Uint8Array): Effect.Effect<number, NativeError> =>
  call("send(AF_PACKET)", () => binding.sendFrame(socket.fd, frame))

/** Synchronous send for hot paths (the ARP responder answers from inside the receive callback). */
export const sendFrameUnsafe = (socket: RawPacketSocket, frame: Uint8Array): number =>
  binding.sendFrame(socket.fd, frame)

export const addPacketMembership = (
  socket: RawPacketSocket,
  mac: Uint8Array,
  add = true
): Effect.Effect<void, NativeError> =>
  call("setsockopt(PACKET_ADD_MEMBERSHIP)", () =>
    binding.addPacketMembership(socket.fd, socket.ifindex, Buffer.from(mac), add))

/** How the reader's ARP table is being answered (see {@link Receiver.answerArp}). */
export interface ArpAnswerStats {
  /** Native threads of the reader answering (one per CPU; 0: no table, or their sockets could not be opened). */
  readonly threads: number
  /** Replies those threads sent since the reader started. */
  readonly answeredByThreads: number
  /** Requests the kernel dropped at those threads' sockets (a queue was full). */
  readonly droppedByThreads: number
}

/** A running reader: `stop` ends it; `answerArp` hands it the table of IPv4 addresses it answers ARP for itself. */
export interface Receiver {
  /** Stops reading, and stops and joins the ARP threads (their sockets closed) before returning. */
  readonly stop: () => void
  /**
   * ARP requests for one of `ips` (4 bytes each) are answered with `mac` natively, before the frame reaches
   * JavaScript (whose copy then carries `constants.PACKET_ANSWERED`): by threads of the reader, one per CPU, each
   * blocked on a socket of its own that gets the requests received on its CPU, so the reply waits for neither the
   * event loop nor V8 nor another CPU; inline in the reader's poll callback if those sockets cannot be opened. An
   * empty list stops the threads.
   */
  readonly answerArp: (mac: Uint8Array, ips: ReadonlyArray<Uint8Array>) => void
  readonly arpStats: () => ArpAnswerStats
}

/**
 * Starts delivering received frames (in batches, with their `sll_pkttype`) to `onFrames` through a libuv poll
 * handle. Returns the running {@link Receiver}.
 */
export const startReceiving = (
  socket: RawPacketSocket,
  onFrames: (frames: ReadonlyArray<Buffer>, packetTypes: ReadonlyArray<number>) => void
): Effect.Effect<Receiver, NativeError> =>
  call("uv_poll_start", () => {
    const reader = new binding.PacketReader(socket.fd, onFrames)
    return {
      stop: () => reader.close(),
      answerArp: (mac, ips) => reader.setArpAnswers(Buffer.from(mac), Buffer.concat(ips.map((ip) => Buffer.from(ip)))),
      arpStats: () => reader.arpStats()
    }
  })

export const closeFd = (fd: number): Effect.Effect<void, NativeError> => call("close", () => binding.closeFd(fd))

/** A non-blocking TCP socket fd, for options that must be set before connect or listen. */
export const tcpSocket = (family: 4 | 6): Effect.Effect<number, NativeError> =>
  call("socket(SOCK_STREAM)", () => binding.tcpSocket(family))

export const bindAddress = (fd: number, address: string, port = 0): Effect.Effect<void, NativeError> =>
  call("bind", () => binding.bindAddress(fd, address, port))

/**
 * Sets (or, with an empty key, clears) the RFC 2385 TCP-MD5 key for `peerAddress` on `fd`; with `prefixLength`,
 * for every peer in that prefix (listening sockets for dynamic peers). The kernel caps keys at 80 bytes.
 */
export const setTcpMd5 = (
  fd: number,
  peerAddress: string,
  key: string | Uint8Array,
  prefixLength?: number
): Effect.Effect<void, NativeError> =>
  call("setsockopt(TCP_MD5SIG)", () => {
    const bytes = typeof key === "string" ? Buffer.from(key, "utf8") : Buffer.from(key)
    if (prefixLength === undefined) binding.setTcpMd5(fd, peerAddress, bytes)
    else binding.setTcpMd5(fd, peerAddress, bytes, prefixLength)
  })

export const setSockOptInt = (fd: number, level: number, name: number, value: number): Effect.Effect<void, NativeError> =>
  call("setsockopt", () => binding.setSockOptInt(fd, level, name, value))

export const getSockOptInt = (fd: number, level: number, name: number): Effect.Effect<number, NativeError> =>
  call("getsockopt", () => binding.getSockOptInt(fd, level, name))
