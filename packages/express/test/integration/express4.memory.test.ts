// The behavioural suite on Express 4 with MemoryStore.
import express4 from 'express4';
import { behaviourSuite } from '../shared/behaviour-suite';
import { expressHarness } from '../shared/express-app';
import { memoryKit } from '../shared/stores';

behaviourSuite(expressHarness('Express 4', express4), memoryKit());
