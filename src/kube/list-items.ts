/**
 * A list answer taken apart without parsing it whole: where the top-level `items` array's
 * elements are in the text, so that each can be parsed and slimmed on its own and the full
 * object graph of a large list never exists at once (2,000 pods: 12.5 MB of text become 28.6 MB
 * of parsed objects; a cluster's namespaces can be more). The scan only tracks nesting and
 * strings; JSON.parse still validates every element and the rest of the answer.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

export interface ListParts {
  /** The answer with an empty `items` array: its kind, metadata (resourceVersion, continue). */
  envelope: string;
  /** Start and end (exclusive) of each element of `items`, in the text, in pairs. */
  spans: number[];
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function skipSpace(text: string, i: number): number {
  while (i < text.length && isSpace(text.charCodeAt(i))) i++;
  return i;
}

/** Index of the quote closing the string that opens at `start`, or -1. */
function stringEnd(text: string, start: number): number {
  let i = start;
  for (;;) {
    i = text.indexOf('"', i + 1);
    if (i < 0) return -1;
    let backslashes = 0;
    while (text.charCodeAt(i - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return i;
  }
}

/**
 * The parts of a JSON object text with a top-level `"items": [...]` member; undefined when the
 * text is not shaped so (not an object, no items array, unbalanced): the caller parses it whole.
 */
export function splitListItems(text: string): ListParts | undefined {
  let i = skipSpace(text, 0);
  if (text.charCodeAt(i) !== OPEN_BRACE) return undefined;
  let depth = 0;
  let open = -1;
  let close = -1;
  let elementStart = -1;
  const spans: number[] = [];
  /** False for an empty element (`[1,,2]`, `[1,]`): not JSON, left to JSON.parse to refuse. */
  const endElement = (end: number, last: boolean): boolean => {
    const s = skipSpace(text, elementStart);
    let e = end;
    while (e > s && isSpace(text.charCodeAt(e - 1))) e--;
    if (e > s) spans.push(s, e);
    return e > s || (last && spans.length === 0);
  };
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const end = stringEnd(text, i);
      if (end < 0) return undefined;
      // A member named "items" of the top-level object whose value is an array.
      if (depth === 1 && open < 0 && end - i === 6 && text.startsWith('"items"', i)) {
        const colon = skipSpace(text, end + 1);
        if (text.charCodeAt(colon) === COLON) {
          const bracket = skipSpace(text, colon + 1);
          if (text.charCodeAt(bracket) === OPEN_BRACKET) {
            open = bracket;
            elementStart = bracket + 1;
            depth = 2;
            i = bracket;
            continue;
          }
        }
      }
      i = end;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      depth++;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
      if (depth < 0) return undefined;
      if (depth === 1 && open >= 0 && close < 0) {
        if (c !== CLOSE_BRACKET) return undefined;
        close = i;
        if (!endElement(i, true)) return undefined;
      }
    } else if (c === COMMA && depth === 2 && open >= 0 && close < 0) {
      if (!endElement(i, false)) return undefined;
      elementStart = i + 1;
    }
  }
  if (depth !== 0 || open < 0 || close < 0) return undefined;
  return { envelope: text.slice(0, open + 1) + text.slice(close), spans };
}
