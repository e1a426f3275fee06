// The live-tail page: filters (kept in the URL) -> one /v1/stream subscription -> the list.
import { get, openStream, setToken, token, Unauthorized } from './api.js';
import { compileSearch, fillFromEvent, Row } from './events.js';
import { StorePanel } from './store-panel.js';
import { TailList } from './tail-list.js';

const SERVER_FILTERS = ['namespace', 'pod', 'container', 'labelSelector'];
const $ = (id) => document.getElementById(id);

const state = {
  socket: undefined,
  seq: 0,
  received: 0,
  droppedByService: 0,
  retryMs: 500,
  retryTimer: undefined,
  /** Bumped on every (re)subscription: messages of an older socket are ignored. */
  generation: 0,
};

const form = $('filters');
const list = new TailList({
  viewport: $('viewport'),
  spacer: $('spacer'),
  detail: $('detail'),
  onSelect: showDetail,
  onChange: updateStatus,
});

// --- filters and the URL -----------------------------------------------------------------------

function readUrl() {
  const params = new URLSearchParams(location.search);
  for (const name of [...SERVER_FILTERS, 'q']) form.elements[name].value = params.get(name) ?? '';
  form.elements.regex.checked = params.get('regex') === '1';
}

function formValues() {
  const values = {};
  for (const name of [...SERVER_FILTERS, 'q']) values[name] = form.elements[name].value.trim();
  values.regex = form.elements.regex.checked;
  return values;
}

function writeUrl(values) {
  const params = new URLSearchParams();
  for (const name of [...SERVER_FILTERS, 'q']) if (values[name] !== '') params.set(name, values[name]);
  if (values.regex) params.set('regex', '1');
  const search = params.toString();
  history.replaceState(null, '', search === '' ? location.pathname : `?${search}`);
}

function serverQuery(values) {
  const query = new URLSearchParams();
  for (const name of SERVER_FILTERS) if (values[name] !== '') query.set(name, values[name]);
  return query;
}

function showError(message) {
  const el = $('filter-error');
  el.textContent = message;
  el.hidden = message === '';
}

let appliedServerQuery;

/** Applies the form: the search at once; the service's filters after it has accepted them. */
async function apply() {
  const values = formValues();
  writeUrl(values);
  const search = compileSearch(values.q, values.regex);
  if (search.error !== undefined) {
    showError(search.error);
    return;
  }
  list.setSearch(search.regex);
  const query = serverQuery(values);
  if (query.toString() === appliedServerQuery) {
    showError('');
    return;
  }
  try {
    // /v1/pods takes /v1/stream's filters: its 400 names the bad one (a browser cannot read the
    // answer to a refused WebSocket upgrade).
    const check = new URLSearchParams();
    for (const name of ['namespace', 'labelSelector']) if (query.has(name)) check.set(name, query.get(name));
    await get(`/v1/pods?${check}`);
  } catch (e) {
    if (e instanceof Unauthorized) return askToken(e.message);
    showError(e.message);
    return;
  }
  showError('');
  appliedServerQuery = query.toString();
  list.clear();
  subscribe(query);
}

// --- the stream --------------------------------------------------------------------------------

function setConnection(text, kind) {
  const el = $('connection');
  el.textContent = text;
  el.className = `badge ${kind}`;
}

function subscribe(query) {
  clearTimeout(state.retryTimer);
  if (state.socket !== undefined) state.socket.close(1000);
  const generation = ++state.generation;
  const socket = openStream(query);
  state.socket = socket;
  setConnection('connecting', 'wait');
  socket.addEventListener('open', () => {
    if (generation !== state.generation) return;
    state.retryMs = 500;
    setConnection('live', 'ok');
  });
  socket.addEventListener('message', (message) => {
    if (generation === state.generation) receive(message.data);
  });
  socket.addEventListener('close', (e) => {
    if (generation !== state.generation) return;
    state.socket = undefined;
    setConnection(e.code === 1001 ? 'service stopped' : 'disconnected', 'bad');
    // The close of a refused upgrade says nothing: ask the service what is wrong, then retry.
    state.retryTimer = setTimeout(async () => {
      try {
        await get('/v1/pods?state=live');
      } catch (err) {
        if (err instanceof Unauthorized) return askToken(err.message);
      }
      state.retryMs = Math.min(state.retryMs * 2, 10_000);
      subscribe(query);
    }, state.retryMs);
  });
}

