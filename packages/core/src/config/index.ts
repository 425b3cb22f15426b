// The Tollgate config: its types, the file schema with defaults, validation, loading from JSON/YAML files.
export type { LimitTable, TollgateConfig, WebhookConfig } from './types';
export type { TollgateConfigInput } from './schema';
export { parseLimit } from './limits';
export { isConfiguredMeter, isParsedConfig, parseConfig } from './parse';
export { loadConfig } from './load';
