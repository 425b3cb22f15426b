// What admission and its leases need of the request engine: the ticket's context plus header and lease settings.
import type { TicketContext } from './ticket';

export interface AdmissionContext<Res> extends TicketContext<Res> {
  rateLimitHeaders: boolean;
  /** Admission leases' period (0: none). */
  leaseMs: number;
}
