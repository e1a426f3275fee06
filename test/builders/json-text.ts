/**
 * JSON string text written the many valid ways JSON allows (and Docker's Go encoder uses), for
 * tests of code that keeps or joins JSON text instead of decoding it.
 */

/** `\uXXXX` for one UTF-16 unit, in either hex case. */
function unicodeEscape(unit: number, upper: boolean): string {
  const hex = unit.toString(16).padStart(4, '0');
  return `\\u${upper ? hex.toUpperCase() : hex}`;
}

const SHORT_ESCAPES: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b', '\f': '\\f', '/': '\\/' };

/**
 * JSON string text for `s`, each UTF-16 unit written one of the ways JSON allows, chosen by
 * `styles` (cycled): raw where JSON allows it, a short escape, or `\uXXXX`. Style 1 is Go's:
 * `<`, `>`, `&`, U+2028 and U+2029 as `\u` escapes.
 */
export function jsonText(s: string, styles: readonly number[]): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    const unit = s.charCodeAt(i);
    const style = styles.length === 0 ? 0 : styles[i % styles.length]!;
    const mustEscape = ch === '"' || ch === '\\' || unit < 0x20;
    if (style === 2 || (style === 1 && ('<>&'.includes(ch) || unit === 0x2028 || unit === 0x2029))) out += unicodeEscape(unit, i % 2 === 0);
    else if (mustEscape || (style === 3 && ch in SHORT_ESCAPES)) out += SHORT_ESCAPES[ch] ?? unicodeEscape(unit, false);
    else out += ch;
  }
  return out;
}
