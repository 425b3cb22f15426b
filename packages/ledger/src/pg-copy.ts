// COPY ... FROM STDIN for node-postgres without extra dependencies: a "submittable" query that streams CSV.
import type { PoolClient } from 'pg';

interface CopyConnection {
  query(text: string): void;
  sendCopyFromChunk(chunk: Buffer): void;
  endCopyFrom(): void;
}

/** The query object node-postgres drives: submit, then the server asks for data (CopyInResponse). */
class CopyInQuery {
  callback: ((err: Error | null, rowCount?: number) => void) | undefined;
  private rowCount = 0;

  constructor(
    readonly text: string,
    private readonly chunks: readonly string[],
  ) {}

  submit(connection: CopyConnection): void {
    connection.query(this.text);
  }

  handleCopyInResponse(connection: CopyConnection): void {
    for (const chunk of this.chunks) connection.sendCopyFromChunk(Buffer.from(chunk, 'utf8'));
    connection.endCopyFrom();
  }

  handleCommandComplete(msg: { text?: string }): void {
    const m = /^COPY (\d+)/.exec(msg.text ?? '');
    if (m) this.rowCount = Number(m[1]);
  }

  handleReadyForQuery(): void {
    this.callback?.(null, this.rowCount);
  }

  handleError(err: Error): void {
    this.callback?.(err);
  }

  // A COPY FROM returns no rows; node-postgres may still call these on any query.
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyData(): void {}
}

/** Runs `COPY <target> FROM STDIN WITH (FORMAT csv)` on one client with the CSV in `chunks`; resolves with the row count. */
export function copyFromStdin(
  client: PoolClient,
  target: string,
  chunks: readonly string[],
): Promise<number> {
  return new Promise((resolve, reject) => {
    const q = new CopyInQuery(`COPY ${target} FROM STDIN WITH (FORMAT csv)`, chunks);
    q.callback = (err, rowCount) => (err ? reject(err) : resolve(rowCount ?? 0));
    (client as unknown as { query(q: CopyInQuery): void }).query(q);
  });
}
