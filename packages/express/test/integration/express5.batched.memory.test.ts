// The behavioural suite on Express 5 with MemoryStore and `durability: 'batched'` (usage written after the response).
import express from 'express';
import { behaviourSuite } from '../../../../test-support/middleware/behaviour-suite';
import { expressHarness } from '../../../../test-support/middleware/express-app';
import { memoryKit } from '../../../../test-support/middleware/stores';

behaviourSuite(expressHarness('Express 5', express), memoryKit(), { durability: 'batched' });
