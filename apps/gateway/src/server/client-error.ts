// What Node does with a request it could not read, with the timeouts answered 408 problem+json (Node's own answer
// is a bare 408); the connection is closed after it.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { contextOf } from '../context';
import { rawProblemResponse } from '../problem';

/** The outcome of a request the server's timeout cut while it was being served (its body still coming). */
function markRequestTimeout(req: IncomingMessage): void {
  try {
    contextOf(req).outcome = 'request_timeout';
  } catch {
    // A request outside the gateway's handler (no context): nothing to count.
  }
}

export function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  // As Node does: answer only when no response of this connection has started.
  const inFlight = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (socket.writable && !inFlight?.headersSent) {
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      if (inFlight) markRequestTimeout(inFlight.req);
      const timeout = {
        status: 408,
        title: 'Request Timeout',
        detail: "the request did not arrive within the gateway's time limit",
      };
      socket.write(rawProblemResponse(timeout, 'Request Timeout'));
    } else {
      const status =
        err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
      socket.write(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
    }
  }
  socket.destroy(err);
}
