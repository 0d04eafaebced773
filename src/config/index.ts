/**
 * `metallb-ts/config`: the metallb.io CRDs and the legacy ConfigMap as Effect Schemas, and their validation into one
 * {@link Config.Config} with MetalLB's rules and error wording. Pure: decoding never touches the cluster.
 *
 * @since 0.1.0
 */

/** The validated configuration model (pools, advertisements, peers, BFD profiles) the other layers consume. */
export * as Config from "./Config.ts"
/** `ConfigError` (field path + reason) and warnings. */
export * as ConfigError from "./ConfigError.ts"
/** `parseConfig(input)`: decoded resources + cluster facts → `Config` or every reason it was rejected. */
export * as Parse from "./Parse.ts"
/** Validation of a list of raw Kubernetes objects (the `config validate` command's engine). */
export * as Objects from "./Objects.ts"
/** Per-kind decoders and encoders of the metallb.io resources, with issues as field paths. */
export * as Resources from "./Resources.ts"
/** BGP communities (standard and large): parse, format, compare. */
export * as Community from "./Community.ts"
/** Go `time.Duration` strings ("1m30s") as nanoseconds. */
export * as Duration from "./Duration.ts"
/** metav1 label selectors: Schema, validation, matching. */
export * as LabelSelector from "./LabelSelector.ts"
/** CustomResourceDefinition objects and YAML generated from the same Schemas. */
export * as CrdGen from "./CrdGen.ts"
/** The legacy `config` ConfigMap of MetalLB 0.7–0.12: its Schema. */
export * as LegacyConfig from "./legacy/LegacyConfig.ts"
/** Conversion of the legacy ConfigMap into metallb.io resources. */
export * as LegacyConvert from "./legacy/Convert.ts"
