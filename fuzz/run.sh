#!/bin/sh
# fuzz/run.sh - build the libFuzzer targets against an instrumented copy of
# the library and run each for FUZZ_SECONDS on a copy of its corpus.  `make
# fuzz` calls it with these set:
#   FUZZ_CC        clang (libFuzzer comes with it)
#   FUZZ_SECONDS   per target; 0 only replays the corpus
#   FUZZ_TARGETS   names of fuzz/fuzz_NAME.c to run
#   FUZZ_CPPFLAGS  FUZZ_LIBS  LIB_SOURCES  srcdir  builddir
# The committed corpus is only read: new inputs go to a temporary copy, and
# a failing input to $builddir/fuzz-build/artifacts/, printed as well.
set -eu

out="$builddir/fuzz-build"
san="-fsanitize=address,undefined -fno-sanitize-recover=all"
cflags="-g -O1 -fno-omit-frame-pointer $san"

mkdir -p "$out/lib" "$out/artifacts"
rm -f "$out/libaisfile-fuzz.a"
for src in $LIB_SOURCES; do
	case $src in *.c) ;; *) continue ;; esac
	obj="$out/lib/$(basename "$src" .c).o"
	$FUZZ_CC $cflags -fsanitize=fuzzer-no-link $FUZZ_CPPFLAGS \
		-c "$srcdir/$src" -o "$obj"
	ar rc "$out/libaisfile-fuzz.a" "$obj"
done
for t in $FUZZ_TARGETS; do
	$FUZZ_CC $cflags -Wall -Wextra -fsanitize=fuzzer $FUZZ_CPPFLAGS \
		"$srcdir/fuzz/fuzz_$t.c" "$out/libaisfile-fuzz.a" $FUZZ_LIBS \
		-o "$out/fuzz_$t"
done

dict_of() {
	case $1 in
	url) echo url ;;
	header|content_range) echo http ;;
	error_body) echo body ;;
	token|cli_config) echo json ;;
	esac
}

failed=
for t in $FUZZ_TARGETS; do
	work=$(mktemp -d "${TMPDIR:-/tmp}/aisfile-fuzz.XXXXXX")
	mkdir "$work/corpus"
	cp "$srcdir/fuzz/corpus/$t/"* "$work/corpus/"
	echo "=== fuzz_$t: ${FUZZ_SECONDS}s on $(ls "$work/corpus" | wc -l) seeds ==="
	rm -f "$out/artifacts/$t-"*
	if [ "$FUZZ_SECONDS" -gt 0 ]; then
		limit="-max_total_time=$FUZZ_SECONDS"
	else
		limit="-runs=0"
	fi
	if "$out/fuzz_$t" "$limit" -timeout=10 \
		-max_len=4096 -print_final_stats=1 \
		-dict="$srcdir/fuzz/$(dict_of "$t").dict" \
		-artifact_prefix="$out/artifacts/$t-" "$work/corpus" \
		>"$work/log" 2>&1; then
		grep -E '^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units)' \
			"$work/log" || true
	else
		failed="$failed $t"
		tail -n 60 "$work/log"
		for a in "$out/artifacts/$t-"*; do
			[ -f "$a" ] || continue
			echo "--- failing input $a (reproduce: $out/fuzz_$t $a):"
			od -A d -c "$a" | head -n 40
		done
	fi
	rm -rf "$work"
done
if [ -n "$failed" ]; then
	echo "make fuzz: FAILED:$failed"
	exit 1
fi
echo "make fuzz: $(echo $FUZZ_TARGETS | wc -w) targets, ${FUZZ_SECONDS}s each, no failure"
