/**
 * A Map that never holds more than `maxEntries`: the least recently used entry (read or written) goes first.
 * A Map itself, so code that takes a Map can be handed one.
 */
export class BoundedMap<K, V> extends Map<K, V> {
  constructor(readonly maxEntries: number) {
    super()
  }

  override get(key: K): V | undefined {
    const value = super.get(key)
    if (value !== undefined) {
      super.delete(key)
      super.set(key, value) // most recently used last
    }
    return value
  }

  override set(key: K, value: V): this {
    super.delete(key)
    super.set(key, value)
    for (const oldest of this.keys()) {
      if (this.size <= this.maxEntries) break
      super.delete(oldest)
    }
    return this
  }
}
