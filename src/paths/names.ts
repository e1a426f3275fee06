/**
 * Kubernetes naming rules (k8s.io/apimachinery validation), checked by hand without regular
 * expressions. They are what makes a log path unambiguous: none of these names may contain `_`.
 */

function isLowerAlnum(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 48 && c <= 57);
}

function isLowerHex(c: number): boolean {
  return (c >= 97 && c <= 102) || (c >= 48 && c <= 57);
}

/** RFC 1123 label (namespaces, container names): `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters. */
export function isDns1123Label(s: string): boolean {
  const n = s.length;
  if (n === 0 || n > 63) return false;
  if (!isLowerAlnum(s.charCodeAt(0)) || !isLowerAlnum(s.charCodeAt(n - 1))) return false;
  for (let i = 1; i < n - 1; i++) {
    const c = s.charCodeAt(i);
    if (c !== 45 /* - */ && !isLowerAlnum(c)) return false;
  }
  return true;
}

/** RFC 1123 subdomain (pod names): dot-separated labels, each starting and ending alphanumeric; at most 253 characters. */
export function isDns1123Subdomain(s: string): boolean {
  const n = s.length;
  if (n === 0 || n > 253) return false;
  let labelStart = 0;
  for (let i = 0; i <= n; i++) {
    const c = i === n ? 46 : s.charCodeAt(i);
    if (c === 46 /* . */) {
      if (i === labelStart) return false; // empty label
      if (!isLowerAlnum(s.charCodeAt(labelStart)) || !isLowerAlnum(s.charCodeAt(i - 1))) return false;
      labelStart = i + 1;
    } else if (c !== 45 && !isLowerAlnum(c)) {
      return false;
    }
  }
  return true;
}

/** Lower-case hex of exactly `length` characters from `start`. */
export function isLowerHexRun(s: string, start: number, length: number): boolean {
  if (start < 0 || start + length > s.length) return false;
  for (let i = start; i < start + length; i++) if (!isLowerHex(s.charCodeAt(i))) return false;
  return true;
}

/**
 * A pod uid as it appears in /var/log/pods: the API server's UUID (`8-4-4-4-12` lower-case hex)
 * or, for a static pod, the kubelet's config hash (32 lower-case hex, an MD5 of the manifest).
 */
export function isPodUid(s: string): boolean {
  if (s.length === 32) return isLowerHexRun(s, 0, 32);
  if (s.length !== 36) return false;
  return (
    isLowerHexRun(s, 0, 8) &&
    s.charCodeAt(8) === 45 &&
    isLowerHexRun(s, 9, 4) &&
    s.charCodeAt(13) === 45 &&
    isLowerHexRun(s, 14, 4) &&
    s.charCodeAt(18) === 45 &&
    isLowerHexRun(s, 19, 4) &&
    s.charCodeAt(23) === 45 &&
    isLowerHexRun(s, 24, 12)
  );
}
