import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Lab suites create network namespaces and start routers: give them room, keep unit tests snappy.
    testTimeout: 30_000,
    hookTimeout: 60_000
  }
})
