#!/usr/bin/env bash
# pkgcheck.sh - does an INSTALLED aisfile work for its users?  Run after
# installing the Debian packages (or `make install` to a prefix that
# pkg-config and cmake search), from a checkout:
#
#     tests/pkgcheck.sh
#
# Builds tests/cmake/main.c (aisfile-read URL > object: ais_fopen, fseek to
# learn the size, fread) twice against the installed library: with
# `pkg-config --cflags --libs aisfile` and as the CMake project tests/cmake
# with find_package(aisfile).  Serves a generated 24 MiB object from a
# private nginx on a free 127.0.0.1 port, and checks byte for byte what both
# programs and the installed aiscat read: over http://, and over ais:// with
# nothing but a cli.json in an empty HOME (no AIS_* variable at all).
#
# Environment: NGINX (default /usr/sbin/nginx), CC (default cc), KEEP=1 keeps
# the work directory.  Exit status 0 when every check passed.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
nginx=${NGINX:-/usr/sbin/nginx}
cc=${CC:-cc}
work=$(mktemp -d "${TMPDIR:-/tmp}/aisfile-pkgcheck.XXXXXX")
nginx_pid=

cleanup() {
	if [[ -n $nginx_pid ]]; then
		kill "$nginx_pid" 2>/dev/null || true
		wait "$nginx_pid" 2>/dev/null || true
	fi
	[[ ${KEEP:-0} == 1 ]] && echo "pkgcheck: kept $work" || rm -rf "$work"
}
trap cleanup EXIT
say() { printf 'pkgcheck: %s\n' "$*"; }
die() { printf 'pkgcheck: FAILED: %s\n' "$*" >&2; exit 1; }

# ---- the programs, built against the installed library --------------------
say "aisfile $(pkg-config --modversion aisfile) from $(pkg-config --variable=libdir aisfile)"
# shellcheck disable=SC2046 # pkg-config's words are meant to split
"$cc" -o "$work/read-pkgconfig" "$src/tests/cmake/main.c" \
	$(pkg-config --cflags --libs aisfile) || die "pkg-config build"
cmake -S "$src/tests/cmake" -B "$work/cmake" >"$work/cmake.log" 2>&1 ||
	{ cat "$work/cmake.log"; die "cmake configure (find_package(aisfile))"; }
cmake --build "$work/cmake" >>"$work/cmake.log" 2>&1 ||
	{ cat "$work/cmake.log"; die "cmake build"; }
grep -q "aisfile::aisfile\|libaisfile" "$work/cmake/CMakeFiles/aisfile-read.dir/link.txt" ||
	die "the CMake build does not link libaisfile"
say "built read-pkgconfig (pkg-config) and cmake/aisfile-read (find_package)"

# ---- nginx on a free loopback port -----------------------------------------
mkdir -p "$work/www" "$work/temp" "$work/home/.config/ais/cli"
head -c $((24 << 20)) /dev/urandom >"$work/www/object.bin"
port_is_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
start_nginx() {
	local port=$1
	{
		((EUID == 0)) && echo "user root;"
		cat <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path $work/temp/body;
	proxy_temp_path $work/temp/proxy;
	fastcgi_temp_path $work/temp/fastcgi;
	uwsgi_temp_path $work/temp/uwsgi;
	scgi_temp_path $work/temp/scgi;
	default_type application/octet-stream;
	server {
		listen 127.0.0.1:$port;
		root $work/www;
		location /v1/objects/pkgbck/ { alias $work/www/; }
	}
}
CONF
	} >"$work/nginx.conf"
	"$nginx" -p "$work" -e "$work/nginx-error.log" -c "$work/nginx.conf" &
	nginx_pid=$!
	# Answering within 5 s, or gone (the port was taken after all).
	for ((try = 0; try < 50; try++)); do
		curl -sfI --max-time 2 "http://127.0.0.1:$port/object.bin" >/dev/null &&
			return 0
		kill -0 "$nginx_pid" 2>/dev/null || break
		sleep 0.1
	done
	kill "$nginx_pid" 2>/dev/null || true
	wait "$nginx_pid" 2>/dev/null || true
	nginx_pid=
	return 1
}
port=
for ((attempt = 0; attempt < 5; attempt++)); do
	candidate=$((20000 + RANDOM % 30000))
	if port_is_free "$candidate" && start_nginx "$candidate"; then
		port=$candidate
		break
	fi
done
[[ -n $port ]] || { cat "$work/nginx-error.log" >&2 || true; die "nginx did not start"; }
say "nginx serves a 24 MiB object on 127.0.0.1:$port"

# ---- reads -------------------------------------------------------------------
# check NAME COMMAND...: the command's stdout must be the object.
check() {
	local name=$1
	shift
	"$@" >"$work/got" 2>"$work/err" || { cat "$work/err" >&2; die "$name exited $?"; }
	cmp -s "$work/got" "$work/www/object.bin" || die "$name: wrong bytes"
	say "$name: $(tail -n 1 "$work/err")"
}
url="http://127.0.0.1:$port/object.bin"
check "pkg-config build, http://" "$work/read-pkgconfig" "$url"
check "CMake build, http://" "$work/cmake/aisfile-read" "$url"
check "aiscat, http://" aiscat -v "$url"

# ais:// with nothing but the AIStore CLI's cli.json: an empty HOME, no AIS_*.
printf '{\n  "cluster": {\n    "url": "http://127.0.0.1:%d",\n    "skip_verify_crt": false\n  }\n}\n' \
	"$port" >"$work/home/.config/ais/cli/cli.json"
only_cli_json() {
	env -i HOME="$work/home" PATH="$PATH" \
		${LD_LIBRARY_PATH:+LD_LIBRARY_PATH="$LD_LIBRARY_PATH"} "$@"
}
check "pkg-config build, ais:// with only cli.json" \
	only_cli_json "$work/read-pkgconfig" ais://pkgbck/object.bin
check "CMake build, ais:// with only cli.json" \
	only_cli_json "$work/cmake/aisfile-read" ais://pkgbck/object.bin
only_cli_json aiscat -v ais://pkgbck/object.bin 2>"$work/err" >"$work/got" ||
	{ cat "$work/err" >&2; die "aiscat ais://"; }
cmp -s "$work/got" "$work/www/object.bin" || die "aiscat ais://: wrong bytes"
grep -F "aiscat: endpoint: http://127.0.0.1:$port (cluster.url in $work/home/.config/ais/cli/cli.json)" \
	"$work/err" >/dev/null || { cat "$work/err" >&2; die "aiscat -v did not name cli.json"; }
say "aiscat -v, ais:// with only cli.json: $(grep 'endpoint:' "$work/err")"
say "all checks passed"
