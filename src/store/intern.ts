/**
 * A bounded string pool: label keys and values, images, owner names and namespace names repeat
 * across thousands of pods, and every JSON.parse makes fresh copies of them. Interning keeps one
 * copy. The pool is bounded (it is cleared when full) so pod churn cannot grow it forever; a
 * cleared pool only costs some duplication until it refills.
 */
export class StringInterner {
  readonly #pool = new Map<string, string>();
  readonly #maxEntries: number;
  readonly #maxLength: number;

  constructor(options: { maxEntries?: number; maxLength?: number } = {}) {
    this.#maxEntries = options.maxEntries ?? 200_000;
    // Long values (JSON annotations, certificates) are rarely shared: not worth a pool slot.
    this.#maxLength = options.maxLength ?? 256;
  }

  intern(value: string): string {
    if (value.length > this.#maxLength) return value;
    const pooled = this.#pool.get(value);
    if (pooled !== undefined) return pooled;
    if (this.#pool.size >= this.#maxEntries) this.#pool.clear();
    this.#pool.set(value, value);
    return value;
  }

  get size(): number {
    return this.#pool.size;
  }
}
