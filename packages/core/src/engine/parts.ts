// The pieces every engine operation is handed: shared state, the shard seeder and the event keeper.
import type { EngineContext } from './context';
import type { ShardSeeder } from './seeding';
import type { EventKeeper } from './threshold-events';

export interface EngineParts {
  ctx: EngineContext;
  seeder: ShardSeeder;
  events: EventKeeper;
}
