#!/usr/bin/env bash
# The Debian package: built with CPack from this build directory, its contents and maintainer
# scripts checked, and, where installing system-wide is allowed (as root in CI, or with
# VIGIL_PACKAGE_INSTALL=1), installed with dpkg -i and the daemon started as the package's own
# user with the installed configuration, then purged.
# Usage: package_test.sh BUILD_DIR WORK_DIR
set -euo pipefail
build="$1"
work="$2"
rm -rf "$work" && mkdir -p "$work"
fail() { echo "package_test: FAIL: $*" >&2; exit 1; }

(cd "$build" && cpack -G DEB -B "$work/out" >"$work/cpack.log" 2>&1) || { cat "$work/cpack.log" >&2; fail "cpack"; }
deb="$(ls "$work"/out/vigil_*.deb)"
echo "package_test: built $(basename "$deb") ($(du -k "$deb" | cut -f1) KiB)"

# --- what the package holds ---
dpkg-deb --contents "$deb" >"$work/contents"
for f in ./usr/bin/vigild ./usr/bin/vigilctl ./usr/bin/vigil-sim \
         ./usr/share/vigil/profiles/generic.yaml ./usr/share/vigil/profiles/iv-ketamine.yaml \
         ./usr/share/vigil/profiles/im-ketamine.yaml ./usr/share/vigil/profiles/intranasal-esketamine.yaml \
         ./usr/share/vigil/scenarios/demo.yaml ./etc/vigil/vigild.yaml ./lib/systemd/system/vigild.service \
         ./usr/share/doc/vigil/README.md ./usr/share/doc/vigil/docs/protocol.md ./usr/share/doc/vigil/docs/alarms.md; do
  grep -q " $f\$" "$work/contents" || fail "the package has no $f"
done
dpkg-deb --field "$deb" Depends | grep -q libsqlite3 || fail "Depends does not name SQLite: $(dpkg-deb --field "$deb" Depends)"
dpkg-deb --field "$deb" Depends | grep -q adduser || fail "Depends does not name adduser"
dpkg-deb --control "$deb" "$work/control"
grep -qx /etc/vigil/vigild.yaml "$work/control/conffiles" || fail "the configuration is not a conffile"
for s in postinst prerm postrm; do [[ -x "$work/control/$s" ]] || fail "no executable $s"; done

dpkg-deb -x "$deb" "$work/root"
unit="$work/root/lib/systemd/system/vigild.service"
grep -qx 'ExecStart=/usr/bin/vigild --config /etc/vigil/vigild.yaml' "$unit" || fail "the unit does not start /usr/bin/vigild"
grep -qx 'User=vigil' "$unit" || fail "the unit does not run as vigil"
doc="$(sed -n 's|^Documentation=file://||p' "$unit")"
[[ -f "$work/root$doc" ]] || fail "the unit's documentation $doc is not in the package"
config="$work/root/etc/vigil/vigild.yaml"
grep -qx '  profiles_dir: /usr/share/vigil/profiles' "$config" || fail "the configuration's profiles_dir is not the installed profiles"
echo "package_test: contents, conffile, unit and configuration as documented"

# --- installed for real ---
if [[ "${VIGIL_PACKAGE_INSTALL:-}" != 1 && ! ( "${CI:-}" == true && $(id -u) -eq 0 ) ]]; then
  echo "package_test: not installed system-wide (as root in CI, or with VIGIL_PACKAGE_INSTALL=1)"
  exit 0
fi
[[ $(id -u) -eq 0 ]] || fail "installing needs root"
dpkg-query -W vigil >/dev/null 2>&1 && fail "a vigil package is already installed here; not touching it"
[[ -e /var/lib/vigil || -e /etc/vigil ]] && fail "/var/lib/vigil or /etc/vigil exists here (a Vigil installed by hand?); not touching it"
pid=
cleanup() {
  [[ -n "$pid" ]] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  dpkg --purge vigil >/dev/null 2>&1 || true
  rm -rf /var/lib/vigil
}
trap cleanup EXIT
dpkg -i "$deb" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; fail "dpkg -i"; }
getent passwd vigil >/dev/null || fail "postinst did not create the user vigil"
[[ "$(stat -c %U:%G /var/lib/vigil)" == vigil:vigil ]] || fail "/var/lib/vigil is $(stat -c %U:%G /var/lib/vigil)"
[[ "$(stat -c %U:%G:%a /etc/vigil/vigild.yaml)" == root:vigil:640 ]] || fail "the configuration is $(stat -c %U:%G:%a /etc/vigil/vigild.yaml)"
grep -q change-me- /etc/vigil/vigild.yaml && fail "placeholders left in the installed configuration"
[[ "$(stat -c %a /etc/vigil/initial-secrets)" == 600 ]] || fail "the secrets file is readable by others"
runuser -u vigil -- /usr/bin/vigild --check-config /etc/vigil/vigild.yaml >"$work/check.log" 2>&1 \
  || { cat "$work/check.log" >&2; fail "vigild --check-config on the installed configuration"; }
chmod 0777 "$work"
setpriv --reuid=vigil --regid=vigil --init-groups /usr/bin/vigild --config /etc/vigil/vigild.yaml --ingest-port 0 --control-port 0 --feed-port 0 \
  --http-port 0 --ports-file "$work/ports" >"$work/vigild.log" 2>&1 &
pid=$!
for _ in $(seq 300); do
  [[ -s "$work/ports" ]] && grep -q '^http:' "$work/ports" && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/vigild.log" >&2; fail "vigild stopped"; }
  sleep 0.1
done
http="$(sed -n 's/^http: //p' "$work/ports")"
[[ -n "$http" ]] || { cat "$work/vigild.log" >&2; fail "vigild wrote no http port"; }
python3 - "$http" <<'PY' || fail "vigild from the package does not answer /healthz"
import sys, urllib.request
with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/healthz", timeout=10) as r:
    assert r.status == 200, r.status
PY
[[ -f /var/lib/vigil/timeline.db ]] || fail "no timeline in /var/lib/vigil"
kill -TERM "$pid"; wait "$pid" || fail "vigild did not stop cleanly"
pid=
dpkg --purge vigil >"$work/purge.log" 2>&1 || { cat "$work/purge.log" >&2; fail "dpkg --purge"; }
[[ -f /var/lib/vigil/timeline.db ]] || fail "purging the package removed the session timeline (a clinical record)"
echo "package_test: installed with dpkg -i, vigild started as vigil on the installed configuration, purged"
