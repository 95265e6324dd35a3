// Preloaded (NODE_OPTIONS=--require) by bench/render-memory.ts into the server and its render process. In the
// render process only: on SIGUSR2 it writes process.memoryUsage() after a full GC (a heap snapshot collects first)
// and, when PRESS_PROBE_SNAPSHOT names a label in the request file, a heap snapshot, into PRESS_PROBE_DIR.
'use strict';
const { writeFileSync, readFileSync, appendFileSync } = require('node:fs');
const { join } = require('node:path');
const v8 = require('node:v8');
const dir = process.env.PRESS_PROBE_DIR;
if (dir && /render-process-main/.test(process.argv[1] ?? '')) {
  writeFileSync(join(dir, 'render-pid'), String(process.pid));
  process.on('SIGUSR2', () => {
    const label = readFileSync(join(dir, 'request'), 'utf8').trim();
    const before = process.memoryUsage();
    let file = null;
    if (label.startsWith('snap:')) file = v8.writeHeapSnapshot(join(dir, `${label.slice(5)}.heapsnapshot`));
    else {
      v8.setFlagsFromString('--expose-gc');
      require('node:vm').runInNewContext('gc')();
    }
    const after = process.memoryUsage();
    appendFileSync(join(dir, 'samples.jsonl'), JSON.stringify({ label, before, after, file }) + '\n');
  });
}
