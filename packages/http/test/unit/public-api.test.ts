// `@tollgate/http`'s entry points, name by name: a name added or removed is an API change, reviewed here.
import * as http from '@tollgate/http';
import * as internal from '@tollgate/http/internal';
import * as testing from '@tollgate/http/testing';
import { typeOnlyExports } from '../../../../test-support/public-api';

describe('@tollgate/http', () => {
  it('exports exactly these runtime names', () => {
    expect(Object.keys(http).sort()).toEqual([
      'IDENTITY_HEADERS',
      'RequestMeter',
      'SIGNATURE_HEADER',
      'StoreTimeoutError',
      'Tollgate',
      'callbackFailure',
      'countBodyBytes',
      'createTollgate',
      'decodeIdentityValue',
      'encodeIdentityValue',
      'identityValueProblem',
      'signIdentity',
      'verifyIdentitySignature',
    ]);
  });

  it('exports exactly these types', () => {
    expect(typeOnlyExports('packages/http/src/index.ts')).toEqual([
      'ForwardedIdentity',
      'HttpBinding',
      'IdentityInput',
      'MeterDone',
      'MeterOutcome',
      'PassOutcome',
      'ProceedOutcome',
      'RecordOptions',
      'RejectedEvent',
      'RequestUsage',
      'ResolvedTollgateOptions',
      'ResolvedTrackUsageOptions',
      'RespondOutcome',
      'SignatureCheck',
      'SignatureFailure',
      'SignedRequest',
      'ThresholdEvent',
      'TollgateAdmission',
      'TollgateHealth',
      'TollgateLogger',
      'TollgateOptions',
      'TollgateRecordResult',
      'TrackUsageOptions',
    ]);
  });
});

describe('@tollgate/http/internal (unstable)', () => {
  it('exports exactly these runtime names', () => {
    expect(Object.keys(internal).sort()).toEqual([
      'identityFromHeaders',
      'pathMatcher',
      'quotaRejection',
      'rateLimitPolicyValue',
      'rateLimitValue',
      'tightestRequestsLimit',
    ]);
  });

  it('exports exactly these types', () => {
    expect(typeOnlyExports('packages/http/src/internal.ts')).toEqual([
      'HeaderIdentity',
      'IdentityFailure',
      'QuotaRejection',
    ]);
  });
});

describe('@tollgate/http/testing', () => {
  it('exports exactly these runtime names', () => {
    expect(Object.keys(testing).sort()).toEqual([
      'ClaimedUsage',
      'OutageStore',
      'SUITE_CONFIG',
      'behaviourSuite',
      'burst',
      'captureLogger',
      'clearOfMidnight',
      'eventually',
      'get',
      'getTarget',
      'identity',
      'memoryKit',
      'midnightWait',
      'post',
      'secondsToMidnight',
      'signedIdentity',
      'sleep',
      'uniqueTenant',
    ]);
  });

  it('exports exactly these types', () => {
    expect(typeOnlyExports('packages/http/src/testing/index.ts')).toEqual([
      'AppHarness',
      'LogEntry',
      'OutageHandle',
      'OutageMode',
      'Reply',
      'RunningApp',
      'StoreKit',
    ]);
  });
});
