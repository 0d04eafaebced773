/**
 * BGPPeer: a BGP session to open from (selected) speakers. v1beta2 is the stored version; v1beta1 is still served
 * (deprecated) and converted to v1beta2 losslessly, while v1beta2 → v1beta1 drops the fields v1beta1 lacks.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { GoDuration } from "../Duration.ts"
import * as LabelSelector from "../LabelSelector.ts"
import { type CrdInfo, int32Between, int64Between, resource, Selectors, Uint32 } from "./Common.ts"

export const DefaultPeerPort = 179

export const DynamicASNMode = Schema.Literals(["internal", "external"]).annotate({
  description:
    "DynamicASN detects the AS number to use for the remote end of the session without explicitly setting it via the ASN field. Limited to: internal - if the neighbor's ASN is different than MyASN connection is denied. external - if the neighbor's ASN is the same as MyASN the connection is denied. ASN and DynamicASN are mutually exclusive and one of them must be specified."
})

export const SecretReference = Schema.Struct({
  name: Schema.optionalKey(
    Schema.String.annotate({ description: "name is unique within a namespace to reference a secret resource." })
  ),
  namespace: Schema.optionalKey(
    Schema.String.annotate({ description: "namespace defines the space within which the secret name must be unique." })
  )
}).annotate({
  description:
    "passwordSecret is name of the authentication secret for BGP Peer. the secret must be of type \"kubernetes.io/basic-auth\", and created in the same namespace as the MetalLB deployment. The password is stored in the secret as the key \"password\".",
  "x-kubernetes-map-type": "atomic"
})
export type SecretReference = typeof SecretReference.Type

const duration = (description: string) => Schema.optionalKey(GoDuration.annotate({ description }))

export const BGPPeerSpecV1beta2 = Schema.Struct({
  myASN: Uint32.annotate({ description: "AS number to use for the local end of the session." }),
  peerASN: Schema.optionalKey(
    Uint32.annotate({
      description:
        "AS number to expect from the remote end of the session. ASN and DynamicASN are mutually exclusive and one of them must be specified."
    })
  ),
  dynamicASN: Schema.optionalKey(DynamicASNMode),
  localASN: Schema.optionalKey(
    int64Between(1, 4294967295).annotate({
      description: "LocalASN is the AS number advertised to the peer instead of myASN (local-as, no-prepend, replace-as)."
    })
  ),
  peerAddress: Schema.optionalKey(
    Schema.String.annotate({ description: "Address to dial when establishing the session." })
  ),
  interface: Schema.optionalKey(
    Schema.String.annotate({
      description:
        "Interface is the node interface over which the unnumbered BGP peering will be established. Address and Interface are mutually exclusive and one of them must be specified. Not supported by metallb-ts."
    })
  ),
  sourceAddress: Schema.optionalKey(
    Schema.String.annotate({ description: "Source address to use when establishing the session." })
  ),
  peerPort: Schema.optionalKey(
    int32Between(1, 16384).annotate({ default: DefaultPeerPort, description: "Port to dial when establishing the session." })
  ),
  holdTime: duration("Requested BGP hold time, per RFC4271."),
  keepaliveTime: duration("Requested BGP keepalive time, per RFC4271."),
  connectTime: Schema.optionalKey(
    GoDuration.annotate({
      description:
        "Requested BGP connect time, controls how long BGP waits between connection attempts to a neighbor.",
      "x-kubernetes-validations": [
        {
          rule: "duration(self).getSeconds() >= 1 && duration(self).getSeconds() <= 65535",
          message: "connect time should be between 1 seconds to 65535"
        },
        {
          rule: "duration(self).getMilliseconds() % 1000 == 0",
          message: "connect time should contain a whole number of seconds"
        }
      ]
    })
  ),
  routerID: Schema.optionalKey(Schema.String.annotate({ description: "BGP router ID to advertise to the peer" })),
  nodeSelectors: Selectors("Only connect to this peer on nodes that match one of these selectors."),
  password: Schema.optionalKey(
    Schema.String.annotate({ description: "Authentication password for routers enforcing TCP MD5 authenticated sessions" })
  ),
  passwordSecret: Schema.optionalKey(SecretReference),
  bfdProfile: Schema.optionalKey(
    Schema.String.annotate({
      description:
        "The name of the BFD Profile to be used for the BFD session associated to the BGP session. If not set, the BFD session won't be set up."
    })
  ),
  enableGracefulRestart: Schema.optionalKey(
    Schema.Boolean.annotate({
      description:
        "EnableGracefulRestart allows BGP peer to continue to forward data packets along known routes while the routing protocol information is being restored. This field is immutable because it requires restart of the BGP session.",
      "x-kubernetes-validations": [{ rule: "self == oldSelf", message: "EnableGracefulRestart cannot be changed after creation" }]
    })
  ),
  ebgpMultiHop: Schema.optionalKey(Schema.Boolean.annotate({ description: "To set if the BGPPeer is multi-hops away." })),
  vrf: Schema.optionalKey(
    Schema.String.annotate({
      description:
        "To set if we want to peer with the BGPPeer using an interface belonging to a host vrf. Not supported by metallb-ts."
    })
  ),
  disableMP: Schema.optionalKey(
    Schema.Boolean.annotate({
      default: false,
      description:
        "To set if we want to disable MP BGP that will separate IPv4 and IPv6 route exchanges into distinct BGP sessions. Deprecated: DisableMP is deprecated in favor of dualStackAddressFamily."
    })
  ),
  dualStackAddressFamily: Schema.optionalKey(
    Schema.Boolean.annotate({
      default: false,
      description:
        "To set if we want to enable the neighbor not only for the ipfamily related to its session, but also the other one. This allows to advertise/receive IPv4 prefixes over IPv6 sessions and vice versa."
    })
  )
}).annotate({ description: "BGPPeerSpec defines the desired state of Peer." })
export type BGPPeerSpecV1beta2 = typeof BGPPeerSpecV1beta2.Type

export const BGPPeerStatus = Schema.Struct({}).annotate({ description: "BGPPeerStatus defines the observed state of Peer." })

export const BGPPeerV1beta2 = resource({
  version: "v1beta2",
  kind: "BGPPeer",
  description: "BGPPeer is the Schema for the peers API.",
  spec: BGPPeerSpecV1beta2,
  status: BGPPeerStatus
})
export type BGPPeerV1beta2 = typeof BGPPeerV1beta2.Type
/** The stored (hub) version is what the configuration works with. */
export const BGPPeer = BGPPeerV1beta2
export type BGPPeer = BGPPeerV1beta2

