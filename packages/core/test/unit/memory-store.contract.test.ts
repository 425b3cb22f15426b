import { MemoryStore } from '../../src';
import { storeContractSuite } from '../../src/testing';

storeContractSuite({ name: 'MemoryStore', create: async () => new MemoryStore() });
