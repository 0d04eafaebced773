/**
 * ConfigurationState (metallb.io/v1beta1): status-only object per component (controller, each speaker) saying
 * whether its last configuration was valid, and why not.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { int64Between, resource, v1beta1Crd } from "./Common.ts"

export const ConfigurationResult = Schema.Literals(["Valid", "Invalid", "Unknown"]).annotate({
  description: "Result indicates the configuration validation result."
})
export type ConfigurationResult = typeof ConfigurationResult.Type

/** The standard `metav1.Condition`. */
export const Condition = Schema.Struct({
  type: Schema.String.check(
    Schema.isMaxLength(316),
    Schema.isPattern(/^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$/u)
  ).annotate({ description: "type of condition in CamelCase or in foo.example.com/CamelCase." }),
  status: Schema.Literals(["True", "False", "Unknown"]).annotate({ description: "status of the condition, one of True, False, Unknown." }),
  observedGeneration: Schema.optionalKey(
    int64Between(0, Number.MAX_SAFE_INTEGER).annotate({
      description: "observedGeneration represents the .metadata.generation that the condition was set based upon."
    })
  ),
  lastTransitionTime: Schema.String.annotate({
    format: "date-time",
    description: "lastTransitionTime is the last time the condition transitioned from one status to another."
  }),
  reason: Schema.String.check(
    Schema.isMinLength(1),
    Schema.isMaxLength(1024),
    Schema.isPattern(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/u)
  ).annotate({
    description:
      "reason contains a programmatic identifier indicating the reason for the condition's last transition."
  }),
  message: Schema.String.check(Schema.isMaxLength(32768)).annotate({
    description: "message is a human readable message indicating details about the transition."
  })
}).annotate({ description: "Condition contains details for one aspect of the current state of this API Resource." })
export type Condition = typeof Condition.Type

export const ConfigurationStateStatus = Schema.Struct({
  result: Schema.optionalKey(ConfigurationResult),
  errorSummary: Schema.optionalKey(
    Schema.String.annotate({ description: "ErrorSummary contains the aggregated error messages from reconciliation failures." })
  ),
  conditions: Schema.optionalKey(
    Schema.Array(Condition).annotate({
      description: "Conditions contains the status conditions from the reconcilers running in this component.",
      "x-kubernetes-list-map-keys": ["type"],
      "x-kubernetes-list-type": "map"
    })
  )
}).annotate({ description: "ConfigurationStateStatus defines the observed state of ConfigurationState." })

export const ConfigurationState = resource({
  version: "v1beta1",
  kind: "ConfigurationState",
  description:
    "ConfigurationState is a status-only CRD that reports configuration validation results from MetalLB components.",
  spec: Schema.Struct({}).annotate({ description: "ConfigurationStateSpec is empty: the object only carries status." }),
  status: ConfigurationStateStatus
})
export type ConfigurationState = typeof ConfigurationState.Type

export const crd = v1beta1Crd({
  kind: "ConfigurationState",
  plural: "configurationstates",
  schema: ConfigurationState,
  printerColumns: [
      { name: "Result", type: "string", jsonPath: ".status.result" },
      { name: "ErrorSummary", type: "string", jsonPath: ".status.errorSummary" },
      { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" }
    ]
})
