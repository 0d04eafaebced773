/**
 * Defaulting and the small amount of validation the in-memory server does, per kind: what controllers and
 * kubectl's describers rely on (Service cluster IPs, families, node ports and policies; Namespace labels and phase;
 * CRD conditions; CRD schema defaults for custom resources).
 */
import { isIPv4, isIPv6 } from "node:net"
import type { Cause } from "./Errors.ts"
import { type Json, type JsonObject, arr, clone, isArray, isObject, obj, str } from "./Json.ts"

export type Mutable = Record<string, Json>

const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
const dns1035Label = /^[a-z]([-a-z0-9]*[a-z0-9])?$/

/** Name rules every object shares (path-segment safety), plus the stricter per-kind ones. */
export const validateName = (kind: string, name: string): ReadonlyArray<Cause> => {
  const causes: Array<Cause> = []
  const bad = (message: string) => causes.push({ reason: "FieldValueInvalid", message, field: "metadata.name" })
  if (name === "." || name === ".." || name.includes("/") || name.includes("%")) {
    bad(`Invalid value: "${name}": may not be '.' or '..' and may not contain '/' or '%'`)
  } else if (name.length > 253) bad(`Invalid value: "${name}": must be no more than 253 characters`)
  if (kind === "Namespace" && (!dns1123Label.test(name) || name.length > 63)) {
    bad(`Invalid value: "${name}": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'`)
  }
  if (kind === "Service" && (!dns1035Label.test(name) || name.length > 63)) {
    bad(`Invalid value: "${name}": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character`)
  }
  return causes
}

// ---------------------------------------------------------------------------------------------------------------
// Services

export interface Allocations {
  /** Cluster IPs held by other Services. */
  readonly clusterIPs: ReadonlySet<string>
  /** Node ports held by other Services. */
  readonly nodePorts: ReadonlySet<number>
}

const serviceTypes = ["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"]
const protocols = ["TCP", "UDP", "SCTP"]

const familyOf = (ip: string): "IPv4" | "IPv6" | undefined => (isIPv4(ip) ? "IPv4" : isIPv6(ip) ? "IPv6" : undefined)

/** The documentation-safe, never-routed ranges cluster IPs come from inside this server. */
const allocateIp = (family: "IPv4" | "IPv6", used: ReadonlySet<string>): string | undefined => {
  for (let i = 10; i < 0xffff; i++) {
    const ip = family === "IPv4" ? `10.96.${i >> 8}.${i & 0xff}` : `fd00:10:96::${i.toString(16)}`
    if (!used.has(ip)) return ip
  }
  return undefined
}

const allocateNodePort = (used: Set<number>): number | undefined => {
  for (let p = 30000; p <= 32767; p++) {
    if (!used.has(p)) {
      used.add(p)
      return p
    }
  }
  return undefined
}

/**
 * Defaults a Service spec the way the real apiserver does for the fields controllers and describers read, carrying
 * immutable allocations over from the previous version. Returns the causes when the spec is invalid.
 */
