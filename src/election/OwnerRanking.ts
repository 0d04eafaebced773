/**
 * MetalLB's stateless per-IP owner ranking for layer 2 (`sortL2Candidates` in MetalLB's speaker): candidates are
 * ordered by their summed `preferredNodeSelectors` weight (descending), then by SHA-256 of the UTF-8 string
 * `<node>#<ip>` compared bytewise (ascending). `<ip>` is the canonical text of the service's first ingress IP, so both
 * IPs of a dual-stack service, and every service sharing an IP, land on the same node.
 *
 * Every speaker computes the same order from the same inputs: no coordination is needed to agree on an owner.
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"

export interface Candidate {
  readonly node: string
  /** Summed weight of the preferredNodeSelectors that match this node (0 when none). */
  readonly weight: number
}

/** SHA-256 of `node#ip`: the tie-break key. */
export const hashKey = (node: string, ip: string): Buffer => createHash("sha256").update(`${node}#${ip}`, "utf8").digest()

/** Candidates in MetalLB's order; the first one announces. Pure, and stable for equal keys (by node name). */
export const rank = (ip: string, candidates: ReadonlyArray<Candidate>): Array<Candidate> =>
  candidates
    .map((candidate) => ({ candidate, hash: hashKey(candidate.node, ip) }))
    .toSorted((a, b) =>
      b.candidate.weight - a.candidate.weight ||
      Buffer.compare(a.hash, b.hash) ||
      (a.candidate.node < b.candidate.node ? -1 : a.candidate.node > b.candidate.node ? 1 : 0))
    .map(({ candidate }) => candidate)

/** The node that announces `ip`, or `undefined` when there is no candidate. */
export const owner = (ip: string, candidates: ReadonlyArray<Candidate>): string | undefined => rank(ip, candidates)[0]?.node
