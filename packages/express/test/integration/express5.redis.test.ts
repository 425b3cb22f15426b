// The behavioural suite on Express 5 with RedisStore (the shared Redis, and a test-owned redis-server for outages).
import express from 'express';
import { behaviourSuite } from '../shared/behaviour-suite';
import { expressHarness } from '../shared/express-app';
import { redisKit } from '../shared/stores';

behaviourSuite(expressHarness('Express 5', express), redisKit());
