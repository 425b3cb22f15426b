// Day quotas reset at UTC midnight, so a test that runs across it is granted a second day's room: the CI run of
// f4ac647 admitted 1,340 requests on a 1,000-a-day plan at 23:59. Every file and every test starts clear of it; a
// run that reaches midnight waits once, for at most this long.
import { clearOfMidnight } from '@tollgate/http/testing';

/** Longer than the slowest file's setup and any one test take. */
const GUARD_MS = 150_000;

beforeAll(() => clearOfMidnight(GUARD_MS), GUARD_MS + 5000);
beforeEach(() => clearOfMidnight(GUARD_MS), GUARD_MS + 5000);
