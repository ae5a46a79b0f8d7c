// A JavaScript program for the perf-map test: growTheHeap fills the V8 heap with ~2M small
// objects; node --perf-basic-prof names its JIT code in /tmp/perf-PID.map. Prints V8's own
// heapUsed (the oracle) as "HEAPUSED n".
function growTheHeap(n) {
  const a = [];
  for (let i = 0; i < n; i++) a.push({ i: i, s: "x" + i });
  return a;
}
const keep = [];
for (let r = 0; r < 20; r++) keep.push(growTheHeap(100000));
console.log("HEAPUSED " + process.memoryUsage().heapUsed);
setTimeout(() => console.log(keep.length), 200);
