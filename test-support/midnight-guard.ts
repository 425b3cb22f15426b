// Day quotas reset at UTC midnight, so a test that runs across it is granted a second day's room: the CI run of
// f4ac647 admitted 1,340 requests on a 1,000-a-day plan at 23:59. Each file starts clear of midnight by more than
// any file takes, so neither its beforeAll state nor its tests span two days; a run that reaches midnight waits once.
// (Per test would not do: a file's beforeAll state would be yesterday's when the wait ended.)
import { clearOfMidnight } from '@tollgate/http/testing';

/** Longer than the slowest file takes, setup included (the crash and soak files take under 2 minutes). */
const FILE_MS = 300_000;
// Taken before the file runs: a file that installs fake timers at its top must not stop this wait.
const realSetTimeout = setTimeout;
const wait = (ms: number) => new Promise((resolve) => realSetTimeout(resolve, ms));

beforeAll(() => clearOfMidnight(FILE_MS, wait), FILE_MS + 5000);
