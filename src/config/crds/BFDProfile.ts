/**
 * BFDProfile (metallb.io/v1beta1): BFD session parameters a BGPPeer can reference. MetalLB sets no defaults here;
 * the BFD implementation's own defaults apply (300 ms intervals, multiplier 3).
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { int32Between, resource, v1beta1Crd } from "./Common.ts"

const interval = (description: string) => Schema.optionalKey(int32Between(10, 60000).annotate({ description }))

export const BFDProfileSpec = Schema.Struct({
  receiveInterval: interval(
    "The minimum interval that this system is capable of receiving control packets in milliseconds. Defaults to 300ms."
  ),
  transmitInterval: interval(
    "The minimum transmission interval (less jitter) that this system wants to use to send BFD control packets in milliseconds. Defaults to 300ms"
  ),
  detectMultiplier: Schema.optionalKey(
    int32Between(2, 255).annotate({
      description:
        "Configures the detection multiplier to determine packet loss. The remote transmission interval will be multiplied by this value to determine the connection loss detection timer."
    })
  ),
  echoInterval: interval(
    "Configures the minimal echo receive transmission interval that this system is capable of handling in milliseconds. Defaults to 50ms"
  ),
  echoMode: Schema.optionalKey(
    Schema.Boolean.annotate({
      description: "Enables or disables the echo transmission mode. Not supported by metallb-ts: must be unset or false."
    })
  ),
  passiveMode: Schema.optionalKey(
    Schema.Boolean.annotate({
      description:
        "Mark session as passive: a passive session will not attempt to start the connection and will wait for control packets from peer before it begins replying."
    })
  ),
  minimumTtl: Schema.optionalKey(
    int32Between(1, 254).annotate({
      description:
        "For multi hop sessions only: configure the minimum expected TTL for an incoming BFD control packet."
    })
  )
}).annotate({ description: "BFDProfileSpec defines the desired state of BFDProfile." })

export const BFDProfileStatus = Schema.Struct({}).annotate({
  description: "BFDProfileStatus defines the observed state of BFDProfile."
})

export const BFDProfile = resource({
  version: "v1beta1",
  kind: "BFDProfile",
  description:
    "BFDProfile represents the settings of the bfd session that can be optionally associated with a BGP session.",
  spec: BFDProfileSpec,
  status: BFDProfileStatus
})
export type BFDProfile = typeof BFDProfile.Type

export const crd = v1beta1Crd({
  kind: "BFDProfile",
  plural: "bfdprofiles",
  schema: BFDProfile,
  printerColumns: [
      { name: "Passive Mode", type: "boolean", jsonPath: ".spec.passiveMode" },
      { name: "Transmit Interval", type: "integer", jsonPath: ".spec.transmitInterval" },
      { name: "Receive Interval", type: "integer", jsonPath: ".spec.receiveInterval" },
      { name: "Multiplier", type: "integer", jsonPath: ".spec.detectMultiplier" }
    ]
})
