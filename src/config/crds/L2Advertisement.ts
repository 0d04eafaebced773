/**
 * L2Advertisement (metallb.io/v1beta1): announce the IPs of selected pools over layer 2 (ARP / NDP).
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import * as LabelSelector from "../LabelSelector.ts"
import { int32Between, resource, Selectors, Strings, v1beta1Crd } from "./Common.ts"

export const PreferredNodeSelector = Schema.Struct({
  weight: int32Between(1, 100).annotate({
    description: "Weight associated with matching the corresponding preference, in the range 1-100."
  }),
  preference: LabelSelector.LabelSelector.annotate({
    description: "A node selector term; an empty selector matches all eligible nodes."
  })
}).annotate({ description: "PreferredNodeSelector gives a weight to the eligible nodes matching a selector." })

export const L2AdvertisementSpec = Schema.Struct({
  ipAddressPools: Strings("The list of IPAddressPools to advertise via this advertisement, selected by name."),
  ipAddressPoolSelectors: Selectors(
    "A selector for the IPAddressPools which would get advertised via this advertisement. If no IPAddressPool is selected by this or by the list, the advertisement is applied to all the IPAddressPools."
  ),
  nodeSelectors: Selectors(
    "NodeSelectors allows to limit the nodes to announce as next hops for the LoadBalancer IP. When empty, all the nodes having  are announced as next hops."
  ),
  interfaces: Strings(
    "A list of interfaces to announce from. The LB IP will be announced only from these interfaces. If the field is not set, we advertise from all the interfaces on the host."
  ),
  serviceSelectors: Selectors("ServiceSelectors limits the services this advertisement applies to."),
  preferredNodeSelectors: Schema.optionalKey(
    Schema.Array(PreferredNodeSelector).annotate({
      description:
        "PreferredNodeSelectors weighs the eligible nodes when electing the node that announces an IP: the node with the highest summed weight wins."
    })
  )
}).annotate({ description: "L2AdvertisementSpec defines the desired state of L2Advertisement." })

export const L2AdvertisementStatus = Schema.Struct({}).annotate({
  description: "L2AdvertisementStatus defines the observed state of L2Advertisement."
})

export const L2Advertisement = resource({
  version: "v1beta1",
  kind: "L2Advertisement",
  description:
    "L2Advertisement allows to advertise the LoadBalancer IPs provided by the selected pools via L2.",
  spec: L2AdvertisementSpec,
  status: L2AdvertisementStatus
})
export type L2Advertisement = typeof L2Advertisement.Type

export const crd = v1beta1Crd({
  kind: "L2Advertisement",
  plural: "l2advertisements",
  schema: L2Advertisement,
  printerColumns: [
      { name: "IPAddressPools", type: "string", jsonPath: ".spec.ipAddressPools" },
      { name: "IPAddressPool Selectors", type: "string", jsonPath: ".spec.ipAddressPoolSelectors" },
      { name: "Interfaces", type: "string", jsonPath: ".spec.interfaces" },
      { name: "Node Selectors", type: "string", jsonPath: ".spec.nodeSelectors", priority: 10 }
    ]
})
