/**
 * A set of free addresses kept as disjoint, non-adjacent inclusive ranges in a treap keyed by range start.
 *
 * The allocator needs three things per pool and family, each in O(log n) for n ranges: the lowest free address,
 * taking one given address out, and giving one back. Sequential allocation only shrinks the first range in place,
 * so the tree stays tiny until releases fragment the space; even then it holds at most one node per gap. Values are
 * `bigint` so one structure serves IPv4 and IPv6 alike (the callers pass "coordinates", see `Core.ts`).
 *
 * The treap's priorities come from a fixed-seed xorshift generator: the shape, and so the cost, is reproducible.
 *
 * @since 0.1.0
 */

interface Node {
  start: bigint
  end: bigint
  readonly priority: number
  left: Node | undefined
  right: Node | undefined
}

export class FreeSet {
  private root: Node | undefined = undefined
  private seed = 0x2545f491
  private ranges = 0

  /** Builds the set from ascending, disjoint ranges (adjacent ones are merged). */
  static fromRanges(ranges: Iterable<readonly [bigint, bigint]>): FreeSet {
    const set = new FreeSet()
    let pending: [bigint, bigint] | undefined
    for (const [start, end] of ranges) {
      if (start > end) continue
      if (pending !== undefined && start <= pending[1] + 1n) {
        if (end > pending[1]) pending[1] = end
        continue
      }
      if (pending !== undefined) set.insertNode(pending[0], pending[1])
      pending = [start, end]
    }
    if (pending !== undefined) set.insertNode(pending[0], pending[1])
    return set
  }

  /** Number of disjoint free ranges (the tree size). */
  get rangeCount(): number {
    return this.ranges
  }

  /** The lowest free value, if any. */
  first(): bigint | undefined {
    let node = this.root
    if (node === undefined) return undefined
    while (node.left !== undefined) node = node.left
    return node.start
  }

  has(value: bigint): boolean {
    return this.containing(value) !== undefined
  }

  /** Removes `value`; `false` when it was not free. */
  take(value: bigint): boolean {
    const node = this.containing(value)
    if (node === undefined) return false
    if (node.start === node.end) {
      this.deleteNode(node.start)
    } else if (value === node.start) {
      // Keys stay ordered: the next range starts after node.end ≥ value + 1.
      node.start = value + 1n
    } else if (value === node.end) {
      node.end = value - 1n
    } else {
      const tail = node.end
      node.end = value - 1n
      this.insertNode(value + 1n, tail)
    }
    return true
  }

  /** Adds `value` back; `false` when it was already free. */
  give(value: bigint): boolean {
    let before: Node | undefined
    let after: Node | undefined
    let node = this.root
    while (node !== undefined) {
      if (value < node.start) {
        after = node
        node = node.left
      } else if (value > node.end) {
        before = node
        node = node.right
      } else {
        return false
      }
    }
    const joinsBefore = before !== undefined && before.end + 1n === value
    const joinsAfter = after !== undefined && after.start - 1n === value
    if (joinsBefore && joinsAfter && before !== undefined && after !== undefined) {
      const end = after.end
      this.deleteNode(after.start)
      before.end = end
    } else if (joinsBefore && before !== undefined) {
      before.end = value
    } else if (joinsAfter && after !== undefined) {
      after.start = value
    } else {
      this.insertNode(value, value)
    }
    return true
  }

  /** All ranges ascending (for tests and diagnostics). */
  toArray(): Array<readonly [bigint, bigint]> {
    const out: Array<readonly [bigint, bigint]> = []
    const stack: Array<Node> = []
    let node = this.root
    while (node !== undefined || stack.length > 0) {
      while (node !== undefined) {
        stack.push(node)
        node = node.left
      }
      const top = stack.pop()
      if (top === undefined) break
      out.push([top.start, top.end])
      node = top.right
    }
    return out
  }

  private containing(value: bigint): Node | undefined {
    let node = this.root
    while (node !== undefined) {
      if (value < node.start) node = node.left
      else if (value > node.end) node = node.right
      else return node
    }
    return undefined
  }

  private nextPriority(): number {
    let x = this.seed
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    this.seed = x >>> 0
    return this.seed
  }

  private insertNode(start: bigint, end: bigint): void {
    const fresh: Node = { start, end, priority: this.nextPriority(), left: undefined, right: undefined }
    const [left, right] = split(this.root, start)
    this.root = merge(merge(left, fresh), right)
    this.ranges++
  }

  private deleteNode(start: bigint): void {
    const [left, rest] = split(this.root, start)
    const [, right] = split(rest, start + 1n)
    this.root = merge(left, right)
    this.ranges--
  }
}

/** Splits into (starts < key, starts ≥ key). */
const split = (node: Node | undefined, key: bigint): [Node | undefined, Node | undefined] => {
  if (node === undefined) return [undefined, undefined]
  if (node.start < key) {
    const [l, r] = split(node.right, key)
    node.right = l
    return [node, r]
  }
  const [l, r] = split(node.left, key)
  node.left = r
  return [l, node]
}

/** Joins two treaps where every key of `a` is below every key of `b`. */
const merge = (a: Node | undefined, b: Node | undefined): Node | undefined => {
  if (a === undefined) return b
  if (b === undefined) return a
  if (a.priority > b.priority) {
    a.right = merge(a.right, b)
    return a
  }
  b.left = merge(a, b.left)
  return b
}
