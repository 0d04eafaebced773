/**
 * BGPAdvertisement (metallb.io/v1beta1): announce the IPs of selected pools to BGP peers.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { Int32, int32Between, resource, Selectors, Strings, Uint32, v1beta1Crd } from "./Common.ts"

export const DefaultAggregationLength = 32
export const DefaultAggregationLengthV6 = 128
export const DefaultLocalPref = 0

export const BGPAdvertisementSpec = Schema.Struct({
  aggregationLength: Schema.optionalKey(
    int32Between(1, 2147483647).annotate({
      default: DefaultAggregationLength,
      description:
        "The aggregation-length advertisement option lets you “roll up” the /32s into a larger prefix. Defaults to 32. Works for IPv4 addresses."
    })
  ),
  aggregationLengthV6: Schema.optionalKey(
    Int32.annotate({
      default: DefaultAggregationLengthV6,
      description:
        "The aggregation-length advertisement option lets you “roll up” the /128s into a larger prefix. Defaults to 128. Works for IPv6 addresses."
    })
  ),
  localPref: Schema.optionalKey(
    Uint32.annotate({
      description:
        "The BGP LOCAL_PREF attribute which is used by BGP best path algorithm, Path with higher localpref is preferred over one with lower localpref."
    })
  ),
  communities: Strings(
    "The BGP communities to be associated with the announcement. Each item can be a standard community of the form 1234:1234, a large community of the form large:1234:1234:1234 or the name of an alias defined in the Community CRD."
  ),
  ipAddressPools: Strings("The list of IPAddressPools to advertise via this advertisement, selected by name."),
  ipAddressPoolSelectors: Selectors(
    "A selector for the IPAddressPools which would get advertised via this advertisement. If no IPAddressPool is selected by this or by the list, the advertisement is applied to all the IPAddressPools."
  ),
  nodeSelectors: Selectors(
    "NodeSelectors allows to limit the nodes to announce as next hops for the LoadBalancer IP. When empty, all the nodes having  are announced as next hops."
  ),
  peers: Strings(
    "Peers limits the bgppeer to advertise the ips of the selected pools to. When empty, the loadbalancer IP is announced to all the BGPPeers configured."
  ),
  serviceSelectors: Selectors(
    "ServiceSelectors limits the services this advertisement applies to. Mutually exclusive with a non-default aggregationLength or aggregationLengthV6."
  )
}).annotate({
  description: "BGPAdvertisementSpec defines the desired state of BGPAdvertisement.",
  "x-kubernetes-validations": [{
    rule:
      "!has(self.serviceSelectors) || size(self.serviceSelectors) == 0 || ((!has(self.aggregationLength) || self.aggregationLength == 32) && (!has(self.aggregationLengthV6) || self.aggregationLengthV6 == 128))",
    message:
      "serviceSelectors and aggregationLength are mutually exclusive, serviceSelectors can only be set with the default aggregationLength (32) and aggregationLengthV6 (128)"
  }]
})

export const BGPAdvertisementStatus = Schema.Struct({}).annotate({
  description: "BGPAdvertisementStatus defines the observed state of BGPAdvertisement."
})

export const BGPAdvertisement = resource({
  version: "v1beta1",
  kind: "BGPAdvertisement",
  description:
    "BGPAdvertisement allows to advertise the IPs coming from the selected IPAddressPools via BGP, setting the parameters of the BGP Advertisement.",
  spec: BGPAdvertisementSpec,
  status: BGPAdvertisementStatus
})
export type BGPAdvertisement = typeof BGPAdvertisement.Type

export const crd = v1beta1Crd({
  kind: "BGPAdvertisement",
  plural: "bgpadvertisements",
  schema: BGPAdvertisement,
  printerColumns: [
      { name: "IPAddressPools", type: "string", jsonPath: ".spec.ipAddressPools" },
      { name: "IPAddressPool Selectors", type: "string", jsonPath: ".spec.ipAddressPoolSelectors" },
      { name: "Peers", type: "string", jsonPath: ".spec.peers" },
      { name: "Node Selectors", type: "string", jsonPath: ".spec.nodeSelectors", priority: 10 }
    ]
})
