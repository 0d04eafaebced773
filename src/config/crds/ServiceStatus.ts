/**
 * ServiceL2Status and ServiceBGPStatus (metallb.io/v1beta1): status-only objects the speakers write to say which
 * node announces a Service, and how.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { resource, v1beta1Crd } from "./Common.ts"

const immutable = (description: string) =>
  Schema.optionalKey(
    Schema.String.annotate({
      description,
      "x-kubernetes-validations": [{ rule: "self == oldSelf", message: "Value is immutable" }]
    })
  )

const common = {
  node: immutable("Node indicates the node that receives the directed traffic"),
  serviceName: immutable("ServiceName indicates the service this status represents"),
  serviceNamespace: immutable("ServiceNamespace indicates the namespace of the service")
}

export const InterfaceInfo = Schema.Struct({
  name: Schema.String.annotate({ description: "Name the name of network interface card" })
}).annotate({ description: "InterfaceInfo defines interface info of layer2 announcement." })

export const MetalLBServiceL2Status = Schema.Struct({
  ...common,
  interfaces: Schema.optionalKey(
    Schema.Array(InterfaceInfo).annotate({
      description: "Interfaces indicates the interfaces that receive the directed traffic"
    })
  )
}).annotate({ description: "MetalLBServiceL2Status defines the observed state of ServiceL2Status." })

export const MetalLBServiceBGPStatus = Schema.Struct({
  ...common,
  peers: Schema.optionalKey(
    Schema.Array(Schema.String).annotate({
      description: "Peers indicate the BGP peers for which the service is configured to be advertised to."
    })
  )
}).annotate({ description: "MetalLBServiceBGPStatus defines the observed state of ServiceBGPStatus." })

const emptySpec = Schema.Struct({})

export const ServiceL2Status = resource({
  version: "v1beta1",
  kind: "ServiceL2Status",
  description: "ServiceL2Status reveals the actual traffic status of loadbalancer services in layer2 mode.",
  spec: emptySpec.annotate({ description: "ServiceL2StatusSpec defines the desired state of ServiceL2Status." }),
  status: MetalLBServiceL2Status
})
export type ServiceL2Status = typeof ServiceL2Status.Type

export const ServiceBGPStatus = resource({
  version: "v1beta1",
  kind: "ServiceBGPStatus",
  description: "ServiceBGPStatus exposes the BGP peers a service is configured to be advertised to, per relevant node.",
  spec: emptySpec.annotate({ description: "ServiceBGPStatusSpec defines the desired state of ServiceBGPStatus." }),
  status: MetalLBServiceBGPStatus
})
export type ServiceBGPStatus = typeof ServiceBGPStatus.Type

export const l2Crd = v1beta1Crd({
  kind: "ServiceL2Status",
  plural: "servicel2statuses",
  schema: ServiceL2Status,
  printerColumns: [
      { name: "Allocated Node", type: "string", jsonPath: ".status.node" },
      { name: "Service Name", type: "string", jsonPath: ".status.serviceName" },
      { name: "Service Namespace", type: "string", jsonPath: ".status.serviceNamespace" }
    ]
})

export const bgpCrd = v1beta1Crd({
  kind: "ServiceBGPStatus",
  plural: "servicebgpstatuses",
  schema: ServiceBGPStatus,
  printerColumns: [
      { name: "Node", type: "string", jsonPath: ".status.node" },
      { name: "Service Name", type: "string", jsonPath: ".status.serviceName" },
      { name: "Service Namespace", type: "string", jsonPath: ".status.serviceNamespace" }
    ]
})
