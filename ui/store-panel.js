// The side panel: the store's pods (GET /v1/pods) with a countdown for the retained ones, and,
// from the service's own Prometheus counters (GET /metrics), events in and out per second,
// /v1/stream drops, and unmatched events by reason.
import { get, Unauthorized } from './api.js';

const POLL_MS = 2000;
const CHART_POINTS = 60;
const PREFIX = 'kube_log_enricher_';

/** Sums of the samples of each wanted counter, by name, and by name and one label. */
export function parseCounters(text) {
  const totals = new Map();
  const unmatched = new Map();
  for (const line of text.split('\n')) {
    if (!line.startsWith(PREFIX)) continue;
    const m = /^(\w+)(\{[^}]*\})? ([^ ]+)/.exec(line);
    if (m === null) continue;
    const value = Number(m[3]);
    if (!Number.isFinite(value)) continue;
    const name = m[1].slice(PREFIX.length);
    totals.set(name, (totals.get(name) ?? 0) + value);
    if (name === 'events_unmatched_total') {
      const reason = /reason="([^"]*)"/.exec(m[2] ?? '')?.[1] ?? '?';
      unmatched.set(reason, value);
    }
  }
  return { totals, unmatched };
}

export class StorePanel {
  constructor({ podsList, podCounts, unmatchedList, chart, rates, onPodClick, onUnauthorized }) {
    Object.assign(this, { podsList, podCounts, unmatchedList, chart, rates, onPodClick, onUnauthorized });
    this.points = [];
    this.previous = undefined;
    this.retained = [];
    this.timer = undefined;
  }

  start() {
    const poll = async () => {
      await Promise.all([this.#pollPods(), this.#pollCounters()]);
      this.timer = setTimeout(poll, POLL_MS);
    };
    void poll();
    setInterval(() => this.#tick(), 1000);
  }

  async #pollPods() {
    try {
      const answer = await get('/v1/pods');
      this.#renderPods(answer, performance.now());
    } catch (e) {
      this.#failed(e);
    }
  }

  async #pollCounters() {
    try {
      const { totals, unmatched } = parseCounters(await get('/metrics', 'text'));
      const now = performance.now();
      const current = { at: now, in: totals.get('events_in_total') ?? 0, out: totals.get('events_out_total') ?? 0, drop: totals.get('websocket_dropped_messages_total') ?? 0 };
      if (this.previous !== undefined) {
        const seconds = (now - this.previous.at) / 1000;
        const rate = (key) => Math.max(0, (current[key] - this.previous[key]) / seconds);
        this.points.push({ in: rate('in'), out: rate('out'), drop: rate('drop') });
        if (this.points.length > CHART_POINTS) this.points.shift();
        const last = this.points[this.points.length - 1];
        this.rates.in.textContent = last.in.toFixed(0);
        this.rates.out.textContent = last.out.toFixed(0);
        this.rates.drop.textContent = last.drop.toFixed(0);
        this.#drawChart();
      }
      this.previous = current;
      this.#renderUnmatched(unmatched);
    } catch (e) {
      this.#failed(e);
    }
  }

  #failed(e) {
    if (e instanceof Unauthorized) this.onUnauthorized();
  }

  #renderPods(answer, receivedAt) {
    this.podCounts.textContent = `${answer.live} live · ${answer.retained} retained${answer.truncated ? ' (list truncated)' : ''}`;
    this.podsList.textContent = '';
    this.retained = [];
    for (const pod of answer.pods) {
      const li = document.createElement('li');
      li.className = `pod ${pod.state}`;
      const name = document.createElement('button');
      name.type = 'button';
      name.className = 'link';
      name.textContent = `${pod.namespace}/${pod.name}`;
      name.title = `filter on this pod (${pod.containers.join(', ')})`;
      name.addEventListener('click', () => this.onPodClick(pod));
      const state = document.createElement('span');
      state.className = 'state';
      li.append(name, state);
      if (pod.state === 'retained') {
        state.title = 'deleted from the API server; kept to enrich its last lines';
        this.retained.push({ el: state, until: receivedAt + pod.secondsLeft * 1000 });
      } else {
        state.textContent = 'live';
      }
      this.podsList.append(li);
    }
    this.#tick();
  }

  /** Counts down locally between polls: the service gave seconds left, not a time to compare with this clock. */
  #tick() {
    const now = performance.now();
    for (const { el, until } of this.retained) {
      const left = Math.max(0, Math.ceil((until - now) / 1000));
      el.textContent = `retained, forgotten in ${left} s`;
    }
  }

  #renderUnmatched(unmatched) {
    this.unmatchedList.textContent = '';
    const reasons = [...unmatched].filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
    if (reasons.length === 0) {
      const li = document.createElement('li');
      li.className = 'muted';
      li.textContent = 'none';
      this.unmatchedList.append(li);
    }
    for (const [reason, n] of reasons) {
      const li = document.createElement('li');
      li.textContent = `${reason}: ${n}`;
      this.unmatchedList.append(li);
    }
  }

  #drawChart() {
    const canvas = this.chart;
    const ctx = canvas.getContext('2d');
    const { width, height } = canvas;
    ctx.clearRect(0, 0, width, height);
    const max = Math.max(1, ...this.points.map((p) => Math.max(p.in, p.out, p.drop))) * 1.15;
    const series = [
      ['in', '#3b82f6'],
      ['out', '#16a34a'],
      ['drop', '#dc2626'],
    ];
    for (const [key, color] of series) {
      ctx.strokeStyle = color;
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      this.points.forEach((p, i) => {
        // Newest at the right edge, one step per poll.
        const x = width - ((this.points.length - 1 - i) / (CHART_POINTS - 1)) * width;
        const y = height - 2 - (p[key] / max) * (height - 4);
        if (i === 0) ctx.moveTo(x, y);
        else ctx.lineTo(x, y);
      });
      ctx.stroke();
    }
    ctx.fillStyle = '#6b7280';
    ctx.font = '10px sans-serif';
    ctx.fillText(`${Math.round(max)}/s`, 4, 10);
    ctx.fillText('last 2 min', 4, height - 4);
  }
}
