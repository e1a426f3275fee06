// .dockerignore semantics as Docker (moby/patternmatcher) applies them: patterns are
// relative to the context root, `**` spans directories, `!` re-includes, the last
// matching pattern wins, and a pattern matching a directory excludes what is under it.
import picomatch from 'picomatch';

interface IgnoreRule {
  pattern: string;
  negate: boolean;
  matches: (path: string) => boolean;
}

export interface DockerIgnore {
  rules: readonly IgnoreRule[];
  /** path: relative to the context root, "/"-separated */
  ignores(path: string): boolean;
}

function clean(pattern: string): string {
  return pattern.replace(/^\/+/, '').replace(/\/+$/, '').replace(/\/{2,}/g, '/');
}

export function parseDockerIgnore(text: string): DockerIgnore {
  const rules: IgnoreRule[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const negate = line.startsWith('!');
    const pattern = clean(negate ? line.slice(1).trim() : line);
    if (pattern === '') continue;
    rules.push({ pattern, negate, matches: picomatch(pattern, { dot: true }) });
  }
  return {
    rules,
    ignores(path: string): boolean {
      const parts = clean(path).split('/');
      // The path itself and every directory above it, e.g. "a", "a/b", "a/b/c".
      const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
      let ignored = false;
      for (const rule of rules) {
        if (candidates.some((candidate) => rule.matches(candidate))) ignored = !rule.negate;
      }
      return ignored;
    },
  };
}
