#!/usr/bin/env bash
# The .deb as an operator meets it: build it with CPack, unpack it into a
# throwaway root (dpkg -x), check what it declares and ships, run the
# shipped binary on the shipped example configs, and start the shipped
# systemd unit's ExecStart line (systemd itself does not run here) against
# a private redis-server, checking that the node serves its pages.
set -uo pipefail
src="${SC_SOURCE_DIR:?}"
work="$(mktemp -d /tmp/skillcast-pkg-XXXXXX)"
pass=0; fail=0; pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$work"; }
trap cleanup EXIT
ok()  { echo "ok: $*"; pass=$((pass+1)); }
bad() { echo "FAIL: $*"; fail=$((fail+1)); }
check() { local what="$1"; shift; if "$@" >>"$work/log" 2>&1; then ok "$what"; else bad "$what"; tail -20 "$work/log"; fi; }

cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
  -DSC_WEB_DIR_DEFAULT=/usr/share/skillcast/web -DSC_TESTS=OFF >"$work/log" 2>&1 \
  && cmake --build "$work/build" -j 2 >>"$work/log" 2>&1 \
  && (cd "$work/build" && cpack -G DEB >>"$work/log" 2>&1)
deb="$(ls "$work"/build/skillcast_*.deb 2>/dev/null | head -1)"
if [ -z "$deb" ]; then bad "cpack built a .deb"; tail -30 "$work/log"; echo "$pass passed, $fail failed"; exit 1; fi
ok "cpack built $(basename "$deb")"

deps="$(dpkg-deb -f "$deb" Depends)"
for d in gstreamer1.0-plugins-ugly gstreamer1.0-libav fonts-noto-cjk libwebsockets libhiredis; do
  case "$deps" in *"$d"*) ok "Depends has $d" ;; *) bad "Depends lacks $d: $deps" ;; esac
done

root="$work/root"
dpkg -x "$deb" "$root"
bin="$root/usr/bin/skillcast"
for f in usr/bin/skillcast usr/share/man/man1/skillcast.1.gz usr/lib/systemd/system/skillcast@.service \
         usr/lib/systemd/system/skillcast-relay@.service usr/share/skillcast/web/index.html \
         usr/share/skillcast/web/node_modules/hls.js/dist/hls.min.js \
         usr/share/skillcast/web/node_modules/mpegts.js/dist/mpegts.js; do
  if [ -e "$root/$f" ]; then ok "ships /$f"; else bad "missing /$f"; fi
done
check "skillcast --version" "$bin" --version
check "man page mentions the commands" sh -c "zcat '$root/usr/share/man/man1/skillcast.1.gz' | grep -q relay"

# Every shipped example config is valid (secrets come from the environment).
export CDN_KEY=k SRT_ID=s SKILLCAST_OPERATOR_TOKEN=o SKILLCAST_COMMENTATOR_TOKEN=c REDIS_PASSWORD=p
for v in $(grep -oh '\${[A-Z0-9_]*}' "$root"/usr/share/doc/skillcast/examples/*.yaml | sort -u | tr -d '${}'); do
  export "$v=test-$v"
done
for y in "$root"/usr/share/doc/skillcast/examples/*.yaml; do
  case "$(basename "$y")" in
    relay*) check "check --relay $(basename "$y")" "$bin" check --relay "$y" ;;
    *)      check "check $(basename "$y")" "$bin" check "$y" ;;
  esac
done

# The unit's ExecStart line, as systemd would run it for skillcast@demo.
unit="$root/usr/lib/systemd/system/skillcast@.service"
exec_start="$(sed -n 's/^ExecStart=//p' "$unit")"
redis-server --port 0 --unixsocket "$work/redis.sock" --save '' --appendonly no --dir "$work" \
  >"$work/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -S "$work/redis.sock" ] && break; sleep 0.1; done
mkdir -p "$work/etc"
sed -e "s#^\(  *url:\).*redis.*#\1 unix://$work/redis.sock#" \
    -e "s#^\(  *listen:\).*#\1 \"127.0.0.1:0\"#" \
    -e "s#/tmp/skillcast-hls#$work/hls#" \
    "$root/usr/share/doc/skillcast/examples/demo.yaml" >"$work/etc/demo.yaml"
cmdline="${exec_start//\/usr\/bin\/skillcast/$bin}"
cmdline="${cmdline//\/etc\/skillcast\/%i.yaml/$work/etc/demo.yaml}"
SKILLCAST_WEB_DIR="$root/usr/share/skillcast/web" $cmdline >"$work/node.out" 2>"$work/node.err" &
node=$!; pids+=($node)
port=""
for _ in $(seq 300); do
  port="$(sed -n 's#.*listening on http://127.0.0.1:\([0-9]*\)/.*#\1#p' "$work/node.out")"
  [ -n "$port" ] && break; sleep 0.1
done
if [ -n "$port" ]; then
  ok "ExecStart line started a node on port $port"
  check "the node answers /healthz" sh -c "for i in \$(seq 50); do curl -sf http://127.0.0.1:$port/healthz && exit 0; sleep 0.2; done; exit 1"
  check "the node serves the viewer page from the package" sh -c "curl -sf http://127.0.0.1:$port/ | grep -qi '<html'"
  check "the node serves hls.js from the package" curl -sf -o /dev/null "http://127.0.0.1:$port/vendor/hls.js"
  kill -TERM "$node"; wait "$node"; rc=$?
  if [ "$rc" = 0 ]; then ok "SIGTERM: clean exit"; else bad "SIGTERM: exit $rc"; fi
else
  bad "ExecStart line did not start a node"; cat "$work/node.err" | tail -20
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
