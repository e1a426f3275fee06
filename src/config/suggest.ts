/** "Did you mean" for mistyped keys, variables, flags and enum values. */

// Case, "-" and "_" differences are the commonest slips (max_body_bytes, maxbodybytes, --node_name).
function normalise(word: string): string {
  return word.toLowerCase().replace(/[-_]/g, '');
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/**
 * The closest candidate, if close enough to be a plausible typo (at most `maxDistance` edits,
 * by default about a third of the word); ties go to the first.
 */
export function closest(word: string, candidates: Iterable<string>, maxDistance?: number): string | undefined {
  const target = normalise(word);
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(target, normalise(candidate));
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const allowed = maxDistance ?? Math.max(1, Math.min(3, Math.floor(target.length / 3)));
  return bestDistance <= allowed ? best : undefined;
}
