// The event list: a bounded history, the part of it the search keeps (the view), and a virtual
// list that renders only the rows in sight, at most once per animation frame. Rows have one
// fixed height, so a position is an index times that height. Text from events is set with
// textContent only.
import { matchRanges, rowMatches } from './events.js';

export const ROW_HEIGHT = 20;
/** Rows of history kept; beyond it the oldest are forgotten (and the page says how many). */
export const HISTORY_LIMIT = 10_000;
/** Trimming in steps keeps it off the per-event path. */
const TRIM_STEP = 500;
/** A row shows this much of a long message; the detail view shows it all. */
const SHOWN_CHARS = 1000;

export class TailList {
  constructor({ viewport, spacer, onSelect, onChange }) {
    this.viewport = viewport;
    this.spacer = spacer;
    this.onSelect = onSelect;
    this.onChange = onChange;
    this.history = [];
    this.view = [];
    this.regex = undefined;
    /** Events forgotten because the history was full. */
    this.forgotten = 0;
    /** While paused, arriving rows wait here (bounded too) and the list stays still. */
    this.paused = false;
    this.held = [];
    this.heldDropped = 0;
    /** Stick to the bottom while the user has not scrolled up. */
    this.following = true;
    this.selectedSeq = -1;
    this.pool = [];
    this.dirty = false;
    this.ignoreScroll = false;
    viewport.addEventListener('scroll', () => this.#onScroll(), { passive: true });
    viewport.addEventListener('click', (e) => {
      const el = e.target.closest('.row');
      if (el !== null && el.rowRef !== undefined) this.select(el.rowRef);
    });
    new ResizeObserver(() => this.#schedule()).observe(viewport);
  }

  add(row) {
    if (this.paused) {
      if (this.held.length < HISTORY_LIMIT) this.held.push(row);
      else this.heldDropped++;
      this.onChange();
      return;
    }
    this.#append(row);
    this.#schedule();
  }

  pause() {
    this.paused = true;
    this.onChange();
  }

  resume() {
    this.paused = false;
    for (const row of this.held) this.#append(row);
    this.held = [];
    if (this.heldDropped > 0) this.forgotten += this.heldDropped;
    this.heldDropped = 0;
    this.following = true;
    this.#schedule();
    this.onChange();
  }

  clear() {
    this.history = [];
    this.view = [];
    this.held = [];
    this.heldDropped = 0;
    this.forgotten = 0;
    this.following = true;
    this.#schedule();
    this.onChange();
  }

  setSearch(regex) {
    this.regex = regex;
    this.view = regex === undefined ? this.history.slice() : this.history.filter((r) => rowMatches(r, regex));
    this.following = true;
    this.#schedule();
    this.onChange();
  }

  select(row) {
    this.selectedSeq = row.seq;
    this.onSelect(row);
    this.#schedule();
  }

  #append(row) {
    this.history.push(row);
    if (rowMatches(row, this.regex)) this.view.push(row);
    if (this.history.length >= HISTORY_LIMIT + TRIM_STEP) this.#trim();
  }

  #trim() {
    const drop = this.history.length - HISTORY_LIMIT;
    const firstKept = this.history[drop].seq;
    for (let i = 0; i < drop; i++) if (this.history[i].kind === 'event') this.forgotten++;
    this.history.splice(0, drop);
    let gone = 0;
    while (gone < this.view.length && this.view[gone].seq < firstKept) gone++;
    this.view.splice(0, gone);
    // A reader scrolled up keeps looking at the same rows.
    if (!this.following && gone > 0) this.#scrollTo(Math.max(0, this.viewport.scrollTop - gone * ROW_HEIGHT));
    this.onChange();
  }

  #onScroll() {
    if (this.ignoreScroll) {
      this.ignoreScroll = false;
    } else {
      const bottom = this.viewport.scrollHeight - this.viewport.clientHeight;
      this.following = this.viewport.scrollTop >= bottom - ROW_HEIGHT;
    }
    this.#schedule();
  }

  #scrollTo(top) {
    if (this.viewport.scrollTop !== top) {
      this.ignoreScroll = true;
      this.viewport.scrollTop = top;
    }
  }

  #schedule() {
    if (this.dirty) return;
    this.dirty = true;
    requestAnimationFrame(() => this.#render());
  }

  #render() {
    this.dirty = false;
    const total = this.view.length;
    this.spacer.style.height = `${total * ROW_HEIGHT}px`;
    const height = this.viewport.clientHeight;
    if (this.following) this.#scrollTo(Math.max(0, total * ROW_HEIGHT - height));
    const first = Math.max(0, Math.floor(this.viewport.scrollTop / ROW_HEIGHT));
    const count = Math.min(total - first, Math.ceil(height / ROW_HEIGHT) + 1);
    while (this.pool.length < count) this.pool.push(this.#makeRow());
    for (let i = 0; i < this.pool.length; i++) {
      const el = this.pool[i];
      if (i >= count) {
        el.hidden = true;
        el.rowRef = undefined;
        continue;
      }
      const row = this.view[first + i];
      el.hidden = false;
      el.style.transform = `translateY(${(first + i) * ROW_HEIGHT}px)`;
      if (el.rowRef !== row || el.regex !== this.regex || el.selected !== (row.seq === this.selectedSeq)) this.#fill(el, row);
    }
  }

  #makeRow() {
    const el = document.createElement('div');
    el.className = 'row';
    for (const name of ['time', 'where', 'stream', 'message']) {
      const span = document.createElement('span');
      span.className = name;
      el.append(span);
    }
    this.spacer.append(el);
    return el;
  }

  #fill(el, row) {
    el.rowRef = row;
    el.regex = this.regex;
    el.selected = row.seq === this.selectedSeq;
    el.className = `row ${row.kind}${row.stderr ? ' stderr' : ''}${el.selected ? ' selected' : ''}`;
    const [time, where, stream, message] = el.children;
    time.textContent = row.time;
    where.textContent = row.kind === 'event' ? `${row.namespace}/${row.pod}/${row.container}` : '';
    where.title = where.textContent;
    stream.textContent = row.stderr ? 'ERR' : '';
    const shown = row.message.length > SHOWN_CHARS ? row.message.slice(0, SHOWN_CHARS) + '…' : row.message;
    highlight(message, shown, this.regex);
  }
}

/** The message as text nodes, matches wrapped in <mark>: never parsed as HTML. */
function highlight(target, value, regex) {
  const ranges = matchRanges(regex, value);
  if (ranges.length === 0) {
    target.textContent = value;
    return;
  }
  target.textContent = '';
  let at = 0;
  for (const [start, end] of ranges) {
    if (start > at) target.append(document.createTextNode(value.slice(at, start)));
    const mark = document.createElement('mark');
    mark.textContent = value.slice(start, end);
    target.append(mark);
    at = end;
  }
  if (at < value.length) target.append(document.createTextNode(value.slice(at)));
}
