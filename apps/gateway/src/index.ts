// The Tollgate gateway as a library: createGateway() for tests and embedding, settings from env, the demo upstream.
export {
  createGateway,
  type CreateGatewayOptions,
  type Gateway,
  type GatewayRouteContext,
  type GatewayRouteFactory,
} from './app';
export { parseEnv, SettingError, type GatewaySettings, type JwtSettings, type ParseEnvOptions } from './env';
export { JwtVerifier, TokenError, bearerToken, type GatewayIdentity } from './jwt';
export {
  createDemoUpstream,
  startDemoUpstream,
  type DemoUpstreamOptions,
  type RunningUpstream,
} from './demo-upstream';
export { demoToken, demoBanner, persistentDemoSecret, DEMO_IDENTITY } from './demo';
