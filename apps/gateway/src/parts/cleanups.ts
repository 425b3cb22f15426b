// Cleanups: what createGateway opened, closed in reverse order at shutdown (or when a later part fails to start).
import type { Logger } from '../logger';

export class Cleanups {
  private readonly steps: Array<() => unknown> = [];

  constructor(private readonly log: Logger) {}

  add(step: () => unknown): void {
    this.steps.push(step);
  }

  /** Runs every step, newest first; one that fails is logged and the others still run. */
  async run(): Promise<void> {
    for (const step of this.steps.splice(0).reverse())
      await (async () => step())().catch((err: unknown) =>
        this.log.error({ err: String(err) }, 'shutdown step failed'),
      );
  }
}
