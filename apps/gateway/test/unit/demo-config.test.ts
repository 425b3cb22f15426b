// The built-in demo config (moved here from core's config tests with the config itself) is a valid config.
import { parseConfig } from '@tollgate/core';
import { DEMO_CONFIG } from '../../src/demo-config';

describe('the gateway demo config', () => {
  it('accepts the built-in demo config', () => {
    expect(() => parseConfig(DEMO_CONFIG)).not.toThrow();
  });
});
