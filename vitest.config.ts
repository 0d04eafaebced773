import { defineConfig } from "vitest/config"

// Two projects: unit suites run in parallel; lab suites (network namespaces, real routers, timing assertions) run
// one file at a time, after the unit suites, so that on a 2-core machine they never compete for the CPU.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          sequence: { groupOrder: 0 },
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
          // After the unit suites: timing-sensitive labs must not share the 2 cores with them.
          sequence: { groupOrder: 1 },
          testTimeout: 120_000,
          hookTimeout: 120_000
        }
      }
    ]
  }
})