/** v1beta1's own node selector type: every field of a match expression is required and values are non-empty. */
export const NodeSelectorV1beta1 = Schema.Struct({
  matchLabels: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  matchExpressions: Schema.optionalKey(
    Schema.Array(
      Schema.Struct({
        key: Schema.String,
        operator: LabelSelector.Operator,
        values: Schema.Array(Schema.String).check(Schema.isMinLength(1))
      })
    )
  )
})
export type NodeSelectorV1beta1 = typeof NodeSelectorV1beta1.Type

export const BGPPeerSpecV1beta1 = Schema.Struct({
  myASN: Uint32.annotate({ description: "AS number to use for the local end of the session." }),
  peerASN: Uint32.annotate({ description: "AS number to expect from the remote end of the session." }),
  peerAddress: Schema.String.annotate({ description: "Address to dial when establishing the session." }),
  sourceAddress: Schema.optionalKey(
    Schema.String.annotate({ description: "Source address to use when establishing the session." })
  ),
  peerPort: Schema.optionalKey(int32Between(0, 16384).annotate({ description: "Port to dial when establishing the session." })),
  holdTime: duration("Requested BGP hold time, per RFC4271."),
  keepaliveTime: duration("Requested BGP keepalive time, per RFC4271."),
  routerID: Schema.optionalKey(Schema.String.annotate({ description: "BGP router ID to advertise to the peer" })),
  nodeSelectors: Schema.optionalKey(
    Schema.Array(NodeSelectorV1beta1).annotate({
      description: "Only connect to this peer on nodes that match one of these selectors."
    })
  ),
  password: Schema.optionalKey(
    Schema.String.annotate({ description: "Authentication password for routers enforcing TCP MD5 authenticated sessions" })
  ),
  bfdProfile: Schema.optionalKey(Schema.String),
  ebgpMultiHop: Schema.optionalKey(Schema.Boolean.annotate({ description: "EBGP peer is multi-hops away" }))
}).annotate({ description: "BGPPeerSpec defines the desired state of Peer." })
export type BGPPeerSpecV1beta1 = typeof BGPPeerSpecV1beta1.Type

