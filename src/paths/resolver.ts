import { podIdentityFromPath } from './identity.ts';
import type { PathMatch } from './types.ts';

export interface PathResolverOptions {
  /** Paths remembered; past it the oldest entry is evicted (default 10 000: more log files than a node has). */
  maxEntries?: number;
}

export interface PathResolver {
  /** `podIdentityFromPath(path)`, parsed once per path. The answer is shared and frozen: do not mutate it. */
  resolve(path: string): PathMatch;
  readonly size: number;
  clear(): void;
}

/**
 * A bounded cache in front of `podIdentityFromPath`: every line of a file carries the same path.
 * Insertion-ordered eviction (the oldest path goes first) keeps a hit to one Map lookup; a true
 * LRU would re-insert on every hit for no gain, since a node's live files fit the bound.
 */
export function createPathResolver(options: PathResolverOptions = {}): PathResolver {
  const maxEntries = options.maxEntries ?? 10_000;
  if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) throw new RangeError(`maxEntries must be a positive integer, got ${maxEntries}`);
  const cache = new Map<string, PathMatch>();
  return {
    resolve(path: string): PathMatch {
      const hit = cache.get(path);
      if (hit !== undefined) return hit;
      const match = podIdentityFromPath(path);
      if (match.ok) Object.freeze(match.identity);
      Object.freeze(match);
      if (typeof path !== 'string') return match; // never cache a non-string key
      if (cache.size >= maxEntries) cache.delete(cache.keys().next().value!);
      cache.set(path, match);
      return match;
    },
    get size() {
      return cache.size;
    },
    clear() {
      cache.clear();
    },
  };
}