export const defaultService = (
  svc: Mutable,
  previous: JsonObject | undefined,
  allocations: Allocations
): ReadonlyArray<Cause> => {
  const causes: Array<Cause> = []
  const bad = (field: string, message: string) => causes.push({ reason: "FieldValueInvalid", field, message })
  const spec: Mutable = { ...obj(svc["spec"]) }
  const prevSpec = obj(previous?.["spec"])
  const type = str(spec["type"]) ?? "ClusterIP"
  spec["type"] = type
  if (!serviceTypes.includes(type)) bad("spec.type", `Unsupported value: "${type}": supported values: ${serviceTypes.map((t) => `"${t}"`).join(", ")}`)
  spec["sessionAffinity"] ??= "None"

  const usedPorts = new Set(allocations.nodePorts)
  const prevPorts = arr(prevSpec["ports"]).filter(isObject)
  const needsNodePorts = type === "NodePort" || (type === "LoadBalancer" && spec["allocateLoadBalancerNodePorts"] !== false)
  const ports = arr(spec["ports"]).map((raw, i): Json => {
    const p: Mutable = { ...obj(raw) }
    const port = p["port"]
    if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) {
      bad(`spec.ports[${i}].port`, `Invalid value: ${JSON.stringify(port ?? null)}: must be between 1 and 65535, inclusive`)
    }
    p["protocol"] ??= "TCP"
    if (!protocols.includes(String(p["protocol"]))) bad(`spec.ports[${i}].protocol`, `Unsupported value: "${String(p["protocol"])}"`)
    p["targetPort"] ??= port ?? null
    if (type === "ClusterIP" || type === "ExternalName") delete p["nodePort"]
    else if (p["nodePort"] === undefined) {
      const old = prevPorts.find((o) => o["port"] === port && (o["protocol"] ?? "TCP") === p["protocol"])
      if (typeof old?.["nodePort"] === "number") p["nodePort"] = old["nodePort"]
      else if (needsNodePorts) {
        const allocated = allocateNodePort(usedPorts)
        if (allocated === undefined) bad(`spec.ports[${i}].nodePort`, "Internal error: no node ports left")
        else p["nodePort"] = allocated
      }
    } else if (typeof p["nodePort"] === "number" && allocations.nodePorts.has(p["nodePort"])) {
      bad(`spec.ports[${i}].nodePort`, `Invalid value: ${p["nodePort"]}: provided port is already allocated`)
    }
    return p
  })
  if (spec["ports"] !== undefined || type !== "ExternalName") spec["ports"] = ports

  if (type === "ExternalName") {
    delete spec["clusterIP"]
    delete spec["clusterIPs"]
    delete spec["ipFamilies"]
    delete spec["ipFamilyPolicy"]
  } else {
    defaultClusterIPs(spec, prevSpec, allocations, bad)
    spec["internalTrafficPolicy"] ??= "Cluster"
  }
  if (type === "LoadBalancer" || type === "NodePort") spec["externalTrafficPolicy"] ??= "Cluster"
  else delete spec["externalTrafficPolicy"]
  if (type === "LoadBalancer") spec["allocateLoadBalancerNodePorts"] ??= true
  svc["spec"] = spec
  svc["status"] ??= { loadBalancer: {} }
  return causes
}

const defaultClusterIPs = (
  spec: Mutable,
  prevSpec: JsonObject,
  allocations: Allocations,
  bad: (field: string, message: string) => void
): void => {
  const prevIPs = arr(prevSpec["clusterIPs"]).flatMap((x) => (typeof x === "string" ? [x] : []))
  let ips = arr(spec["clusterIPs"]).flatMap((x) => (typeof x === "string" ? [x] : []))
  const single = str(spec["clusterIP"])
  if (ips.length === 0 && single !== undefined && single !== "") ips = [single]
  if (ips.length === 0 && prevIPs.length > 0) ips = prevIPs
  if (prevIPs.length > 0 && ips[0] !== prevIPs[0]) {
    bad("spec.clusterIPs[0]", `Invalid value: ${JSON.stringify(ips)}: may not change once set`)
    return
  }
  if (ips[0] === "None") {
    spec["clusterIP"] = "None"
    spec["clusterIPs"] = ["None"]
    spec["ipFamilies"] ??= ["IPv4"]
    spec["ipFamilyPolicy"] ??= "SingleStack"
    return
  }
  let families = arr(spec["ipFamilies"]).flatMap((x) => (typeof x === "string" ? [x] : []))
  for (const [i, ip] of ips.entries()) {
    const family = familyOf(ip)
    if (family === undefined) {
      bad(`spec.clusterIPs[${i}]`, `Invalid value: "${ip}": must be a valid IP address`)
      return
    }
    if (families[i] === undefined) families[i] = family
    else if (families[i] !== family) bad(`spec.clusterIPs[${i}]`, `Invalid value: "${ip}": expected an ${families[i]} value`)
    if (!prevIPs.includes(ip) && allocations.clusterIPs.has(ip)) {
      bad(`spec.clusterIPs[${i}]`, `Invalid value: "${ip}": provided IP is already allocated`)
    }
  }
  if (families.length === 0) families = [str(prevSpec["ipFamilies"]) ?? "IPv4"]
  const policy = str(spec["ipFamilyPolicy"]) ?? str(prevSpec["ipFamilyPolicy"]) ?? "SingleStack"
  if (!["SingleStack", "PreferDualStack", "RequireDualStack"].includes(policy)) {
    bad("spec.ipFamilyPolicy", `Unsupported value: "${policy}"`)
    return
  }
  if (policy !== "SingleStack" && families.length === 1) families.push(families[0] === "IPv6" ? "IPv4" : "IPv6")
  if (policy === "SingleStack" && families.length > 1) {
    bad("spec.ipFamilies", `Invalid value: ${JSON.stringify(families)}: when spec.ipFamilyPolicy is SingleStack, only one family may be given`)
    return
  }
  for (const [i, family] of families.entries()) {
    if (family !== "IPv4" && family !== "IPv6") {
      bad(`spec.ipFamilies[${i}]`, `Unsupported value: "${family}": supported values: "IPv4", "IPv6"`)
      return
    }
    if (ips[i] === undefined) {
      const ip = allocateIp(family, allocations.clusterIPs)
      if (ip === undefined) {
        bad(`spec.clusterIPs[${i}]`, "Internal error: no cluster IPs left")
        return
      }
      ips[i] = ip
    }
  }
  spec["clusterIP"] = ips[0] ?? ""
  spec["clusterIPs"] = ips
  spec["ipFamilies"] = families
  spec["ipFamilyPolicy"] = policy
}