export const BGPPeerV1beta1 = resource({
  version: "v1beta1",
  kind: "BGPPeer",
  description: "BGPPeer is the Schema for the peers API.",
  spec: BGPPeerSpecV1beta1,
  status: BGPPeerStatus
})
export type BGPPeerV1beta1 = typeof BGPPeerV1beta1.Type

/** v1beta1 → v1beta2: every field carries over (durations and selectors keep their wire form). */
export const v1beta1ToV1beta2 = (peer: BGPPeerV1beta1): BGPPeerV1beta2 => {
  const { nodeSelectors, ...rest } = peer.spec
  return {
    ...peer,
    apiVersion: "metallb.io/v1beta2",
    spec: {
      ...rest,
      ...(nodeSelectors !== undefined
        ? {
          nodeSelectors: nodeSelectors.map((sel): LabelSelector.LabelSelector => ({
            ...(sel.matchLabels !== undefined ? { matchLabels: sel.matchLabels } : {}),
            ...(sel.matchExpressions !== undefined
              ? { matchExpressions: sel.matchExpressions.map((e) => ({ key: e.key, operator: e.operator, values: e.values })) }
              : {})
          }))
        }
        : {})
    }
  }
}

/** The v1beta2 fields v1beta1 cannot carry: dropped by {@link v1beta2ToV1beta1}. */
export const fieldsLostInV1beta1 = [
  "dynamicASN",
  "interface",
  "connectTime",
  "passwordSecret",
  "enableGracefulRestart",
  "vrf",
  "disableMP",
  "dualStackAddressFamily",
  "localASN"
] as const

/**
 * v1beta2 → v1beta1 (lossy, like MetalLB's conversion webhook): drops {@link fieldsLostInV1beta1}; a missing
 * peerASN/peerAddress (dynamicASN, unnumbered peers) becomes 0 / "" since v1beta1 requires them.
 */
export const v1beta2ToV1beta1 = (peer: BGPPeerV1beta2): BGPPeerV1beta1 => {
  const s = peer.spec
  const nodeSelectors = s.nodeSelectors?.map((sel): NodeSelectorV1beta1 => ({
    ...(sel.matchLabels !== undefined ? { matchLabels: sel.matchLabels } : {}),
    ...(sel.matchExpressions !== undefined
      ? { matchExpressions: sel.matchExpressions.map((e) => ({ key: e.key, operator: e.operator, values: e.values ?? [] })) }
      : {})
  }))
  return {
    apiVersion: "metallb.io/v1beta1",
    kind: "BGPPeer",
    metadata: peer.metadata,
    ...(peer.status !== undefined ? { status: peer.status } : {}),
    spec: {
      myASN: s.myASN,
      peerASN: s.peerASN ?? 0,
      peerAddress: s.peerAddress ?? "",
      ...(s.sourceAddress !== undefined ? { sourceAddress: s.sourceAddress } : {}),
      ...(s.peerPort !== undefined ? { peerPort: s.peerPort } : {}),
      ...(s.holdTime !== undefined ? { holdTime: s.holdTime } : {}),
      ...(s.keepaliveTime !== undefined ? { keepaliveTime: s.keepaliveTime } : {}),
      ...(s.routerID !== undefined ? { routerID: s.routerID } : {}),
      ...(nodeSelectors !== undefined ? { nodeSelectors } : {}),
      ...(s.password !== undefined ? { password: s.password } : {}),
      ...(s.bfdProfile !== undefined ? { bfdProfile: s.bfdProfile } : {}),
      ...(s.ebgpMultiHop !== undefined ? { ebgpMultiHop: s.ebgpMultiHop } : {})
    }
  }
}

const printerColumns = [
  { name: "Address", type: "string", jsonPath: ".spec.peerAddress" },
  { name: "ASN", type: "string", jsonPath: ".spec.peerASN" },
  { name: "BFD Profile", type: "string", jsonPath: ".spec.bfdProfile" },
  { name: "Multi Hops", type: "string", jsonPath: ".spec.ebgpMultiHop" }
] as const

export const crd: CrdInfo = {
  kind: "BGPPeer",
  plural: "bgppeers",
  singular: "bgppeer",
  versions: [
    {
      name: "v1beta1",
      schema: BGPPeerV1beta1,
      served: true,
      storage: false,
      deprecated: true,
      deprecationWarning: "v1beta1 is deprecated, please use v1beta2",
      printerColumns
    },
    { name: "v1beta2", schema: BGPPeerV1beta2, served: true, storage: true, printerColumns }
  ]
}
