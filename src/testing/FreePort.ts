/**
 * A TCP port free on 127.0.0.1 now, for a program flag that needs a number up front (tests, benchmarks). Another
 * process may take it before it is used: only for labs on this machine.
 *
 * @since 0.1.0
 */
import { createServer } from "node:net"

export const freePort = (): Promise<number> =>
  new Promise((done, fail) => {
    const s = createServer()
    s.once("error", fail)
    s.listen(0, "127.0.0.1", () => {
      const address = s.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      s.close(() => done(port))
    })
  })
