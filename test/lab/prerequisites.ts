// Gate for lab suites: they skip only when not root; in CI (CI=true) or when a tool is missing they run and the
// "prerequisites" test fails with the reason, so a broken lab can never turn green by skipping.
import { missingTools } from "../../src/testing/Netns.ts"

export interface LabGate {
  /** `describe.skipIf(gate.skip)`: true only for a non-root run outside CI. */
  readonly skip: boolean
  /** Why the lab cannot run, if it cannot. */
  readonly problem: string | undefined
}

export const labGate = (tools: ReadonlyArray<string>): LabGate => {
  const root = process.getuid?.() === 0
  const ci = process.env.CI === "true"
  const missing = missingTools(tools)
  return {
    skip: !root && !ci,
    problem: !root
      ? "lab tests need root (network namespaces); CI=true forbids skipping them"
      : missing.length > 0
      ? `missing lab tools: ${missing.join(", ")}`
      : undefined
  }
}
