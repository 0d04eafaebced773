/**
 * Which interfaces layer 2 mode may answer on, by MetalLB's rules: an ARP responder for an interface that is UP,
 * not enslaved (no `master`: bridge ports, bond slaves and VRF members are skipped), without NOARP and with
 * BROADCAST; an NDP responder for one that is UP, not enslaved, without NOARP and has an IPv6 link-local address.
 * Names matching the exclusion list (MetalLB's default list unless configured) are ignored.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { networkInterfaces } from "node:os"
import * as Native from "../native/Native.ts"

/** MetalLB's `announcedInterfacesToExclude` default (config/native/exclude-l2-config.yaml). */
export const defaultExcluded: ReadonlyArray<string> = [
  "^docker.*", "^cbr.*", "^dummy.*", "^virbr.*", "^lxcbr.*", "^veth.*", "^lo$", "^cali.*", "^tunl.*", "^flannel.*",
  "^kube-ipvs.*", "^cni.*", "^nodelocaldns.*", "^lxc.*"
]

export interface InterfaceState {
  readonly name: string
  readonly index: number
  readonly mac: Uint8Array
  readonly arp: boolean
  readonly ndp: boolean
  /** Carrier present (`/sys/class/net/NAME/carrier` = 1): a link that is down cannot deliver answers. */
  readonly carrier: boolean
}

const sys = "/sys/class/net"

const readCarrier = (name: string): boolean => {
  try {
    return readFileSync(`${sys}/${name}/carrier`, "utf8").trim() === "1"
  } catch {
    // Reading `carrier` fails with EINVAL while the interface is administratively down.
    return false
  }
}

/** The interfaces eligible now, as of this scan. Interfaces that vanish between listing and reading are skipped. */
export const scan = (excluded: ReadonlyArray<string> = defaultExcluded): Effect.Effect<ReadonlyArray<InterfaceState>> =>
  Effect.gen(function*() {
    const exclude = excluded.length === 0 ? undefined : new RegExp(excluded.map((p) => `(?:${p})`).join("|"))
    const addresses = networkInterfaces()
    const names = existsSync(sys) ? readdirSync(sys) : []
    const result: Array<InterfaceState> = []
    for (const name of names.toSorted()) {
      if (exclude?.test(name) === true) continue
      if (existsSync(`${sys}/${name}/master`)) continue
      const facts = yield* Native.interfaceInfo(name).pipe(Effect.option)
      if (facts._tag === "None") continue
      const f = facts.value
      if (!f.up || f.noArp || f.loopback) continue
      const linkLocal = (addresses[name] ?? []).some((a) => a.family === "IPv6" && a.address.toLowerCase().startsWith("fe80:"))
      result.push({
        name,
        index: f.index,
        mac: f.mac,
        arp: f.broadcast,
        ndp: linkLocal,
        carrier: readCarrier(name)
      })
    }
    return result
  })
