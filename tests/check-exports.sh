#!/bin/sh
# The shared library exports exactly the functions the public headers
# declare with AIS_EXPORT: everything else is built with -fvisibility=hidden,
# and a declared function that is not exported would fail at link time in a
# user's program.  And the static library, where hidden names are still
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
tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-exports.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
nm -D --defined-only "$lib" | awk 'NF == 3 { print $3 }' | grep -v '^_' |
	sort >"$tmp/exported"
sed -n 's/^AIS_EXPORT[^(]*[ *]\(ais_[a-z0-9_]*\)(.*/\1/p' \
	"${srcdir:-.}"/include/*.h | sort >"$tmp/declared"
count=$(wc -l <"$tmp/exported")
others=$(grep -v '^ais_' "$tmp/exported")
if [ -n "$others" ] || ! cmp -s "$tmp/exported" "$tmp/declared"; then
	[ -n "$others" ] && printf 'exported besides ais_*:\n%s\n' "$others"
	echo "exported (>) against declared with AIS_EXPORT in include/*.h (<):"
	diff "$tmp/declared" "$tmp/exported" | grep '^[<>]'
	echo "0 passed, 1 failed"
	exit 1
fi
echo "libaisfile.so exports $count symbols, all ais_*, exactly those" \
	"declared with AIS_EXPORT"
echo "1 passed, 0 failed"
