// The behavioural suite on Express 4 with MemoryStore.
import express4 from 'express4';
import { behaviourSuite, memoryKit } from '@tollgate/http/testing';
import { expressHarness } from '../../../../test-support/middleware/express-app';

behaviourSuite(expressHarness('Express 4', express4), memoryKit());
