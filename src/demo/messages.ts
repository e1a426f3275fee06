/**
 * Plausible application log messages for the demo: access logs, structured JSON, warnings,
 * the occasional long line (written as partial fragments) and non-ASCII text.
 */
const PATHS = ['/healthz', '/api/v1/cart', '/api/v1/orders', '/login', '/static/app.js', '/metrics'];
const METHODS = ['GET', 'GET', 'GET', 'POST', 'PUT', 'DELETE'];
const STATUSES = [200, 200, 200, 201, 204, 304, 404, 500];

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

export interface DemoMessage {
  stream: 'stdout' | 'stderr';
  text: string;
}

export function demoMessage(random: () => number, app: string, seq: number): DemoMessage {
  const r = random();
  if (r < 0.55) {
    const ms = (random() * 250).toFixed(1);
    return {
      stream: 'stdout',
      text: `10.1.${Math.floor(random() * 255)}.${Math.floor(random() * 255)} - - "${pick(random, METHODS)} ${pick(random, PATHS)} HTTP/1.1" ${pick(random, STATUSES)} ${Math.floor(random() * 5000)} ${ms}ms`,
    };
  }
  if (r < 0.85) {
    return {
      stream: 'stdout',
      text: JSON.stringify({ level: 'info', app, seq, msg: 'order processed', items: Math.floor(random() * 9) + 1, user: `u-${Math.floor(random() * 1e4)}` }),
    };
  }
  if (r < 0.95) return { stream: 'stderr', text: `WARN ${app}: slow upstream response (${Math.floor(random() * 3000)}ms), retrying — tentative ${seq % 3 + 1}/3 ✓` };
  // A long line: the runtime splits it into partial fragments (CRI `P` tags / Docker logs without "\n").
  return { stream: 'stdout', text: `DEBUG ${app} payload=${'x'.repeat(600 + Math.floor(random() * 2000))} end` };
}
