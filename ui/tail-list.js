// The event list: a bounded history, the part of it the search keeps (the view), and a virtual
// list that renders only the rows in sight, at most once per animation frame. Rows have one
// fixed height, and one row at a time may be expanded: the detail, of a fixed height too, opens
// under it. So a position is an index times the row height, plus the detail's height past the
// expanded row. Text from events is set with textContent only.
import { matchRanges, rowMatches } from './events.js';

export const ROW_HEIGHT = 20;
/** The expanded event's height (--detail in app.css); it scrolls inside. */
export const DETAIL_HEIGHT = 360;
/** Rows of history kept; beyond it the oldest are forgotten (and the page says how many). */
export const HISTORY_LIMIT = 10_000;
/** Trimming in steps keeps it off the per-event path. */
const TRIM_STEP = 500;
/** A row shows this much of a long message; the detail view shows it all. */
const SHOWN_CHARS = 1000;

export class TailList {
  constructor({ viewport, spacer, detail, onSelect, onChange }) {
    this.viewport = viewport;
    this.spacer = spacer;
    this.detail = detail;
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
    /** The expanded row's seq, -1 for none; where it is in the view is looked up per render. */
    this.selectedSeq = -1;
    this.expanded = -1;
    this.reveal = false;
    this.pool = [];
    this.dirty = false;
    this.ignoreScroll = false;
    viewport.addEventListener('scroll', () => this.#onScroll(), { passive: true });
    viewport.addEventListener('click', (e) => {
      const el = e.target.closest('.row');
      if (el !== null && el.rowRef !== undefined) this.toggle(el.rowRef);
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

  /** Expands an event (collapsing the one open), or collapses it when it is the one open. */
  toggle(row) {
    if (row.kind !== 'event' || row.seq === this.selectedSeq) this.collapse();
    else {
      this.selectedSeq = row.seq;
      // Opening a line is reading: the list stops following so it stays in sight.
      this.following = false;
      this.reveal = true;
      this.onSelect(row);
      this.#schedule();
    }
  }

  collapse() {
    this.selectedSeq = -1;
    this.onSelect(undefined);
    this.#schedule();
  }

  /** Top of row i, the detail counted. */
  #top(i) {
    return i * ROW_HEIGHT + (this.expanded >= 0 && i > this.expanded ? DETAIL_HEIGHT : 0);
  }

  /** The row at pixel y (the expanded one over its detail). */
  #indexAt(y) {
    const e = this.expanded;
    if (e < 0 || y < (e + 1) * ROW_HEIGHT) return Math.floor(y / ROW_HEIGHT);
    if (y < (e + 1) * ROW_HEIGHT + DETAIL_HEIGHT) return e;
    return Math.floor((y - DETAIL_HEIGHT) / ROW_HEIGHT);
  }

  /** Index of the row with this seq in the view (sorted by seq), or -1. */
  #indexOf(seq) {
    if (seq < 0) return -1;
    let lo = 0;
    let hi = this.view.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const at = this.view[mid].seq;
      if (at === seq) return mid;
      if (at < seq) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
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
    // The expanded event forgotten: its detail closes with it.
    if (this.selectedSeq >= 0 && this.selectedSeq < firstKept) this.collapse();
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
    this.expanded = this.#indexOf(this.selectedSeq);
    this.detail.hidden = this.expanded < 0;
    if (this.expanded >= 0) this.detail.style.transform = `translateY(${(this.expanded + 1) * ROW_HEIGHT}px)`;
    const full = total * ROW_HEIGHT + (this.expanded >= 0 ? DETAIL_HEIGHT : 0);
    this.spacer.style.height = `${full}px`;
    const height = this.viewport.clientHeight;
    if (this.following) this.#scrollTo(Math.max(0, full - height));
    else if (this.reveal && this.expanded >= 0) {
      // Bring the opened detail into sight, its row at the top if it does not fit below.
      const rowTop = this.expanded * ROW_HEIGHT;
      const bottom = rowTop + ROW_HEIGHT + DETAIL_HEIGHT;
      if (bottom > this.viewport.scrollTop + height) this.#scrollTo(Math.min(rowTop, bottom - height));
    }
    this.reveal = false;
    const top = this.viewport.scrollTop;
    const first = Math.max(0, this.#indexAt(top));
    const last = Math.min(total - 1, this.#indexAt(top + height));
    const count = Math.max(0, last - first + 1);
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
      el.style.transform = `translateY(${this.#top(first + i)}px)`;
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
