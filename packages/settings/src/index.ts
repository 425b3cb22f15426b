// @tollgate/settings (private, not published): the environment-setting parsers the gateway and the flusher share,
// so both processes read Redis, Postgres and prefix settings by the same rules.
export {
  SettingError,
  LOG_LEVELS,
  intSetting,
  urlSetting,
  clusterNodesSetting,
  redisPrefixSetting,
} from './settings';
