// `req.usage`: what a handler uses to record usage known only after the work (tokens, custom meters).
import type { TollgateConfig } from '@tollgate/core';
import { validateRecord } from '@tollgate/core/internal';

export interface RecordOptions {
  /** Model as the provider reported it: picks the price, so `cost` follows token meters. */
  model?: string;
  /** `openai`, `anthropic`, `gemini`: tried as a pricing-key prefix. */
  provider?: string;
  /** True when the amount is an estimate rather than provider-reported. */
  estimated?: boolean;
}

export interface RequestUsage {
  /** True when this request is metered (a metered path and an identity). */
  readonly metered: boolean;
  /** True when the store was unreachable at admission (the request went through under `failMode: 'open'`). */
  readonly degraded: boolean;
  readonly tenantId: string | null;
  readonly userId: string | null;
  /** The plan the quotas come from (`defaultPlan` for an unknown tier); null when not metered. */
  readonly plan: string | null;
  /**
   * Records usage, settled with the request in one store operation after the response
   * (`input_tokens` with a `model` also counts `tokens` and the exact `cost`). Throws InvalidUsageError
   * at once for an unknown meter or a bad amount.
   */
  record(meter: string, amount: number, options?: RecordOptions): void;
  /**
   * Holds `amounts` (e.g. `{ tokens: 4000 }`) against every limit before expensive work; released when
   * the request ends, where what was `record`ed counts instead. Rejects with QuotaExceededError when a
   * limit has no room (in shadow mode it only reports).
   */
  reserve(amounts: Record<string, number>): Promise<void>;
  /**
   * Runs `hook` when the handler ends the response, before its usage is written (`durability: 'delivered'`): what
   * it records is committed with the response, before the client sees the end. A returned promise is waited for
   * up to `storeTimeoutMs`. Not called with `durability: 'batched'` or for a request that is not metered.
   */
  beforeEnd(hook: () => void | Promise<void>): void;
  /**
   * With `durability: 'delivered'`, a write for which `isLast` is true (an event stream's last event, such as
   * `data: [DONE]`) is held with the end, so a client that stops reading at it has this request's usage in the
   * store already; earlier writes stream at once. A no-op with `batched` or when not metered.
   */
  holdLastWrite(isLast: (chunk: string | Uint8Array) => boolean): void;
  /**
   * Runs `hook` when the response closes (finished, or cut off: `res.writableFinished` tells which), before the
   * engine counts the request at close, so what it records then joins the request's own settlement op. Hooks run
   * in the order added; one that throws is logged (`callbackFailed`) and the others still run. With
   * `durability: 'delivered'` a response that ended normally was counted at its end, before the close: what a hook
   * records then is settled in its own op. A no-op when not metered.
   */
  onClose(hook: () => void): void;
}

/** `req.usage` of a request that is not metered: validates (so typos surface) and keeps nothing. */
export class UnmeteredUsage implements RequestUsage {
  readonly metered = false;
  readonly degraded = false;
  readonly tenantId = null;
  readonly userId = null;
  readonly plan = null;
  constructor(private readonly config: TollgateConfig) {}

  record(meter: string, amount: number): void {
    validateRecord(this.config, { meter, amount });
  }

  async reserve(): Promise<void> {}

  beforeEnd(): void {}

  holdLastWrite(): void {}

  onClose(): void {}
}
