/**
 * The bounded wait the program's readiness checks share (clusterAccess.ts: the deployer's Kubernetes
 * grants; insightsReadiness.ts: the Log Analytics tables a data collection rule writes to). A check
 * reports what is still not ready; the wait repeats it on a clock the tests replace with virtual time.
 */

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export interface PollOptions {
  readonly timeoutMs: number;
  readonly intervalMs: number;
  readonly clock: Clock;
  /** Called before each further attempt with what is still pending (progress in the update's log). */
  readonly onWait?: (pending: readonly string[], waitedMs: number) => void;
}

export interface PollOutcome {
  readonly attempts: number;
  readonly waitedMs: number;
  /** What was still not ready when the bound passed; empty when everything became ready. */
  readonly pending: readonly string[];
}

/**
 * Repeats `check` until it reports nothing pending, or until another attempt would end past the bound;
 * the caller turns a non-empty `pending` into its own error, naming what to fix.
 */
export async function pollUntilReady(
  check: () => Promise<readonly string[]>,
  options: PollOptions,
): Promise<PollOutcome> {
  const { clock, intervalMs, timeoutMs } = options;
  const start = clock.now();
  for (let attempts = 1; ; attempts += 1) {
    const pending = await check();
    const waitedMs = clock.now() - start;
    if (pending.length === 0 || waitedMs + intervalMs > timeoutMs) return { attempts, waitedMs, pending };
    options.onWait?.(pending, waitedMs);
    await clock.sleep(intervalMs);
  }
}
