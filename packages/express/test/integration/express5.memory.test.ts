// The behavioural suite on Express 5 with MemoryStore.
import express from 'express';
import { behaviourSuite, memoryKit } from '@tollgate/http/testing';
import { expressHarness } from '../../../../test-support/middleware/express-app';

behaviourSuite(expressHarness('Express 5', express), memoryKit());
