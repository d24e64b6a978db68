/*
** walden-fault: a fault-injecting SQLite VFS for Walden's tests and `walden torture --power-loss`.
**
** Built by native/build.sh into native/bin/libwalden_faultvfs.so, a library of its own: the engine and the
** packages never load it. A test or the torture worker loads it and calls walden_fault_register(), handing
** over sqlite3_vfs_find and sqlite3_vfs_register of the SQLite the process already runs on (so this file links
** against nothing and cannot bind a second SQLite). It wraps the "unix" VFS and becomes the default VFS.
**
** The model is the kernel's page cache, modelled after SQLite's own crash VFS (src/test6.c), extended across
** processes: for every tracked file, each write since the last successful sync keeps the bytes it replaced in
** an undo log beside the file (<file>.fault-undo), appended under flock(2) so the writes of all processes to
** that file are in one order. A successful xSync by ANY process empties the log: everything written before is
** durable, whoever wrote it. A power cut (walden_fault_power_cut, once every process is gone) replays the
** logs backwards: each unsynced 512-byte sector keeps its newest bytes, returns to its synced bytes, or becomes
** garbage (only within bytes that were written: SQLite's default powersafe-overwrite), chosen per sector from
** the seed, so writes tear at sector size. A file created since it was last synced loses its directory entry.
**
** Faults, all seeded (splitmix64 of `seed` and a call counter): EIO on fsync (the unsynced bytes are then
** lost, as Linux may drop dirty pages after a writeback error, and the next fsync succeeds: fsyncgate), ENOSPC
** on write, short write, EIO on write and on read, a frozen disk after the N-th write or sync (an in-process
** power cut), sync=off (fsync skipped: what PRAGMA synchronous=OFF does to durability), latency per fsync.
**
** Configuration: a spec string "key=value;key=value", from walden_fault_register/_configure or the
** WALDEN_FAULT_VFS environment variable (read by the Walden CLI): see walden_fault_configure below.
*/
#include "sqlite3.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FAULT_VFS_NAME "walden-fault"
#define UNDO_SUFFIX ".fault-undo"
#define SECTOR 512
#define REC_MAGIC 0x57464c54u /* "WFLT" */
#define REC_WRITE 1u
#define REC_TRUNCATE 2u
#define REC_CREATE 3u
#define MAX_UNDO_TRUNCATE ((int64_t)1 << 30)

typedef struct Config {
  char dir[4096];           /* only files whose full path starts with this are tracked; "" = every file */
  uint64_t seed;
  int undo;                 /* keep undo logs (needed for power cuts) */
  int syncOff;              /* hazard: xSync does nothing and reports success */
  long latencyUs;           /* sleep per xSync of a tracked file */
  double eioFsync, enospc, shortWrite, eioWrite, eioRead;  /* probability per call, 0..1 */
  long long cutAfterWrites, cutAfterSyncs;                 /* freeze the disk at the N-th write / sync (0 = never) */
} Config;

typedef struct Counters {
  long long writes, syncs, reads, faults, frozenRefusals;
} Counters;

static pthread_mutex_t g_mutex = PTHREAD_MUTEX_INITIALIZER;
static Config g_cfg;
static Counters g_count;
static uint64_t g_draws;
static int g_frozen;
static sqlite3_vfs *g_real;
static sqlite3_vfs g_vfs;
static int g_registered;

typedef struct FaultFile {
  sqlite3_file base;
  sqlite3_file *real;
  int tracked;
  int undoFd;               /* -1 when this file keeps no undo log */
} FaultFile;

typedef struct RecHeader {
  uint32_t magic, type;
  int64_t offset, length, prevSize;
} RecHeader;

/* ---------------------------------------------------------------- randomness */

static uint64_t splitmix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

static double unit(uint64_t x) { return (double)(splitmix(x) >> 11) / 9007199254740992.0; }

/* One draw of the process-wide seeded sequence: deterministic for one sequence of calls. Caller holds g_mutex. */
static int draw(double probability) {
  if (probability <= 0) return 0;
  return unit(g_cfg.seed * 0x100000001B3ull + ++g_draws) < probability;
}

