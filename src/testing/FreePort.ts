/**
 * A TCP port free on 127.0.0.1 now, for a program flag that needs a number up front (tests, benchmarks).
 *
 * It is drawn below the kernel's ephemeral range (`net.ipv4.ip_local_port_range`): a port the kernel hands out for
 * `listen(0)` or an outgoing connection of a concurrent test could otherwise be taken between this check and the
 * program's own bind (seen in CI as EADDRINUSE). Another process picking ports the same way may still take it: only
 * for labs on this machine.
 *
 * @since 0.1.0
 */
import { readFileSync } from "node:fs"
import { createServer } from "node:net"

const lowest = 10_000

/** The first port of the kernel's ephemeral range (32768 when it cannot be read). */
const ephemeralStart = (): number => {
  try {
    const first = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0])
    return Number.isInteger(first) && first > lowest + 1000 ? first : 32_768
  } catch {
    return 32_768
  }
}

const bindable = (port: number): Promise<boolean> =>
  new Promise((done) => {
    const s = createServer()
    s.once("error", () => done(false))
    s.listen(port, "127.0.0.1", () => s.close(() => done(true)))
  })

export const freePort = async (): Promise<number> => {
  const end = ephemeralStart()
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = lowest + Math.floor(Math.random() * (end - lowest))
    if (await bindable(port)) return port
  }
  throw new Error(`no free TCP port on 127.0.0.1 in ${lowest}-${end - 1} after 200 tries`)
}