/** A message is NDJSON events or a drop notice, {"dropped": n}. */
function receive(data) {
  let start = 0;
  while (start < data.length) {
    let end = data.indexOf('\n', start);
    if (end === -1) end = data.length;
    const line = data.slice(start, end);
    start = end + 1;
    if (line === '') continue;
    let event;
    try {
      event = JSON.parse(line);
    } catch {
      continue;
    }
    if (typeof event.dropped === 'number' && Object.keys(event).length === 1) {
      state.droppedByService += event.dropped;
      const gap = new Row(++state.seq, 'gap');
      gap.message = `⋯ ${event.dropped.toLocaleString()} events dropped by the service: this page did not keep up ⋯`;
      list.add(gap);
      continue;
    }
    state.received++;
    list.add(fillFromEvent(new Row(++state.seq, 'event'), event, line));
  }
  scheduleStatus();
}

// --- status, detail, pause ---------------------------------------------------------------------

let statusQueued = false;
function scheduleStatus() {
  if (statusQueued) return;
  statusQueued = true;
  requestAnimationFrame(() => {
    statusQueued = false;
    updateStatus();
  });
}

function updateStatus() {
  const status = $('status');
  const held = list.paused ? ` · ${list.held.length.toLocaleString()} waiting` : '';
  status.textContent = `${state.received.toLocaleString()} received · ${list.view.length.toLocaleString()} shown${held} · ${state.droppedByService.toLocaleString()} dropped by the service`;
  status.dataset.received = String(state.received);
  status.dataset.dropped = String(state.droppedByService);
  const note = $('history-note');
  const lost = list.forgotten + list.heldDropped;
  note.hidden = lost === 0;
  note.textContent = `${lost.toLocaleString()} older events are no longer kept (this page keeps the last 10,000).`;
  const pause = $('pause');
  pause.textContent = list.paused ? 'Resume' : 'Pause';
  pause.setAttribute('aria-pressed', String(list.paused));
}

/** Fills the expanded event's detail (the list places and shows it); undefined: collapsed. */
function showDetail(row) {
  if (row === undefined) return;
  let pretty;
  try {
    pretty = JSON.stringify(JSON.parse(row.raw), null, 2);
  } catch {
    pretty = row.raw;
  }
  $('detail-title').textContent = `${row.namespace}/${row.pod}/${row.container} ${row.time}`;
  $('detail-json').textContent = pretty;
}

async function copyDetail() {
  const text = $('detail-json').textContent;
  const button = $('copy');
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = 'Copied';
  } catch {
    // No clipboard permission (plain http on another host): select it for Ctrl-C.
    getSelection().selectAllChildren($('detail-json'));
    button.textContent = 'Press Ctrl-C';
  }
  setTimeout(() => (button.textContent = 'Copy JSON'), 1500);
}

// --- the token ---------------------------------------------------------------------------------

let asking = false;
function askToken(message) {
  if (asking) return;
  asking = true;
  if (state.socket !== undefined) state.socket.close(1000);
  state.generation++;
  clearTimeout(state.retryTimer);
  setConnection('token needed', 'bad');
  const dialog = $('login');
  const error = $('login-error');
  error.textContent = token() === '' ? '' : message;
  error.hidden = token() === '';
  dialog.showModal();
}

$('login-form').addEventListener('submit', () => {
  setToken($('login-form').elements.token.value);
  $('login-form').elements.token.value = '';
  asking = false;
  appliedServerQuery = undefined;
  void apply();
});

// --- start -------------------------------------------------------------------------------------

form.addEventListener('submit', (e) => {
  e.preventDefault();
  void apply();
});
let searchTimer;
form.elements.q.addEventListener('input', () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => void apply(), 250);
});
form.elements.regex.addEventListener('change', () => void apply());
$('pause').addEventListener('click', () => (list.paused ? list.resume() : list.pause()));
$('clear').addEventListener('click', () => list.clear());
$('copy').addEventListener('click', () => void copyDetail());
$('close-detail').addEventListener('click', () => list.collapse());
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape') list.collapse();
});

const panel = new StorePanel({
  podsList: $('pods'),
  podCounts: $('pod-counts'),
  unmatchedList: $('unmatched'),
  chart: $('chart'),
  rates: { in: $('rate-in'), out: $('rate-out'), drop: $('rate-drop') },
  onPodClick: (pod) => {
    form.elements.namespace.value = pod.namespace;
    form.elements.pod.value = pod.name;
    void apply();
  },
  onUnauthorized: () => askToken('the token does not match'),
});

readUrl();
void apply();
panel.start();
