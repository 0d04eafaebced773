/**
 * Running the real `kubectl` against an API server (the in-memory one in tests): where the binary is, the
 * environment that isolates it (its kubeconfig, a fresh discovery cache per server since kubectl caches per
 * host:port, a private HOME), and a Promise of its exit code and output.
 *
 * @since 0.1.0
 */
import { execFile } from "node:child_process"
import { existsSync } from "node:fs"
import { join } from "node:path"

/** The kubectl binary, if the machine has one. */
export const kubectlPath: string | undefined = ["/usr/bin/kubectl", "/usr/local/bin/kubectl"].find((p) => existsSync(p))

export interface KubectlResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** The environment for kubectl: `kubeconfigPath`, and cache and HOME under `dir`. */
export const kubectlEnv = (kubeconfigPath: string, dir: string): NodeJS.ProcessEnv => ({
  ...process.env,
  KUBECONFIG: kubeconfigPath,
  KUBECACHEDIR: join(dir, "cache"),
  HOME: dir
})

/** Runs kubectl to completion; never rejects (a failure is a non-zero code with its stderr). */
export const runKubectl = (kubeconfigPath: string, dir: string, args: ReadonlyArray<string>, timeoutMs = 30_000): Promise<KubectlResult> =>
  new Promise((resolve) => {
    execFile(
      kubectlPath ?? "kubectl",
      [...args],
      { env: kubectlEnv(kubeconfigPath, dir), timeout: timeoutMs, maxBuffer: 16 << 20 },
      (error, stdout, stderr) => resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1, stdout, stderr })
    )
  })
