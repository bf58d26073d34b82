#!/bin/sh
# Only ais_ names may leave the shared library: everything else is built with
# -fvisibility=hidden.  And the static library, where hidden names are still
# global to the program that links it, may define no name outside ais_
# (public) and aisi_ (internal), so it cannot clash with a program's own.
# Prints the offenders and fails if there are any.
archive=lib/.libs/libaisfile.a
if [ -f "$archive" ]; then
	stray=$(nm -g --defined-only "$archive" | awk 'NF == 3 { print $3 }' |
		grep -v '^_' | grep -v '^aisi\{0,1\}_' | sort -u)
	if [ -n "$stray" ]; then
		echo "libaisfile.a defines names outside ais_/aisi_:"
		printf '  %s\n' $stray
		echo "0 passed, 1 failed"
		exit 1
	fi
fi
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
