// The store contract suite: every CounterStore (MemoryStore, RedisStore, yours) must pass it unchanged. One file
// per group of behaviours, most of them the numbered atomic steps of `CounterStore.apply` (see store.ts).
/// <reference types="jest" />
import { parseConfig } from '../../config';
import { QuotaEngine } from '../../engine/quota-engine';
import type { BaselineSource } from '../../engine/seeding';
import type { CounterStore } from '../../store';
import { admissionCases } from './admission';
import { apiKeyCases } from './api-keys';
import { claimCases } from './claims';
import { CONTRACT_CONFIG, DAY, TestClock, type ContractKit, type ContractStoreFactory } from './kit';
import { manyOpCases } from './many-ops';
import { opIdCases } from './op-ids';
import { overrideCases } from './overrides';
import { reservationCases } from './reservations';
import { seedingCases } from './seeding';
import { thresholdCases } from './thresholds';

export { CONTRACT_CONFIG, TestClock, type ContractStoreFactory } from './kit';

/** Registers the contract suite with jest (`describe`/`it` globals). */
export function storeContractSuite(factory: ContractStoreFactory): void {
  describe(`CounterStore contract: ${factory.name}`, () => {
    let store: CounterStore;
    let clock: TestClock;
    const config = parseConfig(CONTRACT_CONFIG);
    const kit: ContractKit = {
      current: () => ({ store, clock }),
      engine: (baseline?: BaselineSource) => new QuotaEngine({ store, config, now: clock.now, baseline }),
    };

    beforeEach(async () => {
      // Keep a whole day ahead so no test straddles midnight by accident.
      clock = new TestClock();
      if (DAY - (clock.now() % DAY) < 120_000) clock.toNextDay();
      store = await factory.create();
    });
    afterEach(async () => {
      await (factory.destroy ? factory.destroy(store) : store.close());
    });

    describe('admission', () => admissionCases(kit));
    describe('operation ids', () => opIdCases(kit));
    describe('reservations', () => reservationCases(kit));
    describe('thresholds and events', () => thresholdCases(kit));
    describe('overrides', () => overrideCases(kit));
    describe('API keys', () => apiKeyCases(kit));
    describe('the flush path (claim, ack)', () => claimCases(kit));
    describe('seeding from the baseline', () => seedingCases(kit));
    describe('many ops in one call', () => manyOpCases(kit));
  });
}
