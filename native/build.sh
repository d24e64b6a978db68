#!/usr/bin/env bash
# Builds the native SQLite Walden runs on: the 3.54.1 amalgamation plus the recover extension,
# both taken from pinned npm packages and checked by sha256 (see docs/native.md for why: the stock
# NuGet builds lack dbstat, sqlite_dbpage and the recover extension).
#
# Outputs (ignored by git):  native/bin/libwalden_sqlite3.so   the library every Walden process loads
#                            native/bin/sqlite3                the matching shell, the `.recover` reference
#                            native/bin/libwalden_faultvfs.so  the fault-injecting VFS (native/faultvfs.c) for tests and
#                                                              `walden torture --power-loss`; never packed, never loaded
#                                                              by the engine (built every run: it takes a second)
# The library has a name of its own (not libe_sqlite3.so) so that it never collides with, and is never taken for,
# the stock libe_sqlite3.so that current Microsoft.Data.Sqlite and EF Core bring into the same application.
# Called by the MSBuild target in src/Walden/Walden.csproj when an output is missing or older than
# this script; also safe to run by hand. A finished build is cached per machine under
# ${WALDEN_NATIVE_CACHE:-~/.cache/walden-native}/<key>, so several clones compile it once.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="$here/bin"
obj="$here/obj"

BETTER_SQLITE3="better-sqlite3@13.2.0"
NODE_SQLITE3="sqlite3@6.0.1"
SQLITE3_C_SHA256="75a4760a7b9727a4c4c877aec92eacf39e52a8f2921ce00bd33be6d3a8e8e254"
SHELL_C_SHA256="7b16b5c30784f82f3a1c233fae38cefdbbf82d4d963ee133f22332013afcb781"

# SQLITE_DQS=2: double-quoted string literals are accepted in DDL only (the schema: CHECK(kind IN ("a","b")), a partial
# index's WHERE status = "done", DEFAULT "x"), never in queries. Stock SQLite, Python, Android, Rails and Node accept them
# everywhere, so real files hold such schemas; with DQS=0 Walden could not even read them (quirks.html#dblquote).
CFLAGS=(-O2 -fPIC -DSQLITE_THREADSAFE=1 -DSQLITE_DQS=2 -DSQLITE_DEFAULT_FOREIGN_KEYS=1 -DSQLITE_USE_URI=1
  -DSQLITE_ENABLE_FTS3 -DSQLITE_ENABLE_FTS3_PARENTHESIS -DSQLITE_ENABLE_FTS4 -DSQLITE_ENABLE_FTS5
  -DSQLITE_ENABLE_JSON1 -DSQLITE_ENABLE_RTREE -DSQLITE_ENABLE_MATH_FUNCTIONS
  -DSQLITE_ENABLE_DBSTAT_VTAB -DSQLITE_ENABLE_DBPAGE_VTAB -DSQLITE_ENABLE_STMTVTAB
  -DSQLITE_ENABLE_COLUMN_METADATA -DSQLITE_ENABLE_SNAPSHOT -DSQLITE_ENABLE_PREUPDATE_HOOK -DSQLITE_ENABLE_SESSION
  -DSQLITE_ENABLE_UNLOCK_NOTIFY -DSQLITE_ENABLE_STAT4 -DSQLITE_ENABLE_UPDATE_DELETE_LIMIT
  -DHAVE_USLEEP=1 -DHAVE_FDATASYNC=1 -DHAVE_LOCALTIME_R=1 -DHAVE_GMTIME_R=1 -DHAVE_MALLOC_USABLE_SIZE=1)

fail() { echo "walden native build: $*" >&2; exit 1; }

for tool in npm gcc tar sha256sum; do
  command -v "$tool" >/dev/null 2>&1 || fail "'$tool' is required to build the native SQLite but was not found on PATH. Install it (the README lists the prerequisites: .NET 10 SDK, gcc, npm) and build again."
done

key="$( (cat "${BASH_SOURCE[0]}"; gcc --version | head -n1) | sha256sum | cut -c1-16)"
cache="${WALDEN_NATIVE_CACHE:-${HOME:-/tmp}/.cache/walden-native}/$key"

mkdir -p "$bin" "$obj"
# Parallel builds (two clones, or msbuild nodes) must not interleave: one builds, the others wait.
exec 9>"$obj/.lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi

install_outputs() {
  cp "$1/libwalden_sqlite3.so" "$bin/libwalden_sqlite3.so.tmp" && mv -f "$bin/libwalden_sqlite3.so.tmp" "$bin/libwalden_sqlite3.so"
  cp "$1/sqlite3" "$bin/sqlite3.tmp" && mv -f "$bin/sqlite3.tmp" "$bin/sqlite3"
  touch "$bin/libwalden_sqlite3.so" "$bin/sqlite3"
}

build_faultvfs() { # the header of the SQLite it was built with sits in the cache
  gcc -O2 -Wall -Werror -fPIC -shared -I"$cache" "$here/faultvfs.c" -o "$bin/libwalden_faultvfs.so.tmp" -lpthread \
    || fail "gcc failed to build libwalden_faultvfs.so from native/faultvfs.c (see the messages above)"
  mv -f "$bin/libwalden_faultvfs.so.tmp" "$bin/libwalden_faultvfs.so"
}

