// Preloaded (node -r) into a middleware-bench server by middleware-gc.js --heap-profile: a sampling heap profile
// from SIGHUP to SIGUSR2 (SIGUSR1 is Node's debugger signal), written to BENCH_HEAP_OUT. Counts objects the GC has already collected, so short-lived
// per-request garbage shows up (a profile without those flags holds only what survived).
'use strict';
const inspector = require('node:inspector');
const { writeFileSync } = require('node:fs');

const session = new inspector.Session();
session.connect();
process.on('SIGHUP', () => {
  session.post('HeapProfiler.startSampling', {
    samplingInterval: 256,
    includeObjectsCollectedByMinorGC: true,
    includeObjectsCollectedByMajorGC: true,
  });
});
process.on('SIGUSR2', () => {
  session.post('HeapProfiler.stopSampling', (err, result) => {
    if (err) console.error(err);
    else writeFileSync(process.env.BENCH_HEAP_OUT, JSON.stringify(result.profile));
    process.exit(err ? 1 : 0);
  });
});
