/**
 * Compact storage for the allocator's per-Service and per-address records: rows of small integers in one growable
 * `Int32Array`, and strings (or values named by a string) interned with reference counts.
 *
 * At 100k Services an object per record, with its header, its own arrays and its own copies of strings, costs
 * several hundred bytes; a row of `width` int32 columns costs `4 × width` bytes and no work for the garbage
 * collector. References between records are row numbers, names are interned ids.
 *
 * @since 0.1.0
 */

/** Rows of `width` int32 columns; freed rows are reused (their first column links the free list). */
export class Rows {
  readonly width: number
  private data: Int32Array
  private capacity: number
  private used = 0
  private freeHead = -1
  private live = 0

  constructor(width: number, initialCapacity = 64) {
    this.width = width
    this.capacity = initialCapacity
    this.data = new Int32Array(width * initialCapacity)
  }

  /** Rows in use. */
  get size(): number {
    return this.live
  }

  /** A fresh row with every column set to `fill`. */
  alloc(fill: number): number {
    let row = this.freeHead
    if (row >= 0) {
      this.freeHead = this.data[row * this.width] ?? -1
    } else {
      if (this.used === this.capacity) this.grow()
      row = this.used++
    }
    this.data.fill(fill, row * this.width, (row + 1) * this.width)
    this.live++
    return row
  }

  free(row: number): void {
    this.data[row * this.width] = this.freeHead
    this.freeHead = row
    this.live--
  }

  get(row: number, column: number): number {
    return this.data[row * this.width + column] ?? -1
  }

  set(row: number, column: number, value: number): void {
    this.data[row * this.width + column] = value
  }

  /** Forgets every row (capacity is kept). */
  clear(): void {
    this.used = 0
    this.freeHead = -1
    this.live = 0
  }

  private grow(): void {
    // ×1.5 rather than ×2: the spare capacity is what a doubling would waste at 100k rows.
    this.capacity = Math.max(64, Math.ceil(this.capacity * 1.5))
    const data = new Int32Array(this.width * this.capacity)
    data.set(this.data)
    this.data = data
  }
}

/**
 * Values stored once while anything refers to them, by key: `acquire` a key (creating its value on first use),
 * `release` by id. Id 0 is the empty key, permanent and never counted. Keys are compared as Map keys (strings by
 * value, objects by identity).
 */
export class Interner<K, A> {
  private readonly ids = new Map<K, number>()
  private readonly emptyKey: K
  private readonly empty: A
  private readonly keys: Array<K>
  private readonly values: Array<A>
  private readonly refs: Array<number> = [0]
  private readonly freeIds: Array<number> = []

  /** `emptyKey` is id 0 and stands for `emptyValue`. */
  constructor(emptyKey: K, emptyValue: A) {
    this.emptyKey = emptyKey
    this.empty = emptyValue
    this.keys = [emptyKey]
    this.values = [emptyValue]
  }

  /** Distinct keys currently held (the empty one excluded). */
  get size(): number {
    return this.ids.size
  }

  acquire(key: K, make: (key: K) => A): number {
    if (key === this.emptyKey) return 0
    const known = this.ids.get(key)
    if (known !== undefined) {
      this.refs[known] = (this.refs[known] ?? 0) + 1
      return known
    }
    const id = this.freeIds.pop() ?? this.keys.length
    this.ids.set(key, id)
    this.keys[id] = key
    this.values[id] = make(key)
    this.refs[id] = 1
    return id
  }

  release(id: number): void {
    if (id === 0) return
    const left = (this.refs[id] ?? 1) - 1
    this.refs[id] = left
    if (left > 0) return
    this.ids.delete(this.key(id))
    this.keys[id] = this.emptyKey
    this.values[id] = this.empty
    this.freeIds.push(id)
  }

  key(id: number): K {
    return this.keys[id] ?? this.emptyKey
  }

  value(id: number): A {
    return this.values[id] ?? this.empty
  }

  clear(): void {
    this.ids.clear()
    this.keys.length = 1
    this.values.length = 1
    this.refs.length = 1
    this.freeIds.length = 0
  }
}