// ---------------------------------------------------------------------------------------------------------------
// Other built-in kinds

export const defaultNamespace = (ns: Mutable, name: string): void => {
  const metadata: Mutable = { ...obj(ns["metadata"]) }
  metadata["labels"] = { ...obj(metadata["labels"]), "kubernetes.io/metadata.name": name }
  ns["metadata"] = metadata
  ns["spec"] ??= { finalizers: ["kubernetes"] }
  ns["status"] = { phase: "Active", ...obj(ns["status"]) }
}

export const defaultDeployment = (d: Mutable): void => {
  const spec: Mutable = { ...obj(d["spec"]) }
  spec["replicas"] ??= 1
  spec["strategy"] ??= { type: "RollingUpdate", rollingUpdate: { maxUnavailable: "25%", maxSurge: "25%" } }
  spec["revisionHistoryLimit"] ??= 10
  spec["progressDeadlineSeconds"] ??= 600
  d["spec"] = spec
}

export const defaultDaemonSet = (d: Mutable): void => {
  const spec: Mutable = { ...obj(d["spec"]) }
  spec["updateStrategy"] ??= { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } }
  spec["revisionHistoryLimit"] ??= 10
  d["spec"] = spec
}

export const defaultConfigMapLike = (kind: string, cm: JsonObject): ReadonlyArray<Cause> => {
  const causes: Array<Cause> = []
  for (const field of ["data", "binaryData", "stringData"]) {
    for (const key of Object.keys(obj(cm[field]))) {
      if (!/^[-._a-zA-Z0-9]+$/.test(key) || key.length > 253) {
        causes.push({
          reason: "FieldValueInvalid",
          field: `${field}[${key}]`,
          message: `Invalid value: "${key}": a valid ${kind} key must consist of alphanumeric characters, '-', '_' or '.'`
        })
      }
    }
  }
  return causes
}

/** CRDs are accepted and established at once: there is no controller behind them here. */
export const defaultCrd = (crd: Mutable, now: string): void => {
  const spec = obj(crd["spec"])
  const names = obj(spec["names"])
  const kind = str(names["kind"]) ?? ""
  const condition = (type: string, reason: string, message: string): Json => ({
    type,
    status: "True",
    lastTransitionTime: now,
    reason,
    message
  })
  const storage = arr(spec["versions"])
    .filter(isObject)
    .filter((v) => v["storage"] === true)
    .map((v) => str(v["name"]) ?? "")
  crd["status"] = {
    acceptedNames: { ...names, singular: str(names["singular"]) ?? kind.toLowerCase(), listKind: str(names["listKind"]) ?? `${kind}List` },
    conditions: [
      condition("NamesAccepted", "NoConflicts", "no conflicts found"),
      condition("Established", "InitialNamesAccepted", "the initial names have been accepted")
    ],
    storedVersions: storage
  }
}

/** Applies `default` values of a structural OpenAPI v3 schema, the way the apiserver does for custom resources. */
export const applySchemaDefaults = (value: Json, schema: Json): Json => {
  if (!isObject(schema)) return value
  if (isObject(value)) {
    const props = obj(schema["properties"])
    const out: Mutable = { ...value }
    for (const [k, propSchema] of Object.entries(props)) {
      const current = out[k]
      if (current === undefined) {
        const def = obj(propSchema)["default"]
        if (def !== undefined) out[k] = applySchemaDefaults(clone(def), propSchema)
      } else out[k] = applySchemaDefaults(current, propSchema)
    }
    const additional = schema["additionalProperties"]
    if (isObject(additional)) {
      for (const k of Object.keys(out)) if (!(k in props)) out[k] = applySchemaDefaults(out[k] ?? null, additional)
    }
    return out
  }
  if (isArray(value) && isObject(schema["items"])) {
    const items = schema["items"]
    return value.map((v) => applySchemaDefaults(v, items))
  }
  return value
}