static uint64_t hashString(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

/* ---------------------------------------------------------------- configuration */

/*
** Keys (any order, ';' between pairs; unknown keys are an error):
**   dir=<path prefix>      files tracked (undo logs, faults, latency); empty or absent = every file
**   seed=<n>               seeds every random choice
**   undo=0|1               keep undo logs so that walden_fault_power_cut can model a power cut (default 0)
**   sync=on|off            off: xSync returns success without syncing (the synchronous=OFF hazard)
**   latency_us=<n>         microseconds added to every xSync (a slow disk: 1000 = 1 ms, 5000 = 5 ms)
**   eio_fsync, enospc, short_write, eio_write, eio_read = <probability 0..1> per call
**   cut_after_writes=<n>, cut_after_syncs=<n>   the n-th write/sync and everything after it never reach the file
** Reconfiguring resets the counters, the draw sequence and a frozen disk.
*/
int walden_fault_configure(const char *spec) {
  Config cfg;
  memset(&cfg, 0, sizeof cfg);
  char *copy = strdup(spec ? spec : "");
  if (!copy) return SQLITE_NOMEM;
  int rc = SQLITE_OK;
  char *save = 0;
  for (char *pair = strtok_r(copy, ";", &save); pair; pair = strtok_r(0, ";", &save)) {
    char *eq = strchr(pair, '=');
    if (!eq) { rc = SQLITE_MISUSE; break; }
    *eq = 0;
    const char *k = pair, *v = eq + 1;
    if (!strcmp(k, "dir")) snprintf(cfg.dir, sizeof cfg.dir, "%s", v);
    else if (!strcmp(k, "seed")) cfg.seed = strtoull(v, 0, 10);
    else if (!strcmp(k, "undo")) cfg.undo = atoi(v) != 0;
    else if (!strcmp(k, "sync")) cfg.syncOff = !strcmp(v, "off");
    else if (!strcmp(k, "latency_us")) cfg.latencyUs = atol(v);
    else if (!strcmp(k, "eio_fsync")) cfg.eioFsync = strtod(v, 0);
    else if (!strcmp(k, "enospc")) cfg.enospc = strtod(v, 0);
    else if (!strcmp(k, "short_write")) cfg.shortWrite = strtod(v, 0);
    else if (!strcmp(k, "eio_write")) cfg.eioWrite = strtod(v, 0);
    else if (!strcmp(k, "eio_read")) cfg.eioRead = strtod(v, 0);
    else if (!strcmp(k, "cut_after_writes")) cfg.cutAfterWrites = atoll(v);
    else if (!strcmp(k, "cut_after_syncs")) cfg.cutAfterSyncs = atoll(v);
    else { rc = SQLITE_MISUSE; break; }
  }
  free(copy);
  if (rc != SQLITE_OK) return rc;
  pthread_mutex_lock(&g_mutex);
  g_cfg = cfg;
  memset(&g_count, 0, sizeof g_count);
  g_draws = 0;
  g_frozen = 0;
  pthread_mutex_unlock(&g_mutex);
  return SQLITE_OK;
}

/* Counters since the last configuration: 0 writes, 1 syncs, 2 reads, 3 faults injected, 4 calls refused by a frozen disk, 5 frozen. */
long long walden_fault_counter(int which) {
  pthread_mutex_lock(&g_mutex);
  long long v = which == 0 ? g_count.writes : which == 1 ? g_count.syncs : which == 2 ? g_count.reads
              : which == 3 ? g_count.faults : which == 4 ? g_count.frozenRefusals : g_frozen;
  pthread_mutex_unlock(&g_mutex);
  return v;
}

static int isTracked(const char *path) {
  if (!path) return 0;
  pthread_mutex_lock(&g_mutex);
  size_t n = strlen(g_cfg.dir);
  int tracked = n == 0 || strncmp(path, g_cfg.dir, n) == 0;
  pthread_mutex_unlock(&g_mutex);
  return tracked;
}

/* ---------------------------------------------------------------- the undo log */

static int writeAll(int fd, const void *buf, size_t n) {
  const char *p = buf;
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) { if (errno == EINTR) continue; return -1; }
    p += w; n -= (size_t)w;
  }
  return 0;
}

static int appendRecord(int fd, uint32_t type, int64_t offset, int64_t length, int64_t prevSize, const void *old) {
  size_t total = sizeof(RecHeader) + (size_t)(old ? length : 0);
  char *buf = malloc(total);
  if (!buf) return -1;
  RecHeader h = { REC_MAGIC, type, offset, length, prevSize };
  memcpy(buf, &h, sizeof h);
  if (old) memcpy(buf + sizeof h, old, (size_t)length);
  int rc = writeAll(fd, buf, total); /* O_APPEND: one write per record */
  free(buf);
  return rc;
}

