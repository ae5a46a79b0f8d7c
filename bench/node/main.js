// node_bench N [S]: N promises of setTimeout (each behind an async function, as in the published
// Node program) awaited with Promise.all, then exit.
// With TASKMEM_MEMSTATS set, at 0.8 S one `MEMSTATS {json}` line on stderr gives V8's and
// Node's own accounting: process.memoryUsage() and v8.getHeapSpaceStatistics().
'use strict';
const fs = require('fs');
const util = require('util');
const v8 = require('v8');

const delay = util.promisify(setTimeout);

function usage() {
  console.error('usage: node_bench N [S]  (N tasks that each wait S seconds, default 10)');
  process.exit(2);
}

// Seconds since this process started (/proc/self/stat starttime), to find the profiler's
// timeline sample taken at the same moment.
function uptime() {
  const up = parseFloat(fs.readFileSync('/proc/uptime', 'utf8'));
  const stat = fs.readFileSync('/proc/self/stat', 'utf8');
  const start = Number(stat.slice(stat.lastIndexOf(')') + 1).trim().split(/\s+/)[19]);
  return Math.round((up - start / 100) * 100) / 100; // USER_HZ is 100 on Linux
}

function report(n) {
  const spaces = {};
  for (const s of v8.getHeapSpaceStatistics()) {
    spaces[s.space_name] = {
      size: s.space_size, used: s.space_used_size, physical: s.physical_space_size,
    };
  }
  const h = v8.getHeapStatistics();
  process.stderr.write('MEMSTATS ' + JSON.stringify({
    runtime: 'node', t_s: uptime(), tasks: n,
    memory_usage: process.memoryUsage(),
    heap: {
      total_heap_size: h.total_heap_size, total_physical_size: h.total_physical_size,
      used_heap_size: h.used_heap_size, malloced_memory: h.malloced_memory,
      external_memory: h.external_memory,
    },
    spaces,
  }) + '\n');
}

async function runTasks(numTasks, ms) {
  const start = Date.now();
  const tasks = [];
  for (let i = 0; i < numTasks; i++) {
    tasks.push((async () => { await delay(ms); })());
  }
  if (process.env.TASKMEM_MEMSTATS) {
    tasks.push(delay(Math.max(0, start + 0.8 * ms - Date.now())).then(() => report(numTasks)));
  }
  await Promise.all(tasks);
}

const n = Number(process.argv[2]);
const s = process.argv.length > 3 ? Number(process.argv[3]) : 10;
if (process.argv.length < 3 || process.argv.length > 4 || !Number.isInteger(n) || n < 0 ||
    !(s >= 0)) {
  usage();
}
runTasks(n, s * 1000).catch((error) => {
  console.error('node_bench:', error);
  process.exit(1);
});
