/**
 * Runs a long-lived service until SIGTERM or SIGINT, then stops it gracefully (the service's
 * stop() stops reading, flushes, writes checkpoints, closes the server). A second signal while
 * stopping forces exit 1, for an operator whose shutdown hangs.
 */

export interface StoppableService {
  stop(): Promise<void>;
}

/** The part of `process` used here, so tests can drive signals. */
export interface SignalSource {
  once(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  removeListener(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
}

export interface RunUntilSignalOptions {
  /** Progress messages (one line each, no newline). Default: written to stderr. */
  log?: (message: string) => void;
  signals?: readonly NodeJS.Signals[];
  /** Called on the second signal. Default: process.exit. */
  exit?: (code: number) => void;
  process?: SignalSource;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Resolves with the exit code: 0 after a clean stop, 1 when start or stop failed. */
export async function runUntilSignal(start: () => Promise<StoppableService>, options: RunUntilSignalOptions = {}): Promise<number> {
  const log = options.log ?? ((message: string) => process.stderr.write(`${message}\n`));
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const source: SignalSource = options.process ?? process;

  let received: NodeJS.Signals | undefined;
  let wake: (() => void) | undefined;
  const stopRequested = new Promise<void>((resolve) => {
    wake = resolve;
  });
  const onSignal = (signal: NodeJS.Signals) => {
    if (received === undefined) {
      received = signal;
      log(`received ${signal}, shutting down`);
      wake?.();
    } else {
      log(`received ${signal} again, exiting now`);
      exit(1);
    }
    // once() listeners are gone after firing; re-arm so a further signal still reaches us.
    source.once(signal, onSignal);
  };
  for (const signal of signals) source.once(signal, onSignal);
  // Waiting for a signal must keep the process alive even if the service holds no handles.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  try {
    let service: StoppableService;
    try {
      service = await start();
    } catch (error) {
      log(`failed to start: ${errorText(error)}`);
      return 1;
    }
    await stopRequested;
    try {
      await service.stop();
    } catch (error) {
      log(`failed to stop cleanly: ${errorText(error)}`);
      return 1;
    }
    log('stopped');
    return 0;
  } finally {
    clearInterval(keepAlive);
    for (const signal of signals) source.removeListener(signal, onSignal);
  }
}
