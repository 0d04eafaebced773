/**
 * IPAddressPool (metallb.io/v1beta1): a set of addresses the controller may assign to LoadBalancer Services.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { Int32, Int64, resource, Selectors, v1beta1Crd } from "./Common.ts"

export const DefaultAutoAssign = true
export const DefaultAvoidBuggyIPs = false

export const ServiceAllocation = Schema.Struct({
  priority: Schema.optionalKey(
    Int32.annotate({ description: "Priority priority given for ip pool while ip allocation on a service." })
  ),
  namespaces: Schema.optionalKey(
    Schema.Array(Schema.String).annotate({
      description: "Namespaces list of namespace(s) on which ip pool can be attached."
    })
  ),
  namespaceSelectors: Selectors("NamespaceSelectors list of label selectors to select namespace(s) for ip pool, an alternative to using namespace list."),
  serviceSelectors: Selectors("ServiceSelectors list of label selector to select service(s) for which ip pool can be used for ip allocation.")
}).annotate({
  description:
    "AllocateTo makes ip pool allocation to specific namespace and/or service. The controller will use the pool with lowest value of priority in case of multiple matches. A pool with no priority set will be used only if the pools with priority can't be used. If multiple matching IPAddressPools are available it will check for the availability of IPs sorting the matching IPAddressPools by priority, starting from the highest to the lowest. If multiple IPAddressPools have the same priority, choice will be random."
})

export const IPAddressPoolSpec = Schema.Struct({
  addresses: Schema.Array(Schema.String).annotate({
    description:
      "A list of IP address ranges over which MetalLB has authority. You can list multiple ranges in a single pool, they will all share the same settings. Each range can be either a CIDR prefix, or an explicit start-end range of IPs."
  }),
  autoAssign: Schema.optionalKey(
    Schema.Boolean.annotate({
      default: DefaultAutoAssign,
      description: "AutoAssign flag used to prevent MetallB from automatic allocation for a pool."
    })
  ),
  avoidBuggyIPs: Schema.optionalKey(
    Schema.Boolean.annotate({
      default: DefaultAvoidBuggyIPs,
      description: "AvoidBuggyIPs prevents addresses ending with .0 and .255 to be used by a pool."
    })
  ),
  serviceAllocation: Schema.optionalKey(ServiceAllocation)
}).annotate({ description: "IPAddressPoolSpec defines the desired state of IPAddressPool." })

export const IPAddressPoolStatus = Schema.Struct({
  assignedIPv4: Int64.annotate({ description: "AssignedIPv4 is the number of assigned IPv4 addresses." }),
  assignedIPv6: Int64.annotate({ description: "AssignedIPv6 is the number of assigned IPv6 addresses." }),
  availableIPv4: Int64.annotate({ description: "AvailableIPv4 is the number of available IPv4 addresses." }),
  availableIPv6: Int64.annotate({ description: "AvailableIPv6 is the number of available IPv6 addresses." })
}).annotate({ description: "IPAddressPoolStatus defines the observed state of IPAddressPool." })

export const IPAddressPool = resource({
  version: "v1beta1",
  kind: "IPAddressPool",
  description:
    "IPAddressPool represents a pool of IP addresses that can be allocated to LoadBalancer services.",
  spec: IPAddressPoolSpec,
  status: IPAddressPoolStatus
})
export type IPAddressPool = typeof IPAddressPool.Type

export const crd = v1beta1Crd({
  kind: "IPAddressPool",
  plural: "ipaddresspools",
  schema: IPAddressPool,
  required: ["spec"],
  printerColumns: [
      { name: "Auto Assign", type: "boolean", jsonPath: ".spec.autoAssign" },
      { name: "Avoid Buggy IPs", type: "boolean", jsonPath: ".spec.avoidBuggyIPs" },
      { name: "Addresses", type: "string", jsonPath: ".spec.addresses" }
    ]
})
