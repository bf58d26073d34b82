#!/usr/bin/env bash
# demo.sh - see aisfile survive a connection that keeps breaking.
#
#     examples/demo.sh
#
# On a fresh Debian 12 machine: installs the build dependencies (skipped when
# they are all present; as root directly, else through sudo, which asks for
# the user's password), builds the library as the user who runs it (so that
# `make check` afterwards can write to the tree), serves a ~120 MiB tar shard with a
# private nginx on 127.0.0.1, and puts tests/faultproxy in front of it so that
# every connection is cut after 8,000,000 bytes.  Plain curl | bsdtar fails on
# that link; examples/aistar resumes with Range requests and extracts every
# member, which the script then compares byte for byte with the source files.
#
# Exit status: 0 when every file is identical and at least one resume happened.
set -euo pipefail

cd "$(dirname "$0")/.."

PACKAGES=(build-essential autoconf automake libtool pkgconf libcurl4-openssl-dev
	libarchive-dev libxxhash-dev libssl-dev libjson-c-dev libcunit1-dev nginx-light libarchive-tools curl ca-certificates)
FILE_COUNT=60
CUT_BYTES=8000000

say() { printf '\n==> %s\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

# ---- 1. dependencies ------------------------------------------------------
missing=()
for pkg in "${PACKAGES[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)
	[[ $status == ii* ]] || missing+=("$pkg")
done
if ((${#missing[@]} > 0)); then
	as_root=()
	if ((EUID != 0)); then
		command -v sudo >/dev/null ||
			die "missing packages: ${missing[*]}; install them as root: apt-get install ${missing[*]}"
		as_root=(sudo)
	fi
	say "Installing ${missing[*]}"
	"${as_root[@]}" apt-get update
	"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y --no-install-recommends "${PACKAGES[@]}"
else
	say "All build dependencies are installed"
fi

# ---- 2. build ---------------------------------------------------------------
say "Building libaisfile, examples/aistar and tests/faultproxy"
[[ -x ./configure ]] || ./autogen.sh
[[ -f Makefile ]] || ./configure
make -j"$(nproc)"
make tests/faultproxy

# ---- cleanup, armed before anything is started ----------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/aisfile-demo.XXXXXX")
nginx_pid='' proxy_pid=''
cleanup() {
	for pid in $proxy_pid $nginx_pid; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT

# ---- 3. a tar shard served by nginx ------------------------------------------------
say "Making $FILE_COUNT random files of 100 KiB to 4 MiB and packing them into shard.tar"
mkdir -p "$work/src/images" "$work/src/labels" "$work/www" "$work/out" "$work/nginx-temp"
for ((i = 0; i < FILE_COUNT; i++)); do
	size=$((102400 + (RANDOM * 32768 + RANDOM) % (4194304 - 102400 + 1)))
	subdir=images
	((i % 3 == 2)) && subdir=labels
	head -c "$size" /dev/urandom >"$work/src/$subdir/sample-$(printf '%03d' "$i").bin"
done
bsdtar -cf "$work/www/shard.tar" -C "$work/src" .
shard_bytes=$(stat -c %s "$work/www/shard.tar")
echo "shard.tar: $shard_bytes bytes"

port_is_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
http_port=
base=$((20000 + RANDOM % 30000))
for ((p = base; p < base + 200; p++)); do
	if port_is_free "$p"; then http_port=$p; break; fi
done
[[ -n $http_port ]] || die "no free port found in $base..$((base + 199))"

{
	((EUID == 0)) && echo "user root;"
	cat <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path $work/nginx-temp/body;
	proxy_temp_path $work/nginx-temp/proxy;
	fastcgi_temp_path $work/nginx-temp/fastcgi;
	uwsgi_temp_path $work/nginx-temp/uwsgi;
	scgi_temp_path $work/nginx-temp/scgi;
	default_type application/octet-stream;
	server {
		listen 127.0.0.1:$http_port;
		root $work/www;
	}
}
EOF
} >"$work/nginx.conf"

say "Starting nginx on 127.0.0.1:$http_port"
/usr/sbin/nginx -p "$work" -e "$work/nginx-error.log" -c "$work/nginx.conf" &
nginx_pid=$!
for ((try = 0; try < 100; try++)); do
	curl -sfI "http://127.0.0.1:$http_port/shard.tar" >/dev/null && break
	kill -0 "$nginx_pid" 2>/dev/null || { cat "$work/nginx-error.log" >&2; die "nginx exited"; }
	sleep 0.1
done
((try < 100)) || die "nginx did not answer on port $http_port within 10 s"

# ---- 4. the fault-injecting proxy ---------------------------------------------
say "Starting tests/faultproxy: every connection is cut after $CUT_BYTES bytes"
: >"$work/proxy.port"
tests/faultproxy -u "$http_port" "cut:${CUT_BYTES}*" >"$work/proxy.port" &
proxy_pid=$!
proxy_port=
for ((try = 0; try < 100; try++)); do
	read -r proxy_port <"$work/proxy.port" || true
	[[ -n $proxy_port ]] && break
	kill -0 "$proxy_pid" 2>/dev/null || die "faultproxy exited"
	sleep 0.1
done
[[ -n $proxy_port ]] || die "faultproxy did not report its port within 10 s"
url="http://127.0.0.1:$proxy_port/shard.tar"
echo "The shard is now at $url, behind a link that breaks every $CUT_BYTES bytes."

# ---- 5a. contrast: a plain download does not survive ------------------------------
say "Plain curl | bsdtar -tf - through the same proxy (expected to fail)"
set +e
curl -sS "$url" 2>"$work/curl.err" | bsdtar -tf - >"$work/listed" 2>"$work/bsdtar.err"
pipe_status=("${PIPESTATUS[@]}")
set -e
echo "curl exit ${pipe_status[0]}: $(head -n1 "$work/curl.err")"
echo "bsdtar exit ${pipe_status[1]}: $(head -n1 "$work/bsdtar.err")"
echo "bsdtar listed $(wc -l <"$work/listed") entries before the stream ended."
((pipe_status[0] != 0 || pipe_status[1] != 0)) ||
	echo "(unexpected: the plain download got through)"

# ---- 5b. aistar resumes ---------------------------------------------------------
say "examples/aistar -v -x -C OUT $url"
echo "aistar reads the same URL; each time the connection is cut it asks for"
echo "the rest with a Range request, and libarchive never notices."
aistar_status=0
examples/aistar -v -x -C "$work/out" "$url" 2>"$work/aistar.err" || aistar_status=$?
sed 's/^/    /' "$work/aistar.err"
stats=$(grep '^aistar: members=' "$work/aistar.err" || true)
resumes=$(sed -n 's/.* resumes=\([0-9]*\).*/\1/p' <<<"$stats")
((aistar_status == 0)) || die "aistar failed with exit status $aistar_status"
[[ -n $resumes ]] || die "aistar printed no stats line"
((resumes > 0)) || die "aistar made no resume: the faults did not happen"
echo "aistar resumed $resumes times and finished."

# ---- 6. verify ----------------------------------------------------------------------
say "Comparing every extracted file with its source"
diff -r "$work/src" "$work/out" || die "extracted tree differs from the source"
files=$(find "$work/src" -type f | wc -l)
bytes=$(find "$work/src" -type f -printf '%s\n' | awk '{ n += $1 } END { print n + 0 }')
echo "verified: $files files, $bytes bytes identical"