/* Reads the bytes [offset, offset+length) the file holds now; past its end they read as zeros. */
static int readOld(FaultFile *f, void *buf, int64_t length, int64_t offset) {
  int rc = f->real->pMethods->xRead(f->real, buf, (int)length, offset);
  return rc == SQLITE_IOERR_SHORT_READ ? SQLITE_OK : rc;
}

static int64_t fileSize(FaultFile *f) {
  sqlite3_int64 size = 0;
  return f->real->pMethods->xFileSize(f->real, &size) == SQLITE_OK ? size : 0;
}

typedef struct Log {
  char *data;
  size_t size;
} Log;

static int readLog(int fd, Log *log) {
  struct stat st;
  log->data = 0; log->size = 0;
  if (fstat(fd, &st) != 0) return -1;
  if (st.st_size == 0) return 0;
  log->data = malloc((size_t)st.st_size);
  if (!log->data) return -1;
  ssize_t r = pread(fd, log->data, (size_t)st.st_size, 0);
  if (r < 0) { free(log->data); log->data = 0; return -1; }
  log->size = (size_t)r;
  return 0;
}

/* Complete records, in order; a record cut short by a kill ends the log (its write never happened). */
static int nextRecord(const Log *log, size_t *pos, RecHeader *h, const char **old) {
  if (*pos + sizeof(RecHeader) > log->size) return 0;
  memcpy(h, log->data + *pos, sizeof *h);
  if (h->magic != REC_MAGIC || h->length < 0) return 0;
  size_t body = h->type == REC_CREATE ? 0 : (size_t)h->length;
  if (*pos + sizeof(RecHeader) + body > log->size) return 0;
  *old = log->data + *pos + sizeof(RecHeader);
  *pos += sizeof(RecHeader) + body;
  return 1;
}

/* fsync failed: the kernel dropped the dirty pages, so the file reads as it was at the last good sync. */
static void loseUnsynced(FaultFile *f) {
  Log log;
  if (readLog(f->undoFd, &log) != 0) return;
  size_t n = 0, pos = 0, cap = 64;
  size_t *starts = malloc(cap * sizeof *starts);
  RecHeader h; const char *old;
  while (starts && nextRecord(&log, &pos, &h, &old)) {
    if (n == cap) { cap *= 2; size_t *s = realloc(starts, cap * sizeof *starts); if (!s) break; starts = s; }
    starts[n++] = pos;
  }
  int64_t syncedSize = -1;
  for (size_t i = n; i-- > 0;) {
    size_t p = i == 0 ? 0 : starts[i - 1];
    nextRecord(&log, &p, &h, &old);
    if (h.type != REC_CREATE) f->real->pMethods->xWrite(f->real, old, (int)h.length, h.offset);
    syncedSize = h.prevSize;
  }
  if (syncedSize >= 0) f->real->pMethods->xTruncate(f->real, syncedSize);
  free(starts);
  free(log.data);
  if (ftruncate(f->undoFd, 0) != 0) { /* the log is only a model; nothing better to do */ }
}

/* ---------------------------------------------------------------- io methods */

static int fClose(sqlite3_file *p) {
  FaultFile *f = (FaultFile *)p;
  int rc = f->real->pMethods ? f->real->pMethods->xClose(f->real) : SQLITE_OK;
  if (f->undoFd >= 0) close(f->undoFd);
  f->undoFd = -1;
  return rc;
}

static int fRead(sqlite3_file *p, void *buf, int amt, sqlite3_int64 off) {
  FaultFile *f = (FaultFile *)p;
  if (f->tracked) {
    pthread_mutex_lock(&g_mutex);
    g_count.reads++;
    int fail = draw(g_cfg.eioRead);
    if (fail) g_count.faults++;
    pthread_mutex_unlock(&g_mutex);
    if (fail) return SQLITE_IOERR_READ;
  }
  return f->real->pMethods->xRead(f->real, buf, amt, off);
}

enum { PASS, REFUSE_FROZEN, FAIL_ENOSPC, FAIL_SHORT, FAIL_EIO };

