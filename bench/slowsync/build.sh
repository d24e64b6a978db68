#!/bin/sh
# Builds the fsync-latency shim into bench/slowsync/obj (ignored by git). Needs gcc.
set -e
cd "$(dirname "$0")"
mkdir -p obj
gcc -O2 -shared -fPIC -Wall -o obj/libwalden_slowsync.so slowsync.c -ldl
echo "built $(pwd)/obj/libwalden_slowsync.so"
