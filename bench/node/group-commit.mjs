// The Node peer of `walden bench` (issue 19, target 3b): N async producers, each awaiting its own durable write;
// the writes of one event-loop turn are committed in one better-sqlite3 transaction (synchronous FULL, WAL).
// No thread hand-off: a commit resolves its promises, the producers' next writes are queued in the same turn,
// and the next setImmediate commits them together. What it lacks next to Walden: a failing write fails its whole
// batch, there is no busy handling beyond SQLite's timeout, no checkpoint ownership, no back-pressure.
// Usage: node group-commit.mjs <db> <producers> <seconds> <rows.json> [writes per producer, 0 = by time]
// (walden bench creates the schema and writes rows.json: the very rows Walden writes)
import Database from 'better-sqlite3';
import { readFileSync } from 'node:fs';

const [path, producersArg, secondsArg, rowsFile, writesArg] = process.argv.slice(2);
const producers = Number(producersArg), seconds = Number(secondsArg), writesEach = Number(writesArg ?? 0);
const { tasks, types, bodies, baseTimestamp } = JSON.parse(readFileSync(rowsFile, 'utf8'));
const db = new Database(path);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
const insert = db.prepare('INSERT INTO agent_log(task_id, ts, type, body) VALUES (?, ?, ?, ?)');
const commit = db.transaction((rows) => { for (const r of rows) insert.run(r); });

// --- the group commit: about 15 lines ---
let queue = [];
function write(row) {
  return new Promise((resolve, reject) => {
    if (queue.push({ row, resolve, reject }) === 1) setImmediate(flush);
  });
}
function flush() {
  const batch = queue; queue = [];
  try { commit(batch.map((w) => w.row)); } catch (e) { for (const w of batch) w.reject(e); return; }
  for (const w of batch) w.resolve();
}
// ---

const row = (p, seq) => [tasks[p % tasks.length], baseTimestamp + seq * 10 + (p % 10), types[(seq + p) % types.length],
  bodies[(p * 7919 + seq) % bodies.length]];
const latencies = [];
const deadline = performance.now() + seconds * 1000;
let rows = 0;
async function producer(p) {
  for (let seq = 0; ; seq++) {
    const started = performance.now();
    await write(row(p, seq));
    latencies.push(performance.now() - started);
    rows++;
    if (writesEach > 0 ? seq + 1 >= writesEach : performance.now() >= deadline) return;
  }
}
const started = performance.now();
await Promise.all(Array.from({ length: producers }, (_, p) => producer(p)));
const elapsed = (performance.now() - started) / 1000;
latencies.sort((a, b) => a - b);
const pct = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
const sqlite = db.prepare('SELECT sqlite_version() AS v').get().v;
db.close();
console.log(JSON.stringify({ rows, seconds: elapsed, p50Ms: pct(0.5), p99Ms: pct(0.99), maxMs: latencies.at(-1) ?? 0,
  sqlite, betterSqlite3: JSON.parse(readFileSync(new URL('./node_modules/better-sqlite3/package.json', import.meta.url))).version }));
