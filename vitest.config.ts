import { defineConfig } from "vitest/config"

// Two projects: unit suites run in parallel; lab suites (network namespaces, real routers, timing assertions) run
// one file at a time so that on a 2-core machine they never compete with each other for the CPU.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/**/*.test.ts"],
          exclude: ["test/lab/**"],
          testTimeout: 30_000
        }
      },
      {
        test: {
          name: "lab",
          include: ["test/lab/**/*.test.ts"],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 120_000
        }
      }
    ]
  }
})
