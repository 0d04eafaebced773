import { assert, describe, it } from "@effect/vitest"
import { commands } from "../../src/cli/main.ts"

describe("metallb dispatcher", () => {
  it("each command's words are those of the module it loads", async () => {
    for (const entry of commands) {
      const command = await entry.load()
      assert.deepStrictEqual(command.spec.path, entry.path)
    }
    assert.deepStrictEqual(commands.map((c) => c.path.join(" ")), ["config validate", "config convert", "controller", "speaker"])
  })
})
