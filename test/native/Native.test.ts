import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Native from "../../src/native/Native.ts"

describe("Native addon", () => {
  it.effect("reports an unknown interface with its errno name", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Native.interfaceInfo("nope0"))
      assert.strictEqual(error._tag, "NativeError")
      assert.strictEqual(error.code, "ENODEV")
      assert.include(error.message, "nope0")
    }))

  it.effect("reads the loopback interface facts", () =>
    Effect.gen(function*() {
      const lo = yield* Native.interfaceInfo("lo")
      assert.isTrue(lo.loopback)
      assert.isTrue(lo.up)
      assert.strictEqual(lo.mac.length, 6)
    }))

  it.effect("refuses to open a packet socket on a missing interface", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Native.openPacket("nope0", 0x0806, undefined))
      assert.strictEqual(error.code, "ENODEV")
    }))

  it.effect("rejects an MD5 key longer than the kernel allows", () =>
    Effect.gen(function*() {
      const fd = yield* Native.tcpSocket(4)
      const error = yield* Effect.flip(Native.setTcpMd5(fd, "192.0.2.1", "x".repeat(81)))
      yield* Native.closeFd(fd)
      assert.strictEqual(error.code, "EINVAL")
    }))

  it.effect("sets and reads back an integer socket option", () =>
    Effect.gen(function*() {
      const fd = yield* Native.tcpSocket(4)
      yield* Native.setSockOptInt(fd, Native.constants.IPPROTO_IP, Native.constants.IP_TTL, 7)
      const ttl = yield* Native.getSockOptInt(fd, Native.constants.IPPROTO_IP, Native.constants.IP_TTL)
      yield* Native.closeFd(fd)
      assert.strictEqual(ttl, 7)
    }))
})
