#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# interceptd under real systemd (doc/design.md §13): the shipped units, the fd store across a
# restart, a SIGKILL of the keeper and of the server, and a reload, with a container calling
# all along. systemd is never booted against this machine's root: it boots with
# systemd-nspawn in a Debian root of its own, made once with mmdebstrap and kept in the build
# directory, in cgroups of its own that are removed afterwards.
set -euo pipefail
build=${IC_TOP_BUILDDIR:-$(cd "$(dirname "$0")/.." && pwd)}
src=${IC_TOP_SRCDIR:-$build}
cache=$build/tests/systemd-root
packages=systemd,systemd-sysv,dbus,procps,liburcu8,libseccomp2,libcgroup2,libjson-c5,libinih1,libjemalloc2,libasan8,libubsan1
work=$(mktemp -d /tmp/ic-systemd.XXXXXX)
cg=ic-systemd-$$
nspawn=

cleanup() {
	[ -n "$nspawn" ] && kill -KILL "$nspawn" 2>/dev/null && wait "$nspawn" 2>/dev/null
	for h in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified /sys/fs/cgroup; do
		[ -d "$h/$cg" ] || continue
		# Whatever is still in there is ours; then the directories go, deepest first.
		find "$h/$cg" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -KILL 2>/dev/null
		for _ in 1 2 3 4 5; do
			find "$h/$cg" -depth -type d -exec rmdir {} + 2>/dev/null && break
			sleep 0.2
		done
	done
	[ -n "${IC_KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

command -v systemd-nspawn >/dev/null || { echo "systemd-nspawn is not installed (systemd-container)"; exit 1; }
# mmdebstrap's first run and a booting systemd fill the machine's disk and CPUs: this takes its
# turn with the other such tests (ic_test_exclusive in tests/harness.c), waiting at most 150 s.
exec 9>"$build/tests/machine.lock"
flock -w 150 9 || { echo "$build/tests/machine.lock: not free within 150 s"; exit 1; }
if [ "$(cat "$cache.stamp" 2>/dev/null)" != "$packages" ]; then
	rm -rf "$cache" "$cache.stamp"
	mmdebstrap --quiet --variant=minbase --include="$packages" bookworm "$cache" >"$work/mmdebstrap.log" 2>&1 ||
		{ tail -n 30 "$work/mmdebstrap.log"; echo "mmdebstrap failed"; exit 1; }
	echo "$packages" >"$cache.stamp"
fi

root=$work/root
cp -a "$cache" "$root"
install -D -m755 "$build/interceptd" "$root/usr/local/sbin/interceptd"
for b in interceptctl intercept-run tests/sysinfo-loop; do
	install -D -m755 "$build/$b" "$root/usr/local/bin/$(basename "$b")"
done
install -D -m755 "$src/tests/systemd-inside.sh" "$root/usr/local/libexec/ic-systemd-inside"
units=$root/etc/systemd/system
mkdir -p "$units/multi-user.target.wants" "$units/sockets.target.wants"
for u in "$build"/systemd/*.service "$build"/systemd/*.socket; do
	# The built units, their binaries where this root has them.
	sed 's|^\(Exec[A-Za-z]*=[-@!+]*\)[^ ]*/interceptd|\1/usr/local/sbin/interceptd|' "$u" >"$units/$(basename "$u")"
done
ln -s ../interceptd.service "$units/multi-user.target.wants/"
for s in oci lxc control; do ln -s "../interceptd-$s.socket" "$units/sockets.target.wants/"; done
cat >"$units/ic-check.service" <<UNIT
[Unit]
Description=interceptd under real systemd: the check
After=multi-user.target
[Service]
Type=oneshot
ExecStart=/usr/local/libexec/ic-systemd-inside
UNIT
ln -s ../ic-check.service "$units/multi-user.target.wants/"
mkdir -p "$work/results"

# nspawn makes the container's cgroups below its own: ours, not the root of the hierarchy.
for h in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified; do
	[ -d "$h" ] || continue
	mkdir "$h/$cg"
	echo $$ >"$h/$cg/cgroup.procs"
done
timeout 300 systemd-nspawn -q -D "$root" -b --register=no --keep-unit \
	--bind="$work/results:/results" </dev/null >"$work/console" 2>&1 9>&- &
nspawn=$!
wait "$nspawn" && rc=0 || rc=$?
nspawn=
# Back where we came from, so that our cgroups can go.
for h in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified; do
	[ -d "$h/$cg" ] && echo $$ >"$h/cgroup.procs"
done

cat "$work/results/log" 2>/dev/null || true
if [ "$rc" != 0 ] || ! grep -qx done "$work/results/log" 2>/dev/null || grep -q '^FAIL' "$work/results/log"; then
	echo "--- systemd-nspawn exit $rc; console:"
	tail -n 60 "$work/console"
	echo "--- interceptd's journal:"
	tail -n 80 "$work/results/journal" 2>/dev/null || true
	exit 1
fi
echo "--- interceptd's journal (last lines):"
tail -n 15 "$work/results/journal"