static int writeVerdict(void) {
  pthread_mutex_lock(&g_mutex);
  g_count.writes++;
  int v = PASS;
  if (g_frozen || (g_cfg.cutAfterWrites > 0 && g_count.writes >= g_cfg.cutAfterWrites)) { g_frozen = 1; v = REFUSE_FROZEN; g_count.frozenRefusals++; }
  else if (draw(g_cfg.enospc)) v = FAIL_ENOSPC;
  else if (draw(g_cfg.shortWrite)) v = FAIL_SHORT;
  else if (draw(g_cfg.eioWrite)) v = FAIL_EIO;
  if (v != PASS && v != REFUSE_FROZEN) g_count.faults++;
  pthread_mutex_unlock(&g_mutex);
  return v;
}

static int loggedWrite(FaultFile *f, const void *buf, int amt, sqlite3_int64 off) {
  if (f->undoFd < 0) return f->real->pMethods->xWrite(f->real, buf, amt, off);
  flock(f->undoFd, LOCK_EX);
  int64_t prev = fileSize(f);
  void *old = malloc((size_t)amt);
  int rc = old ? readOld(f, old, amt, off) : SQLITE_NOMEM;
  if (rc == SQLITE_OK && appendRecord(f->undoFd, REC_WRITE, off, amt, prev, old) != 0) rc = SQLITE_IOERR_WRITE;
  if (rc == SQLITE_OK) rc = f->real->pMethods->xWrite(f->real, buf, amt, off);
  flock(f->undoFd, LOCK_UN);
  free(old);
  return rc;
}

static int fWrite(sqlite3_file *p, const void *buf, int amt, sqlite3_int64 off) {
  FaultFile *f = (FaultFile *)p;
  if (!f->tracked) return f->real->pMethods->xWrite(f->real, buf, amt, off);
  switch (writeVerdict()) {
    case REFUSE_FROZEN: return SQLITE_IOERR_WRITE;
    case FAIL_ENOSPC: return SQLITE_FULL;
    case FAIL_EIO: return SQLITE_IOERR_WRITE;
    case FAIL_SHORT: {
      /* Part of the bytes reach the file, then ENOSPC: what unix's seekAndWrite reports as SQLITE_FULL. */
      int part = amt / 2;
      if (part > 0) loggedWrite(f, buf, part, off);
      return SQLITE_FULL;
    }
    default: return loggedWrite(f, buf, amt, off);
  }
}

static int fTruncate(sqlite3_file *p, sqlite3_int64 size) {
  FaultFile *f = (FaultFile *)p;
  if (!f->tracked) return f->real->pMethods->xTruncate(f->real, size);
  pthread_mutex_lock(&g_mutex);
  int frozen = g_frozen;
  if (frozen) g_count.frozenRefusals++;
  pthread_mutex_unlock(&g_mutex);
  if (frozen) return SQLITE_IOERR_TRUNCATE;
  if (f->undoFd < 0) return f->real->pMethods->xTruncate(f->real, size);
  flock(f->undoFd, LOCK_EX);
  int64_t prev = fileSize(f);
  int rc = SQLITE_OK;
  if (prev > size && prev - size <= MAX_UNDO_TRUNCATE) {
    void *old = malloc((size_t)(prev - size));
    rc = old ? readOld(f, old, prev - size, size) : SQLITE_NOMEM;
    if (rc == SQLITE_OK && appendRecord(f->undoFd, REC_TRUNCATE, size, prev - size, prev, old) != 0) rc = SQLITE_IOERR_TRUNCATE;
    free(old);
  }
  if (rc == SQLITE_OK) rc = f->real->pMethods->xTruncate(f->real, size);
  flock(f->undoFd, LOCK_UN);
  return rc;
}

