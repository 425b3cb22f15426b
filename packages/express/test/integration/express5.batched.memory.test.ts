// The behavioural suite on Express 5 with MemoryStore and `durability: 'batched'` (usage written after the response).
import express from 'express';
import { behaviourSuite } from '../shared/behaviour-suite';
import { expressHarness } from '../shared/express-app';
import { memoryKit } from '../shared/stores';

behaviourSuite(expressHarness('Express 5', express), memoryKit(), { durability: 'batched' });
