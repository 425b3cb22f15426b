// The behavioural suite on Express 5 with MemoryStore and `durability: 'batched'` (usage written after the response).
import express from 'express';
import { behaviourSuite, memoryKit } from '@tollgate/http/testing';
import { expressHarness } from '../../../../test-support/middleware/express-app';

behaviourSuite(expressHarness('Express 5', express), memoryKit(), { durability: 'batched' });
