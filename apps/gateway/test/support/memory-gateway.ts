// A gateway on MemoryStore in front of a recording LLM upstream, with its own database: started before a test
// file's tests and closed after them (the setup most regression files share).
import { MemoryStore } from '@tollgate/core';
import { createTestDatabase } from '../../../../test-support/services';
import { LlmUpstream } from './llm-upstream';
import { startGateway, type RunningGateway } from './kit';

export interface MemoryGateway {
  readonly gw: RunningGateway;
  readonly upstream: LlmUpstream;
}

/** Registers beforeAll/afterAll for the calling file; the fields are set once beforeAll ran. */
export function memoryGatewayPerFile(databaseName: string): MemoryGateway {
  let upstream: LlmUpstream | undefined;
  let gw: RunningGateway | undefined;
  let db: { url: string; drop: () => Promise<void> } | undefined;

  beforeAll(async () => {
    upstream = await new LlmUpstream().start();
    db = await createTestDatabase(databaseName);
    gw = await startGateway(
      { UPSTREAM_URL: upstream.url, DATABASE_URL: db.url, FLUSHER: 'off' },
      { store: new MemoryStore() },
    );
  });

  afterAll(async () => {
    await gw?.close();
    await upstream?.stop();
    await db?.drop();
  });

  return {
    get gw() {
      return gw!;
    },
    get upstream() {
      return upstream!;
    },
  };
}
