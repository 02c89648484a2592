#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Runs as a unit of a systemd booted by tests/test-systemd.sh in a root of its own: the
# shipped units under real systemd (doc/design.md §13). A container keeps calling sysinfo
# while the service is restarted, its keeper and its server are SIGKILLed and it is
# reloaded; not one call may fail. Writes what it saw to /results and powers off.
set -u
out=/results
fail() { echo "FAIL: $*" >>"$out/log"; }
step() { echo "== $*" >>"$out/log"; }
mainpid() { systemctl show -P MainPID interceptd.service; }
stored() { systemctl show -P NFileDescriptorStore interceptd.service 2>/dev/null; }
# Until interceptd serves again under a keeper other than $1 (or any, for "").
wait_serving() {
	i=0
	while [ $i -lt 100 ]; do
		p=$(mainpid)
		if [ "$p" != 0 ] && [ "$p" != "$1" ] && [ "$(systemctl is-active interceptd.service)" = active ] &&
			interceptctl status >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
		i=$((i + 1))
	done
	fail "interceptd did not serve again within 10 s (MainPID $(mainpid), $(systemctl is-active interceptd.service))"
	return 1
}
{
	systemctl is-enabled interceptd.service interceptd-oci.socket
	systemctl start interceptd.service
} >>"$out/log" 2>&1 || fail "interceptd did not start"
wait_serving "" || { systemctl poweroff; exit 0; }
step "started: MainPID $(mainpid), fd store $(stored)"

# nspawn gives the container's systemd no memory controller to limit with: the loop checks
# that every call is answered, and the daemon's count shows who answered.
intercept-run --id ic-check -- /usr/local/bin/sysinfo-loop 0 120 \
	>"$out/loop" 2>"$out/loop.err" &
loop=$!
sleep 1
n=$(stored)
step "one container: fd store $n"
# The journal, the holdings and the listener; interceptd.socket's units hold the sockets.
[ "${n:-0}" -ge 3 ] || fail "the fd store holds $n fds, not the journal, the holdings and the listener"

old=$(mainpid)
step "SIGKILL the keeper ($old)"
kill -KILL "$old"
wait_serving "$old" && step "serving again: MainPID $(mainpid), fd store $(stored)"
sleep 1

old=$(mainpid)
step "systemctl restart"
systemctl restart interceptd.service >>"$out/log" 2>&1 || fail "systemctl restart failed"
wait_serving "$old" && step "serving again: MainPID $(mainpid), fd store $(stored)"
sleep 1

srv=$(pgrep -P "$(mainpid)" -x interceptd | head -n 1)
step "SIGKILL the server ($srv)"
[ -n "$srv" ] && kill -KILL "$srv"
sleep 1
old=$(mainpid)
step "systemctl reload"
systemctl reload interceptd.service >>"$out/log" 2>&1 || fail "systemctl reload failed"
[ "$(mainpid)" = "$old" ] || fail "the reload changed MainPID"
sleep 1
interceptctl containers >"$out/containers" 2>&1 || fail "interceptctl containers"
cat "$out/containers" >>"$out/log"
# Still served by the daemon after all that: listed, with its calls counted since.
awk '$1 == "ic-check" && $4 > 0 { ok = 1 } END { exit !ok }' "$out/containers" ||
	fail "the container is not listed as served"

# The loop ends (and prints what it saw) when told to, at most 120 s after its start.
pkill -TERM -x sysinfo-loop
wait "$loop"
echo "loop exit $?" >>"$out/log"
cat "$out/loop" "$out/loop.err" >>"$out/log"
grep -q "failures=0" "$out/loop" || fail "the container saw failed calls"
journalctl -b -u interceptd.service --no-pager -o cat >"$out/journal" 2>&1
echo done >>"$out/log"
systemctl poweroff
