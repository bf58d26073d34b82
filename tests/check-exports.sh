#!/bin/sh
# Only ais_ names may leave the shared library: everything else is built with
# -fvisibility=hidden.  Prints the offenders and fails if there are any.
lib=lib/.libs/libaisfile.so
if [ ! -f "$lib" ]; then
	echo "SKIP: no $lib (built without shared libraries)"
	exit 77
fi
exported=$(nm -D --defined-only "$lib" | awk 'NF == 3 { print $3 }' | grep -v '^_')
others=$(printf '%s\n' "$exported" | grep -v '^ais_')
count=$(printf '%s\n' "$exported" | grep -c '^ais_')
if [ -n "$others" ]; then
	echo "exported besides ais_*:"
	printf '  %s\n' $others
	echo "0 passed, 1 failed"
	exit 1
fi
echo "libaisfile.so exports $count symbols, all ais_*"
echo "1 passed, 0 failed"