static int fSync(sqlite3_file *p, int flags) {
  FaultFile *f = (FaultFile *)p;
  if (!f->tracked) return f->real->pMethods->xSync(f->real, flags);
  pthread_mutex_lock(&g_mutex);
  g_count.syncs++;
  long latency = g_cfg.latencyUs;
  int syncOff = g_cfg.syncOff;
  int frozen = g_frozen || (g_cfg.cutAfterSyncs > 0 && g_count.syncs >= g_cfg.cutAfterSyncs);
  if (frozen) { g_frozen = 1; g_count.frozenRefusals++; }
  int eio = !frozen && !syncOff && draw(g_cfg.eioFsync);
  if (eio) g_count.faults++;
  pthread_mutex_unlock(&g_mutex);
  if (latency > 0) {
    struct timespec ts = { latency / 1000000, (latency % 1000000) * 1000 };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) { }
  }
  if (frozen) return SQLITE_IOERR_FSYNC;
  if (syncOff) return SQLITE_OK;
  if (f->undoFd < 0) return eio ? SQLITE_IOERR_FSYNC : f->real->pMethods->xSync(f->real, flags);
  flock(f->undoFd, LOCK_EX);
  int rc;
  if (eio) {
    loseUnsynced(f);
    rc = SQLITE_IOERR_FSYNC;
  } else {
    rc = f->real->pMethods->xSync(f->real, flags);
    if (rc == SQLITE_OK && ftruncate(f->undoFd, 0) != 0) rc = SQLITE_IOERR_FSYNC;
  }
  flock(f->undoFd, LOCK_UN);
  return rc;
}

static int fFileSize(sqlite3_file *p, sqlite3_int64 *size) { FaultFile *f = (FaultFile *)p; return f->real->pMethods->xFileSize(f->real, size); }
static int fLock(sqlite3_file *p, int l) { FaultFile *f = (FaultFile *)p; return f->real->pMethods->xLock(f->real, l); }
static int fUnlock(sqlite3_file *p, int l) { FaultFile *f = (FaultFile *)p; return f->real->pMethods->xUnlock(f->real, l); }
static int fCheckReservedLock(sqlite3_file *p, int *out) { FaultFile *f = (FaultFile *)p; return f->real->pMethods->xCheckReservedLock(f->real, out); }
static int fFileControl(sqlite3_file *p, int op, void *arg) {
  FaultFile *f = (FaultFile *)p;
  return f->real->pMethods->xFileControl(f->real, op, arg);
}
static int fSectorSize(sqlite3_file *p) { FaultFile *f = (FaultFile *)p; return f->real->pMethods->xSectorSize(f->real); }
static int fDeviceCharacteristics(sqlite3_file *p) { FaultFile *f = (FaultFile *)p; return f->real->pMethods->xDeviceCharacteristics(f->real); }
static int fShmMap(sqlite3_file *p, int pg, int sz, int extend, void volatile **out) { FaultFile *f = (FaultFile *)p; return f->real->pMethods->xShmMap(f->real, pg, sz, extend, out); }
static int fShmLock(sqlite3_file *p, int off, int n, int flags) { FaultFile *f = (FaultFile *)p; return f->real->pMethods->xShmLock(f->real, off, n, flags); }
static void fShmBarrier(sqlite3_file *p) { FaultFile *f = (FaultFile *)p; f->real->pMethods->xShmBarrier(f->real); }
static int fShmUnmap(sqlite3_file *p, int del) { FaultFile *f = (FaultFile *)p; return f->real->pMethods->xShmUnmap(f->real, del); }
static int fFetch(sqlite3_file *p, sqlite3_int64 off, int amt, void **pp) {
  FaultFile *f = (FaultFile *)p;
  pthread_mutex_lock(&g_mutex);
  int readFaults = f->tracked && g_cfg.eioRead > 0;
  pthread_mutex_unlock(&g_mutex);
  /* While read faults are injected, no page comes from the memory map: SQLite then reads it with xRead, which fails. */
  if (readFaults) { *pp = 0; return SQLITE_OK; }
  return f->real->pMethods->xFetch(f->real, off, amt, pp);
}
static int fUnfetch(sqlite3_file *p, sqlite3_int64 off, void *ptr) { FaultFile *f = (FaultFile *)p; return f->real->pMethods->xUnfetch(f->real, off, ptr); }

static const sqlite3_io_methods g_methods = {
  3, fClose, fRead, fWrite, fTruncate, fSync, fFileSize, fLock, fUnlock, fCheckReservedLock, fFileControl,
  fSectorSize, fDeviceCharacteristics, fShmMap, fShmLock, fShmBarrier, fShmUnmap, fFetch, fUnfetch,
};

/* ---------------------------------------------------------------- vfs methods */

static char *undoPath(const char *path) {
  size_t n = strlen(path);
  char *u = malloc(n + sizeof UNDO_SUFFIX);
  if (u) { memcpy(u, path, n); memcpy(u + n, UNDO_SUFFIX, sizeof UNDO_SUFFIX); }
  return u;
}

