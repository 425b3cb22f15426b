// What the behavioural suite needs from a framework: an app with the standard test routes behind trackUsage()/the plugin.
import type { TrackUsageOptions } from '../options';
import type { Tollgate } from '../tollgate';

/**
 * Every harness serves the same routes behind Tollgate:
 * - `GET /health`, `GET /apix`: outside the metered paths
 * - `GET /api/hello`: `{ hello: 'world' }`
 * - `POST /api/chat` `{ input, output, model }`: records input and output tokens
 * - `GET /api/fail`: 500
 * - `GET /api/slow?ms=N`: answers after N ms
 * - `GET /api/stream`: writes `aaaa`, `bbbb`, `cccc` (12 bytes, chunked)
 * - `GET /api/record-and-hang`: records 50 `output_tokens` (gpt-4o), then never answers
 * - `GET /api/reserve?tokens=N&use=M`: `req.usage.reserve({ tokens: N })`, records M `input_tokens`
 *   (demo-model); a QuotaExceededError is answered with its status and problem body
 * - `GET /api/late`: answers, then records 7 `output_tokens` (gpt-4o) 20 ms later
 * Each handler pushes its route name to `handled` when it starts.
 */
export interface RunningApp {
  url: string;
  /** The programmatic API of the (first) mounted Tollgate. */
  tollgate: Tollgate;
  handled: string[];
  close(): Promise<void>;
}

export interface AppHarness {
  name: string;
  /** `mountTwice`: apply the middleware/plugin twice to every request (a misconfiguration to detect). */
  start(options: TrackUsageOptions<never>, extras?: { mountTwice?: boolean }): Promise<RunningApp>;
}
