// Where `/api` is proxied: UPSTREAM_URL, or the built-in demo upstream started here (closed at shutdown).
import { startDemoUpstream, type DemoUpstreamOptions } from '../demo-upstream';
import type { GatewaySettings } from '../env';
import type { Cleanups } from './cleanups';

export async function resolveUpstream(
  settings: GatewaySettings,
  demoOptions: DemoUpstreamOptions | undefined,
  cleanups: Cleanups,
): Promise<URL> {
  if (settings.upstreamUrl) return settings.upstreamUrl;
  const demo = await startDemoUpstream(demoOptions);
  cleanups.add(() => demo.close());
  return demo.url;
}