if [ -f "$cache/libwalden_sqlite3.so" ] && [ -f "$cache/sqlite3" ] && [ -f "$cache/sqlite3.h" ]; then
  install_outputs "$cache"
  build_faultvfs
  echo "walden native build: using cached SQLite from $cache"
  exit 0
fi

echo "walden native build: first build on this machine: fetching the pinned SQLite 3.54.1 sources with npm and compiling"
echo "walden native build: them with gcc into native/bin/libwalden_sqlite3.so (about 1-2 minutes, once per machine)"
dl="$obj/downloads"
mkdir -p "$dl"
verify() { # file expected-sha256
  local got; got="$(sha256sum "$1" | cut -d' ' -f1)"
  [ "$got" = "$2" ] || fail "sha256 of $(basename "$1") is $got, expected $2. The download is not the pinned source; refusing to build."
}

if [ ! -f "$dl/better-sqlite3-13.2.0.tgz" ] || [ ! -f "$dl/sqlite3-6.0.1.tgz" ]; then
  (cd "$dl" && npm pack --silent "$BETTER_SQLITE3" "$NODE_SQLITE3" >/dev/null) \
    || fail "npm pack $BETTER_SQLITE3 $NODE_SQLITE3 failed: npm needs to reach its registry once to fetch the SQLite sources."
fi

src="$obj/src"
rm -rf "$src" && mkdir -p "$src"
tar xzf "$dl/better-sqlite3-13.2.0.tgz" -C "$src" package/deps/sqlite3/sqlite3.c package/deps/sqlite3/sqlite3.h package/deps/sqlite3/sqlite3ext.h
mv "$src"/package/deps/sqlite3/* "$src/"
tar xzf "$dl/sqlite3-6.0.1.tgz" -C "$src" package/deps/sqlite-autoconf-3520000.tar.gz
tar xzf "$src/package/deps/sqlite-autoconf-3520000.tar.gz" -C "$src" sqlite-autoconf-3520000/shell.c
mv "$src/sqlite-autoconf-3520000/shell.c" "$src/shell.c"
rm -rf "$src/package" "$src/sqlite-autoconf-3520000"
verify "$src/sqlite3.c" "$SQLITE3_C_SHA256"
verify "$src/shell.c" "$SHELL_C_SHA256"

# The recover extension ships only inlined in shell.c; cut each file out between its markers.
extract() { # name inside shell.c, e.g. ext/recover/dbdata.c
  local begin="^/\\*\\*\\*\\*\\*+ Begin $1 \\*\\*\\*\\*\\*+/\$" end="^/\\*\\*\\*\\*\\*+ End $1 \\*\\*\\*\\*\\*+/\$"
  local nb ne
  nb="$(grep -cE "$begin" "$src/shell.c" || true)"; ne="$(grep -cE "$end" "$src/shell.c" || true)"
  [ "$nb" = 1 ] && [ "$ne" = 1 ] || fail "expected exactly one Begin/End marker for $1 in shell.c, found $nb/$ne"
  # awk -v would eat the backslashes of the patterns, so they go through the environment; and
  # Debian's mawk has no {5,} intervals, hence the spelled-out runs of five asterisks.
  B="$begin" E="$end" awk '$0 ~ ENVIRON["E"] {p=0} p {print} $0 ~ ENVIRON["B"] {p=1}' "$src/shell.c"
}
{
  echo '#include "sqlite3.h"'
  echo '#include <string.h>'
  echo '#include <assert.h>'
  echo 'typedef sqlite3_int64 i64; typedef sqlite3_uint64 u64;'
  echo 'typedef unsigned char u8; typedef unsigned short u16; typedef unsigned int u32;'
  extract ext/recover/sqlite3recover.h
  extract ext/recover/dbdata.c
  extract ext/recover/sqlite3recover.c
} > "$src/sqlite3recover_all.c"

out="$obj/out"
rm -rf "$out" && mkdir -p "$out"
echo "walden native build: compiling sqlite3.c (one translation unit, so gcc uses one core)"
gcc "${CFLAGS[@]}" -shared -Wl,-soname,libwalden_sqlite3.so -I"$src" "$src/sqlite3.c" "$src/sqlite3recover_all.c" \
  -o "$out/libwalden_sqlite3.so" -lpthread -ldl -lm &
lib_pid=$!
gcc -O1 -DSQLITE_ENABLE_DBPAGE_VTAB -DSQLITE_ENABLE_DBSTAT_VTAB -I"$src" -c "$src/shell.c" -o "$out/shell.o"
wait "$lib_pid" || fail "gcc failed to build libwalden_sqlite3.so (see the messages above)"
gcc "$out/shell.o" -L"$out" -lwalden_sqlite3 -Wl,-rpath,'$ORIGIN' -o "$out/sqlite3" -lpthread -ldl -lm \
  || fail "gcc failed to link the sqlite3 shell"

mkdir -p "$cache"
cp "$out/libwalden_sqlite3.so" "$out/sqlite3" "$src/sqlite3.h" "$cache/"
install_outputs "$out"
build_faultvfs
echo "walden native build: done ($(LD_LIBRARY_PATH="$bin" "$bin/sqlite3" :memory: 'select sqlite_version()'))"
