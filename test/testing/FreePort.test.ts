import { readFileSync } from "node:fs"
import { createServer } from "node:net"
import { assert, describe, it } from "vitest"
import { freePort } from "../../src/testing/FreePort.ts"

describe("freePort", () => {
  it("hands out bindable ports below the kernel's ephemeral range, so listen(0) elsewhere cannot take them", async () => {
    const ephemeral = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0])
    for (let i = 0; i < 20; i++) {
      const port = await freePort()
      assert.isAtLeast(port, 10_000)
      assert.isBelow(port, ephemeral)
      await new Promise<void>((done, fail) => {
        const s = createServer()
        s.once("error", fail)
        s.listen(port, "127.0.0.1", () => s.close(() => done()))
      })
    }
  })

  it("skips a port that is taken", async () => {
    // Hold many ports of the range: every answer must still be one nobody holds.
    const held = await Promise.all(Array.from({ length: 30 }, () => freePort()))
    const servers = await Promise.all(
      held.map((port) => new Promise<ReturnType<typeof createServer>>((done) => {
        const s = createServer()
        s.once("error", () => done(s))
        s.listen(port, "127.0.0.1", () => done(s))
      }))
    )
    try {
      for (let i = 0; i < 30; i++) assert.notInclude(held, await freePort())
    } finally {
      await Promise.all(servers.map((s) => new Promise((done) => s.close(done))))
    }
  })
})