static int vOpen(sqlite3_vfs *vfs, const char *name, sqlite3_file *p, int flags, int *outFlags) {
  (void)vfs;
  FaultFile *f = (FaultFile *)p;
  memset(f, 0, sizeof *f);
  f->undoFd = -1;
  f->real = (sqlite3_file *)&f[1];
  int existed = name && access(name, F_OK) == 0;
  int rc = g_real->xOpen(g_real, name, f->real, flags, outFlags);
  if (rc != SQLITE_OK) { f->base.pMethods = 0; return rc; }
  f->base.pMethods = &g_methods;
  f->tracked = isTracked(name);
  pthread_mutex_lock(&g_mutex);
  int undo = g_cfg.undo;
  pthread_mutex_unlock(&g_mutex);
  if (f->tracked && undo && (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL | SQLITE_OPEN_MAIN_JOURNAL))) {
    char *u = undoPath(name);
    f->undoFd = u ? open(u, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644) : -1;
    free(u);
    if (f->undoFd < 0) { fClose(p); f->base.pMethods = 0; return SQLITE_CANTOPEN; }
    if (!existed) {
      /* A log left by an earlier file of this name (deleted outside SQLite, e.g. renamed away) is not this file's history. */
      flock(f->undoFd, LOCK_EX);
      if (ftruncate(f->undoFd, 0) != 0) { /* then the stale records stay; the cut skips what no longer applies */ }
      appendRecord(f->undoFd, REC_CREATE, 0, 0, 0, 0);
      flock(f->undoFd, LOCK_UN);
    }
  }
  return SQLITE_OK;
}

static int vDelete(sqlite3_vfs *vfs, const char *name, int dirSync) {
  (void)vfs;
  if (isTracked(name)) {
    /* The file goes, and with it its unsynced history: a later file of that name starts a log of its own. */
    char *u = undoPath(name);
    if (u) { unlink(u); free(u); }
  }
  return g_real->xDelete(g_real, name, dirSync);
}

static int vAccess(sqlite3_vfs *v, const char *n, int f, int *o) { (void)v; return g_real->xAccess(g_real, n, f, o); }
static int vFullPathname(sqlite3_vfs *v, const char *n, int sz, char *o) { (void)v; return g_real->xFullPathname(g_real, n, sz, o); }
static void *vDlOpen(sqlite3_vfs *v, const char *n) { (void)v; return g_real->xDlOpen(g_real, n); }
static void vDlError(sqlite3_vfs *v, int n, char *m) { (void)v; g_real->xDlError(g_real, n, m); }
static void (*vDlSym(sqlite3_vfs *v, void *h, const char *s))(void) { (void)v; return g_real->xDlSym(g_real, h, s); }
static void vDlClose(sqlite3_vfs *v, void *h) { (void)v; g_real->xDlClose(g_real, h); }
static int vRandomness(sqlite3_vfs *v, int n, char *o) { (void)v; return g_real->xRandomness(g_real, n, o); }
static int vSleep(sqlite3_vfs *v, int us) { (void)v; return g_real->xSleep(g_real, us); }
static int vCurrentTime(sqlite3_vfs *v, double *o) { (void)v; return g_real->xCurrentTime(g_real, o); }
static int vGetLastError(sqlite3_vfs *v, int n, char *o) { (void)v; return g_real->xGetLastError(g_real, n, o); }
static int vCurrentTimeInt64(sqlite3_vfs *v, sqlite3_int64 *o) { (void)v; return g_real->xCurrentTimeInt64(g_real, o); }
static int vSetSystemCall(sqlite3_vfs *v, const char *n, sqlite3_syscall_ptr p) { (void)v; return g_real->xSetSystemCall(g_real, n, p); }
static sqlite3_syscall_ptr vGetSystemCall(sqlite3_vfs *v, const char *n) { (void)v; return g_real->xGetSystemCall(g_real, n); }
static const char *vNextSystemCall(sqlite3_vfs *v, const char *n) { (void)v; return g_real->xNextSystemCall(g_real, n); }

typedef sqlite3_vfs *(*VfsFind)(const char *);
typedef int (*VfsRegister)(sqlite3_vfs *, int);

