/**
 * Server-side printing: `meta.k8s.io/v1` Tables for `kubectl get`, with the upstream column conventions for the
 * built-in kinds, CRD `additionalPrinterColumns` evaluated with a small JSONPath, and Kubernetes' HumanDuration ages.
 */
import { type Json, type JsonObject, arr, isArray, isObject, obj, str } from "./Json.ts"
import type { PrinterColumn, ResourceType } from "./Registry.ts"
import { metadataOf, nameOf } from "./Store.ts"

/** k8s.io/apimachinery/pkg/util/duration.HumanDuration. */
export const humanDuration = (ms: number): string => {
  const seconds = Math.floor(ms / 1000)
  if (seconds < -1) return "<invalid>"
  if (seconds < 0) return "0s"
  if (seconds < 120) return `${seconds}s`
  const minutes = Math.floor(seconds / 60)
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`
  if (minutes < 180) return `${minutes}m`
  const hours = Math.floor(seconds / 3600)
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`
  if (hours < 48) return `${hours}h`
  const days = Math.floor(hours / 24)
  if (hours < 24 * 8) return hours % 24 === 0 ? `${days}d` : `${days}d${hours % 24}h`
  if (days < 365 * 2) return `${days}d`
  const years = Math.floor(days / 365)
  if (years < 8) return days % 365 === 0 ? `${years}y` : `${years}y${days % 365}d`
  return `${years}y`
}

const ageOf = (time: Json | undefined, now: Date): string => {
  const t = typeof time === "string" ? Date.parse(time) : Number.NaN
  return Number.isNaN(t) ? "<unknown>" : humanDuration(now.getTime() - t)
}

/**
 * The JSONPath subset CRD printer columns use: `.a.b`, `.a[0]`, `.a[*].b`, `.a['x.y']`. Returns every match.
 */
export const jsonPath = (root: Json, path: string): ReadonlyArray<Json> => {
  const expr = path.trim().replace(/^\{(.*)\}$/, "$1").replace(/^\$/, "")
  const tokens: Array<string | number | "*"> = []
  const re = /\.([^.[\]]+)|\[\s*'([^']*)'\s*\]|\[\s*"([^"]*)"\s*\]|\[\s*(\d+|\*)\s*\]/y
  let m: RegExpExecArray | null
  while (re.lastIndex < expr.length && (m = re.exec(expr)) !== null) {
    const key = m[1] ?? m[2] ?? m[3]
    if (key !== undefined) tokens.push(key)
    else tokens.push(m[4] === "*" ? "*" : Number(m[4]))
  }
  if (re.lastIndex !== expr.length && expr.length > 0) return []
  let current: Array<Json> = [root]
  for (const token of tokens) {
    const next: Array<Json> = []
    for (const value of current) {
      if (token === "*") {
        if (isArray(value)) next.push(...value)
        else if (isObject(value)) next.push(...Object.values(value))
      } else if (typeof token === "number") {
        const v = isArray(value) ? value[token] : undefined
        if (v !== undefined) next.push(v)
      } else if (isObject(value) && value[token] !== undefined) next.push(value[token] ?? null)
    }
    current = next
  }
  return current
}

interface Column {
  readonly name: string
  readonly type: string
  readonly format?: string
  readonly priority?: number
  readonly description?: string
}

interface Printer {
  readonly columns: ReadonlyArray<Column>
  readonly cells: (o: JsonObject, now: Date) => ReadonlyArray<Json>
}

const nameColumn: Column = { name: "Name", type: "string", format: "name", description: "Name must be unique within a namespace." }
const ageColumn: Column = { name: "Age", type: "string" }
const created = (o: JsonObject, now: Date) => ageOf(metadataOf(o)["creationTimestamp"], now)
const strings = (v: Json | undefined): ReadonlyArray<string> => arr(v).flatMap((x) => (typeof x === "string" ? [x] : []))
const orNone = (s: string): string => (s === "" ? "<none>" : s)
const selectorText = (v: Json | undefined): string =>
  orNone(
    Object.entries(obj(v))
      .toSorted(([a], [b]) => a.localeCompare(b))
      .map(([k, x]) => `${k}=${String(x)}`)
      .join(",")
  )

