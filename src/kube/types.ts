import type { ResourceKind } from '../store/types.ts';

/** One reflector's state, for /readyz and metrics. */
export interface ReflectorStatus {
  kind: ResourceKind;
  /** The initial list completed (stays true across later watch restarts). */
  synced: boolean;
  /** The last error, already safe to show (no tokens); cleared on recovery. */
  lastError: string | undefined;
  /** Seconds since the store was last brought up to date for this kind (a completed list, a watch event or bookmark). */
  lastEventAgeSeconds: number | undefined;
  /** Seconds since the API server last answered this reflector. */
  lastContactAgeSeconds: number | undefined;
}

/** Anything that can tell whether the store is ready to serve. */
export interface ReadinessSource {
  status(): readonly ReflectorStatus[];
}
