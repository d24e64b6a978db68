/* A slow disk for `walden bench`: every fsync and fdatasync of the process takes WALDEN_FSYNC_DELAY_US microseconds
 * longer (after the real call, so the data is on disk before the delay ends). Loaded with LD_PRELOAD; see README.md.
 * It adds latency, not contention: two threads that sync at once both wait the delay, side by side, as on a device
 * with a deep queue. Nothing else changes: writes, reads and their durability are the file system's own. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>
#include <errno.h>

static long delay_us = -1;

static void slow_down(void) {
  if (delay_us < 0) {
    const char *value = getenv("WALDEN_FSYNC_DELAY_US");
    delay_us = value ? atol(value) : 0;
  }
  if (delay_us > 0) {
    struct timespec left = { delay_us / 1000000, (delay_us % 1000000) * 1000 };
    int saved = errno;
    while (nanosleep(&left, &left) != 0 && errno == EINTR) { }
    errno = saved;
  }
}

int fsync(int fd) {
  static int (*real)(int);
  if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
  int rc = real(fd);
  slow_down();
  return rc;
}

int fdatasync(int fd) {
  static int (*real)(int);
  if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
  int rc = real(fd);
  slow_down();
  return rc;
}
