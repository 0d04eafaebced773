// Loads the N-API addon built by node-gyp at install time (see binding.gyp).
import { createRequire } from "node:module"

const require = createRequire(import.meta.url)
export default require("./build/Release/metallb_native.node")