/*
** Registers the fault VFS as the default VFS of the SQLite whose sqlite3_vfs_find and sqlite3_vfs_register are
** given, wrapping its "unix" VFS, and applies the spec (see walden_fault_configure). Safe to call again: the
** second call only reconfigures. Connections opened before keep the VFS they were opened with.
*/
int walden_fault_register(void *find, void *reg, const char *spec) {
  int rc = walden_fault_configure(spec);
  if (rc != SQLITE_OK) return rc;
  pthread_mutex_lock(&g_mutex);
  if (!g_registered) {
    g_real = ((VfsFind)find)("unix");
    if (!g_real) { pthread_mutex_unlock(&g_mutex); return SQLITE_ERROR; }
    sqlite3_vfs v = {
      3, (int)(sizeof(FaultFile) + (size_t)g_real->szOsFile), g_real->mxPathname, 0, FAULT_VFS_NAME, 0,
      vOpen, vDelete, vAccess, vFullPathname, vDlOpen, vDlError, vDlSym, vDlClose, vRandomness, vSleep,
      vCurrentTime, vGetLastError, vCurrentTimeInt64, vSetSystemCall, vGetSystemCall, vNextSystemCall,
    };
    g_vfs = v;
    rc = ((VfsRegister)reg)(&g_vfs, 1);
    g_registered = rc == SQLITE_OK;
  }
  pthread_mutex_unlock(&g_mutex);
  return rc;
}

typedef int (*VfsUnregister)(sqlite3_vfs *);

/* Takes the fault VFS out again ("unix" is the default again); files opened through it keep working until closed. */
int walden_fault_unregister(void *unreg) {
  pthread_mutex_lock(&g_mutex);
  int rc = g_registered ? ((VfsUnregister)unreg)(&g_vfs) : SQLITE_OK;
  if (rc == SQLITE_OK) g_registered = 0;
  pthread_mutex_unlock(&g_mutex);
  return rc;
}

/* ---------------------------------------------------------------- the power cut */

enum { KEEP, DROP, GARBAGE };

typedef struct CutPolicy {
  uint64_t seed;
  double keep, drop; /* garbage = the rest */
} CutPolicy;

static int sectorFate(const CutPolicy *c, uint64_t fileHash, int64_t sector) {
  double u = unit(c->seed ^ splitmix(fileHash + (uint64_t)sector * 0x9E3779B97F4A7C15ull));
  return u < c->keep ? KEEP : u < c->keep + c->drop ? DROP : GARBAGE;
}

typedef struct CutStats {
  long long files, records, kept, dropped, garbled, vanished;
} CutStats;

