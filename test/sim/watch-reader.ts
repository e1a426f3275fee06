/** Test helper: opens a watch over real HTTP and hands out its events one by one. */

export interface WatchEvent {
  type: string;
  object: { kind?: string; apiVersion?: string; metadata?: { name?: string; namespace?: string; resourceVersion?: string; labels?: Record<string, string>; annotations?: Record<string, string> }; [key: string]: unknown };
}

export type WatchItem = WatchEvent | { type: 'END' } | { type: 'FAILED'; error: string };

export interface WatchReader {
  status: number;
  headers: Headers;
  /** The next event, END after a clean end, FAILED after a broken stream; rejects after timeoutMs. */
  next(timeoutMs?: number): Promise<WatchItem>;
  /** Every item up to and including END/FAILED. */
  rest(timeoutMs?: number): Promise<WatchItem[]>;
  close(): void;
}

export async function openWatch(url: string, init: RequestInit = {}): Promise<WatchReader> {
  const controller = new AbortController();
  const response = await fetch(url, { ...init, signal: controller.signal });
  const queue: WatchItem[] = [];
  const waiters: (() => void)[] = [];
  const push = (item: WatchItem): void => {
    queue.push(item);
    for (const w of waiters.splice(0)) w();
  };
  let buffered = '';
  const body = response.body;
  if (body) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    void (async () => {
      try {
        while (true) {
          const { done, value } = await reader.read();
          if (done) break;
          buffered += decoder.decode(value, { stream: true });
          let nl: number;
          while ((nl = buffered.indexOf('\n')) >= 0) {
            const line = buffered.slice(0, nl);
            buffered = buffered.slice(nl + 1);
            if (line.trim() !== '') push(JSON.parse(line) as WatchEvent);
          }
        }
        push({ type: 'END' });
      } catch (err) {
        push({ type: 'FAILED', error: String((err as Error).cause ?? err) });
      }
    })();
  } else {
    push({ type: 'END' });
  }
  const next = (timeoutMs = 5000): Promise<WatchItem> => {
    const item = queue.shift();
    if (item) return Promise.resolve(item);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no watch event within ${timeoutMs} ms`)), timeoutMs);
      waiters.push(() => {
        clearTimeout(timer);
        resolve(next(timeoutMs));
      });
    });
  };
  return {
    status: response.status,
    headers: response.headers,
    next,
    async rest(timeoutMs = 5000) {
      const items: WatchItem[] = [];
      while (true) {
        const item = await next(timeoutMs);
        items.push(item);
        if (item.type === 'END' || item.type === 'FAILED') return items;
      }
    },
    close: () => controller.abort(),
  };
}

/** Polls `check` until it holds; throws with `what` after timeoutMs (a bound, not a timed assertion). */
export async function eventually(check: () => boolean, what: string, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