const serviceExternalIp = (svc: JsonObject): string => {
  const spec = obj(svc["spec"])
  const external = strings(spec["externalIPs"])
  switch (spec["type"]) {
    case "ExternalName":
      return str(spec["externalName"]) ?? "<none>"
    case "LoadBalancer": {
      const ingress = arr(obj(obj(svc["status"])["loadBalancer"])["ingress"]).flatMap((i) => {
        const e = obj(i)
        const v = str(e["ip"]) ?? str(e["hostname"])
        return v === undefined || v === "" ? [] : [v]
      })
      const all = [...[...new Set(ingress)].toSorted(), ...external]
      return all.length === 0 ? "<pending>" : all.join(",")
    }
    default:
      return orNone(external.join(","))
  }
}

const servicePorts = (svc: JsonObject): string =>
  orNone(
    arr(obj(svc["spec"])["ports"])
      .map((raw) => {
        const p = obj(raw)
        const proto = str(p["protocol"]) ?? "TCP"
        const nodePort = p["nodePort"]
        return typeof nodePort === "number" && nodePort > 0
          ? `${String(p["port"])}:${nodePort}/${proto}`
          : `${String(p["port"])}/${proto}`
      })
      .join(",")
  )

const containers = (podSpec: JsonObject) => arr(podSpec["containers"]).map(obj)

const podReady = (pod: JsonObject): string => {
  const statuses = arr(obj(pod["status"])["containerStatuses"]).map(obj)
  return `${statuses.filter((s) => s["ready"] === true).length}/${containers(obj(pod["spec"])).length}`
}

const workloadExtras: ReadonlyArray<Column> = [
  { name: "Containers", type: "string", priority: 1 },
  { name: "Images", type: "string", priority: 1 },
  { name: "Selector", type: "string", priority: 1 }
]
const workloadExtraCells = (o: JsonObject): ReadonlyArray<Json> => {
  const spec = obj(o["spec"])
  const cs = containers(obj(obj(spec["template"])["spec"]))
  return [
    cs.map((c) => str(c["name"]) ?? "").join(","),
    cs.map((c) => str(c["image"]) ?? "").join(","),
    selectorText(obj(spec["selector"])["matchLabels"])
  ]
}
const num = (v: Json | undefined): number => (typeof v === "number" ? v : 0)

const bindingPrinter: Printer = {
  columns: [
    nameColumn,
    { name: "Role", type: "string" },
    ageColumn,
    { name: "Users", type: "string", priority: 1 },
    { name: "Groups", type: "string", priority: 1 },
    { name: "ServiceAccounts", type: "string", priority: 1 }
  ],
  cells: (o, now) => {
    const subjects = arr(o["subjects"]).map(obj)
    const of = (kind: string) =>
      subjects
        .filter((x) => x["kind"] === kind)
        .map((x) => (kind === "ServiceAccount" ? `${str(x["namespace"]) ?? ""}:${str(x["name"]) ?? ""}` : (str(x["name"]) ?? "")))
        .join(", ")
    const role = obj(o["roleRef"])
    return [nameOf(o), `${str(role["kind"]) ?? ""}/${str(role["name"]) ?? ""}`, created(o, now), of("User"), of("Group"), of("ServiceAccount")]
  }
}

