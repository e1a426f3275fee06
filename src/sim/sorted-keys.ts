/**
 * The keys of one kind in etcd's range order, kept sorted cheaply: additions and removals are only
 * noted, and the next read merges them in (O(n + k log k) for k changes), so a bulk load of n
 * objects costs one sort and a page of a list is a binary search, not a sort of every key.
 * Order is JavaScript's string order (UTF-16 code units), the same as `<` and `Array#sort()`.
 */
export class SortedKeys {
  /** Sorted; may still hold keys in `removed`, never one in `added`. */
  #sorted: string[] = [];
  readonly #added = new Set<string>();
  readonly #removed = new Set<string>();

  get size(): number {
    return this.#sorted.length - this.#removed.size + this.#added.size;
  }

  /** The caller guarantees `key` is not present. */
  add(key: string): void {
    // A key removed and added back before the next read is still in `sorted`.
    if (this.#removed.delete(key)) return;
    this.#added.add(key);
  }

  /** The caller guarantees `key` is present. */
  delete(key: string): void {
    if (this.#added.delete(key)) return;
    this.#removed.add(key);
  }

  /** Every key in order. The array is shared until the next change: do not modify it. */
  keys(): readonly string[] {
    if (this.#removed.size > 0) {
      const removed = this.#removed;
      this.#sorted = this.#sorted.filter((key) => !removed.has(key));
      removed.clear();
    }
    if (this.#added.size > 0) {
      this.#sorted = mergeSorted(this.#sorted, [...this.#added].sort());
      this.#added.clear();
    }
    return this.#sorted;
  }
}

function mergeSorted(a: readonly string[], b: readonly string[]): string[] {
  if (a.length === 0) return b as string[];
  // Appending keys beyond the last one (a load in key order) needs no merge.
  if ((b[0] as string) > (a[a.length - 1] as string)) return a.concat(b);
  const out = new Array<string>(a.length + b.length);
  let i = 0;
  let j = 0;
  let o = 0;
  while (i < a.length && j < b.length) {
    const x = a[i] as string;
    const y = b[j] as string;
    if (x < y) {
      out[o++] = x;
      i++;
    } else {
      out[o++] = y;
      j++;
    }
  }
  while (i < a.length) out[o++] = a[i++] as string;
  while (j < b.length) out[o++] = b[j++] as string;
  return out;
}

/** The first index whose key is >= `key` (keys.length when none). */
export function lowerBound(keys: readonly string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((keys[mid] as string) < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The index range of the keys that start with `prefix` and are >= `from`: keys sharing a prefix
 * are contiguous in this order, so a namespace's objects are one slice.
 */
export function keyRange(keys: readonly string[], prefix: string, from: string): { start: number; end: number } {
  const start = lowerBound(keys, from > prefix ? from : prefix);
  if (prefix === '') return { start, end: keys.length };
  // From `start` on, the keys with the prefix come first: find where they stop.
  let lo = start;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((keys[mid] as string).startsWith(prefix)) lo = mid + 1;
    else hi = mid;
  }
  return { start, end: lo };
}

/** Whether `key` lies in the range keyRange(…, prefix, from) describes. */
export function inKeyRange(key: string, prefix: string, from: string): boolean {
  return key >= from && key.startsWith(prefix);
}
