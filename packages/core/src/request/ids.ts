// Operation ids: unique across processes (random prefix) and cheap per request (a counter, no UUID per call).
import { randomBytes } from 'node:crypto';

/** Yields ids like `k3f9a1c2e0b4d5a6.1z`; every id a store sees is unique, so it applies each at most once. */
export class OpIds {
  private readonly prefix = `k${randomBytes(8).toString('hex')}.`;
  private seq = 0;

  next(): string {
    this.seq += 1;
    return this.prefix + this.seq.toString(36);
  }
}
