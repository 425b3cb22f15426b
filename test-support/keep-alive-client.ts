// Many clients' GETs over one keep-alive pool, resolved with the status: for load tests of one server.
import http from 'node:http';

export interface KeepAliveClient {
  /** GETs `url` (the client's base URL plus `path`, when given) and resolves with the status, body read. */
  get(path?: string): Promise<number>;
  close(): void;
}

export function keepAliveClient(base: string, sockets: number): KeepAliveClient {
  const agent = new http.Agent({ keepAlive: true, maxSockets: sockets });
  return {
    get: (path = '') =>
      new Promise<number>((resolve, reject) => {
        http
          .get(`${base}${path}`, { agent }, (r) => {
            r.resume();
            r.on('end', () => resolve(r.statusCode ?? 0));
          })
          .on('error', reject);
      }),
    close: () => agent.destroy(),
  };
}
