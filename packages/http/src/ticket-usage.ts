// `req.usage` of a metered request: what a handler may do with it, and nothing of the ticket's state.
import type { ResolvedSubject } from '@tollgate/core';
import type { RecordOptions, RequestUsage } from './request-usage';

/** What `req.usage` forwards to: the request's ticket (declared here, so this file does not import the ticket's). */
export interface UsageOwner {
  readonly degraded: boolean;
  readonly subject: ResolvedSubject;
  record(meter: string, amount: number, options?: RecordOptions): void;
  reserve(amounts: Record<string, number>): Promise<void>;
  beforeEnd(hook: () => void | Promise<void>): void;
  holdLastWrite(isLast: (chunk: string | Uint8Array) => boolean): void;
  addCloseHook(hook: () => void): void;
}

/** `req.usage` of a metered request: forwards to its ticket, which it keeps out of the handler's reach. */
export class TicketUsage implements RequestUsage {
  readonly metered = true;
  readonly #ticket: UsageOwner;

  constructor(ticket: UsageOwner) {
    this.#ticket = ticket;
  }

  get degraded(): boolean {
    return this.#ticket.degraded;
  }

  get tenantId(): string | null {
    return this.#ticket.subject.tenantId;
  }

  get userId(): string | null {
    return this.#ticket.subject.userId;
  }

  get plan(): string {
    return this.#ticket.subject.plan;
  }

  record(meter: string, amount: number, options?: RecordOptions): void {
    this.#ticket.record(meter, amount, options);
  }

  reserve(amounts: Record<string, number>): Promise<void> {
    return this.#ticket.reserve(amounts);
  }

  beforeEnd(hook: () => void | Promise<void>): void {
    this.#ticket.beforeEnd(hook);
  }

  holdLastWrite(isLast: (chunk: string | Uint8Array) => boolean): void {
    this.#ticket.holdLastWrite(isLast);
  }

  onClose(hook: () => void): void {
    this.#ticket.addCloseHook(hook);
  }
}
