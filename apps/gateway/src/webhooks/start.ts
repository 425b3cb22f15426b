// The webhook dispatcher, started when the config names webhooks (else none).
import type { TollgateConfig } from '@tollgate/core';
import type { SqlClient } from '@tollgate/ledger';
import type { Logger } from '../logger';
import { WebhookDispatcher } from './dispatcher';

export function startWebhooks(config: TollgateConfig, sql: SqlClient, log: Logger): WebhookDispatcher | null {
  if (config.webhooks.length === 0) return null;
  const webhooks = new WebhookDispatcher({ sql, webhooks: config.webhooks, logger: log });
  webhooks.start();
  return webhooks;
}
