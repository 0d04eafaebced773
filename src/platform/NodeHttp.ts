/**
 * `node:http`, loaded with `require`. An ES import of a builtin reads every export to build the module namespace,
 * and `node:http`'s lazy `WebSocket`, `CloseEvent` and `MessageEvent` exports load undici (with http2,
 * worker_threads and perf_hooks): ~70 more builtin modules and ~8 MiB resident in every program, for APIs no code
 * here uses. `require` returns the exports object and reads only what is called. Import types from `node:http`
 * with `import type`; values from here.
 *
 * @since 0.1.0
 */
import { createRequire } from "node:module"

/** The `node:http` module. */
export const http: typeof import("node:http") = createRequire(import.meta.url)("node:http")