const printers: Readonly<Record<string, Printer>> = {
  "/Service": {
    columns: [
      nameColumn,
      { name: "Type", type: "string" },
      { name: "Cluster-IP", type: "string" },
      { name: "External-IP", type: "string" },
      { name: "Port(s)", type: "string" },
      ageColumn,
      { name: "Selector", type: "string", priority: 1 }
    ],
    cells: (o, now) => {
      const spec = obj(o["spec"])
      return [
        nameOf(o),
        str(spec["type"]) ?? "ClusterIP",
        strings(spec["clusterIPs"])[0] ?? str(spec["clusterIP"]) ?? "<none>",
        serviceExternalIp(o),
        servicePorts(o),
        created(o, now),
        selectorText(spec["selector"])
      ]
    }
  },
  "/Namespace": {
    columns: [nameColumn, { name: "Status", type: "string" }, ageColumn],
    cells: (o, now) => [nameOf(o), str(obj(o["status"])["phase"]) ?? "", created(o, now)]
  },
  "/ConfigMap": {
    columns: [nameColumn, { name: "Data", type: "integer" }, ageColumn],
    cells: (o, now) => [nameOf(o), Object.keys(obj(o["data"])).length + Object.keys(obj(o["binaryData"])).length, created(o, now)]
  },
  "/Secret": {
    columns: [nameColumn, { name: "Type", type: "string" }, { name: "Data", type: "integer" }, ageColumn],
    cells: (o, now) => [nameOf(o), str(o["type"]) ?? "Opaque", Object.keys(obj(o["data"])).length, created(o, now)]
  },
  "/ServiceAccount": {
    columns: [nameColumn, { name: "Secrets", type: "integer" }, ageColumn],
    cells: (o, now) => [nameOf(o), arr(o["secrets"]).length, created(o, now)]
  },
  "/Node": {
    columns: [
      nameColumn,
      { name: "Status", type: "string" },
      { name: "Roles", type: "string" },
      ageColumn,
      { name: "Version", type: "string" },
      { name: "Internal-IP", type: "string", priority: 1 },
      { name: "External-IP", type: "string", priority: 1 }
    ],
    cells: (o, now) => {
      const status = obj(o["status"])
      const ready = arr(status["conditions"]).map(obj).find((c) => c["type"] === "Ready")
      const roles = Object.keys(obj(metadataOf(o)["labels"]))
        .filter((k) => k.startsWith("node-role.kubernetes.io/"))
        .map((k) => k.slice("node-role.kubernetes.io/".length))
      const address = (type: string) =>
        arr(status["addresses"]).map(obj).find((a) => a["type"] === type)?.["address"] ?? "<none>"
      const state = ready === undefined ? "Unknown" : ready["status"] === "True" ? "Ready" : "NotReady"
      return [
        nameOf(o),
        obj(o["spec"])["unschedulable"] === true ? `${state},SchedulingDisabled` : state,
        orNone(roles.join(",")),
        created(o, now),
        str(obj(status["nodeInfo"])["kubeletVersion"]) ?? "",
        address("InternalIP"),
        address("ExternalIP")
      ]
    }
  },
  "/Pod": {
    columns: [
      nameColumn,
      { name: "Ready", type: "string" },
      { name: "Status", type: "string" },
      { name: "Restarts", type: "string" },
      ageColumn,
      { name: "IP", type: "string", priority: 1 },
      { name: "Node", type: "string", priority: 1 }
    ],
    cells: (o, now) => {
      const status = obj(o["status"])
      const restarts = arr(status["containerStatuses"]).reduce<number>((n, s) => n + num(obj(s)["restartCount"]), 0)
      return [
        nameOf(o),
        podReady(o),
        str(status["reason"]) ?? str(status["phase"]) ?? "Pending",
        String(restarts),
        created(o, now),
        str(status["podIP"]) ?? "<none>",
        str(obj(o["spec"])["nodeName"]) ?? "<none>"
      ]
    }
  },
  "/Endpoints": {
    columns: [nameColumn, { name: "Endpoints", type: "string" }, ageColumn],
    cells: (o, now) => {
      const eps = arr(o["subsets"]).flatMap((s) => {
        const ports = arr(obj(s)["ports"]).map((p) => num(obj(p)["port"]))
        return arr(obj(s)["addresses"]).flatMap((a) => ports.map((p) => `${str(obj(a)["ip"]) ?? ""}:${p}`))
      })
      return [nameOf(o), orNone(eps.join(",")), created(o, now)]
    }
  },
  "/Event": {
    columns: [
      { name: "Last Seen", type: "string" },
      { name: "Type", type: "string" },
      { name: "Reason", type: "string" },
      { name: "Object", type: "string" },
      { name: "Message", type: "string" },
      { ...nameColumn, priority: 1 }
    ],
    cells: (o, now) => {
      const inv = obj(o["involvedObject"])
      return [
        ageOf(o["lastTimestamp"] ?? o["eventTime"] ?? metadataOf(o)["creationTimestamp"], now),
        str(o["type"]) ?? "",
        str(o["reason"]) ?? "",
        `${(str(inv["kind"]) ?? "").toLowerCase()}/${str(inv["name"]) ?? ""}`,
        str(o["message"]) ?? "",
        nameOf(o)
      ]
    }
  },
  "discovery.k8s.io/EndpointSlice": {
    columns: [nameColumn, { name: "AddressType", type: "string" }, { name: "Ports", type: "string" }, { name: "Endpoints", type: "string" }, ageColumn],
    cells: (o, now) => [
      nameOf(o),
      str(o["addressType"]) ?? "",
      orNone(arr(o["ports"]).map((p) => String(obj(p)["port"] ?? "")).join(",")),
      orNone(arr(o["endpoints"]).flatMap((e) => strings(obj(e)["addresses"])).join(",")),
      created(o, now)
    ]
  },
  "coordination.k8s.io/Lease": {
    columns: [nameColumn, { name: "Holder", type: "string" }, ageColumn],
    cells: (o, now) => [nameOf(o), str(obj(o["spec"])["holderIdentity"]) ?? "", created(o, now)]
  },
  "admissionregistration.k8s.io/ValidatingWebhookConfiguration": {
    columns: [nameColumn, { name: "Webhooks", type: "integer" }, ageColumn],
    cells: (o, now) => [nameOf(o), arr(o["webhooks"]).length, created(o, now)]
  },
  "rbac.authorization.k8s.io/RoleBinding": bindingPrinter,
  "rbac.authorization.k8s.io/ClusterRoleBinding": bindingPrinter,
  "apps/Deployment": {
    columns: [nameColumn, { name: "Ready", type: "string" }, { name: "Up-to-date", type: "integer" }, { name: "Available", type: "integer" }, ageColumn, ...workloadExtras],
    cells: (o, now) => {
      const status = obj(o["status"])
      return [
        nameOf(o),
        `${num(status["readyReplicas"])}/${num(obj(o["spec"])["replicas"])}`,
        num(status["updatedReplicas"]),
        num(status["availableReplicas"]),
        created(o, now),
        ...workloadExtraCells(o)
      ]
    }
  },
  "apps/DaemonSet": {
    columns: [
      nameColumn,
      { name: "Desired", type: "integer" },
      { name: "Current", type: "integer" },
      { name: "Ready", type: "integer" },
      { name: "Up-to-date", type: "integer" },
      { name: "Available", type: "integer" },
      { name: "Node Selector", type: "string" },
      ageColumn,
      ...workloadExtras
    ],
    cells: (o, now) => {
      const status = obj(o["status"])
      return [
        nameOf(o),
        num(status["desiredNumberScheduled"]),
        num(status["currentNumberScheduled"]),
        num(status["numberReady"]),
        num(status["updatedNumberScheduled"]),
        num(status["numberAvailable"]),
        selectorText(obj(obj(obj(o["spec"])["template"])["spec"])["nodeSelector"]),
        created(o, now),
        ...workloadExtraCells(o)
      ]
    }
  }
}