static int cutFile(const char *target, const char *undo, const CutPolicy *c, CutStats *s) {
  int ufd = open(undo, O_RDONLY | O_CLOEXEC);
  if (ufd < 0) return -1;
  Log log;
  int rrc = readLog(ufd, &log);
  close(ufd);
  if (rrc != 0) return -1;
  uint64_t fh = hashString(target);
  size_t pos = 0, n = 0, cap = 64;
  size_t *starts = malloc(cap * sizeof *starts);
  RecHeader h; const char *old;
  int created = 0;
  int64_t syncedSize = -1;
  while (starts && nextRecord(&log, &pos, &h, &old)) {
    if (n == cap) { cap *= 2; size_t *r = realloc(starts, cap * sizeof *starts); if (!r) break; starts = r; }
    starts[n++] = pos;
    if (h.type == REC_CREATE) created = 1;
    else if (syncedSize < 0) syncedSize = h.prevSize;
  }
  s->files++;
  s->records += (long long)n;
  if (created && unit(c->seed ^ splitmix(fh ^ 0xD1B54A32D192ED03ull)) >= c->keep) {
    /* Created and never synced (SQLite fsyncs the directory with a new -wal's first sync): the entry is lost. */
    unlink(target);
    s->vanished++;
    free(starts); free(log.data);
    unlink(undo);
    return 0;
  }
  int fd = open(target, O_RDWR | O_CLOEXEC);
  if (fd < 0) { free(starts); free(log.data); unlink(undo); return 0; }
  int64_t finalSize = syncedSize;
  /* Newest first: a dropped sector ends with the bytes of the oldest record, i.e. its synced content. */
  for (size_t i = n; i-- > 0;) {
    size_t p = i == 0 ? 0 : starts[i - 1];
    nextRecord(&log, &p, &h, &old);
    if (h.type == REC_CREATE) continue;
    for (int64_t sec = h.offset / SECTOR; sec * SECTOR < h.offset + h.length; sec++) {
      int64_t from = sec * SECTOR > h.offset ? sec * SECTOR : h.offset;
      int64_t to = (sec + 1) * SECTOR < h.offset + h.length ? (sec + 1) * SECTOR : h.offset + h.length;
      int fate = sectorFate(c, fh, sec);
      if (fate == DROP) {
        if (pwrite(fd, old + (from - h.offset), (size_t)(to - from), from) < 0) { /* best effort */ }
        s->dropped++;
      } else if (h.type == REC_WRITE && fate == KEEP) {
        s->kept++;
      }
    }
  }
  /* Garbage last, only over bytes that were written, so it never lands on bytes no write touched. */
  for (size_t i = 0; i < n; i++) {
    size_t p = i == 0 ? 0 : starts[i - 1];
    nextRecord(&log, &p, &h, &old);
    if (h.type != REC_WRITE) continue;
    for (int64_t sec = h.offset / SECTOR; sec * SECTOR < h.offset + h.length; sec++) {
      if (sectorFate(c, fh, sec) != GARBAGE) continue;
      int64_t from = sec * SECTOR > h.offset ? sec * SECTOR : h.offset;
      int64_t to = (sec + 1) * SECTOR < h.offset + h.length ? (sec + 1) * SECTOR : h.offset + h.length;
      unsigned char junk[SECTOR];
      for (int64_t b = 0; b < to - from; b++) junk[b] = (unsigned char)splitmix(c->seed + fh + (uint64_t)(from + b) + i);
      if (pwrite(fd, junk, (size_t)(to - from), from) < 0) { /* best effort */ }
      s->garbled++;
    }
  }
  /* A truncate since the last sync persisted if the sector at its new end did. */
  for (size_t i = 0; i < n; i++) {
    size_t p = i == 0 ? 0 : starts[i - 1];
    nextRecord(&log, &p, &h, &old);
    if (h.type == REC_TRUNCATE && sectorFate(c, fh, h.offset / SECTOR) != DROP && h.offset < finalSize) finalSize = h.offset;
  }
  for (size_t i = 0; i < n; i++) { /* writes after a kept truncate still count */
    size_t p = i == 0 ? 0 : starts[i - 1];
    nextRecord(&log, &p, &h, &old);
    if (h.type != REC_WRITE) continue;
    for (int64_t sec = h.offset / SECTOR; sec * SECTOR < h.offset + h.length; sec++) {
      int64_t to = (sec + 1) * SECTOR < h.offset + h.length ? (sec + 1) * SECTOR : h.offset + h.length;
      if (sectorFate(c, fh, sec) != DROP && to > finalSize) finalSize = to;
    }
  }
  if (finalSize >= 0 && ftruncate(fd, finalSize) != 0) { /* best effort */ }
  close(fd);
  free(starts);
  free(log.data);
  unlink(undo);
  return 0;
}

/*
** The power cut, applied after every process that wrote under `dir` is gone (killed: no write reaches a file
** after its death): every *.fault-undo log in the folder is replayed onto its file as described at the top.
** keep/drop are the probabilities of a sector's fate (garbage = 1 - keep - drop); 1/0 keeps everything, 0/1
** loses every unsynced byte. Writes a one-line summary into report. Returns the number of files cut, or -1.
*/
int walden_fault_power_cut(const char *dir, unsigned long long seed, double keep, double drop, char *report, int reportLength) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  CutPolicy c = { seed, keep, drop };
  CutStats s;
  memset(&s, 0, sizeof s);
  struct dirent *e;
  size_t suffix = strlen(UNDO_SUFFIX);
  while ((e = readdir(d)) != 0) {
    size_t len = strlen(e->d_name);
    if (len <= suffix || strcmp(e->d_name + len - suffix, UNDO_SUFFIX) != 0) continue;
    char undo[8192], target[8192];
    snprintf(undo, sizeof undo, "%s/%s", dir, e->d_name);
    snprintf(target, sizeof target, "%s/%.*s", dir, (int)(len - suffix), e->d_name);
    cutFile(target, undo, &c, &s);
  }
  closedir(d);
  if (report && reportLength > 0) {
    snprintf(report, (size_t)reportLength,
      "%lld files with unsynced writes, %lld writes since their last sync; sectors kept %lld, dropped %lld, garbled %lld; %lld new files lost their directory entry",
      s.files, s.records, s.kept, s.dropped, s.garbled, s.vanished);
  }
  return (int)s.files;
}