/** Kinds without a printer upstream show the raw creation timestamp. */
const defaultPrinter: Printer = {
  columns: [nameColumn, { name: "Created At", type: "date" }],
  cells: (o) => [nameOf(o), metadataOf(o)["creationTimestamp"] ?? null]
}

/** A JSONPath result printed the way the apiserver's table convertor prints a string column. */
const printString = (v: Json): string => (typeof v === "string" ? v : JSON.stringify(v))

const customPrinter = (columns: ReadonlyArray<PrinterColumn>): Printer => {
  // Only CRDs without printer columns get the default Age column.
  if (columns.length === 0) return { columns: [nameColumn, ageColumn], cells: (o, now) => [nameOf(o), created(o, now)] }
  return {
    columns: [nameColumn, ...columns],
    cells: (o, now) => [
      nameOf(o),
      ...columns.map((c): Json => {
        const v = jsonPath(o, c.jsonPath)[0]
        if (v === undefined || v === null) return null
        switch (c.type) {
          case "date":
            return ageOf(v, now)
          case "string":
            return printString(v)
          default:
            return v
        }
      })
    ]
  }
}

const printerFor = (type: ResourceType, version: string): Printer =>
  type.custom !== undefined
    ? customPrinter(type.custom.printerColumns[version] ?? [])
    : (printers[`${type.group}/${type.kind}`] ?? defaultPrinter)

export type IncludeObject = "None" | "Metadata" | "Object"

const rowObject = (o: JsonObject, include: IncludeObject): JsonObject | undefined => {
  if (include === "None") return undefined
  if (include === "Object") return o
  return { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: metadataOf(o) }
}

/** A Table of the objects; `withColumns` false leaves out column definitions (watch events after the first). */
export const toTable = (
  type: ResourceType,
  version: string,
  objects: ReadonlyArray<JsonObject>,
  options: { readonly resourceVersion: string; readonly include: IncludeObject; readonly now: Date; readonly withColumns?: boolean }
): JsonObject => {
  const printer = printerFor(type, version)
  return {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata: { resourceVersion: options.resourceVersion },
    columnDefinitions:
      options.withColumns === false
        ? []
        : printer.columns.map((c) => ({
            name: c.name,
            type: c.type,
            format: c.format ?? "",
            description: c.description ?? "",
            priority: c.priority ?? 0
          })),
    rows: objects.map((o) => {
      const object = rowObject(o, options.include)
      return { cells: printer.cells(o, options.now), ...(object === undefined ? {} : { object }) }
    })
  }
}
