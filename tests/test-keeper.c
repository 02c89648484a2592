/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/oci.h"
#include "common/proc.h"
#include "common/sock.h"
#include "tests/harness.h"

/* The keeper: listeners that outlive the server (doc/design.md §13). */

static struct ic_test_daemon d;
static char out[1 << 16];

static void teardown(void)
{
	ic_test_daemon_stop(&d);
}

TestSuite(keeper, .fini = teardown, .timeout = 240);

static const char *const sysinfo_policy = "[policy default]\n"
					  "security.syscalls.intercept.sysinfo = true\n";

static int count_fds(pid_t pid)
{
	char path[64];
	struct dirent *de;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	dir = opendir(path);
	cr_assert(dir, "%s: %s", path, strerror(errno));
	while ((de = readdir(dir)))
		n += de->d_name[0] != '.';
	closedir(dir);
	return n;
}

/* Whether every fd of the daemon's own in pid (its journal, listeners, sockets; not what it
 * inherited from us) is close-on-exec. */
static bool fds_close_on_exec(pid_t pid)
{
	char path[320], line[256], link[256];
	struct dirent *de;
	bool all = true;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo", (int)pid);
	dir = opendir(path);
	cr_assert(dir);
	while ((de = readdir(dir))) {
		unsigned flags;
		ssize_t n;
		FILE *f;

		if (de->d_name[0] == '.' || atoi(de->d_name) <= 2)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd/%s", (int)pid, de->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		link[n > 0 ? n : 0] = 0;
		if (!strstr(link, "interceptd-") && !strstr(link, "seccomp") &&
		    !strstr(link, "socket:") && !strstr(link, d.dir))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%s", (int)pid, de->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "flags: %o", &flags) == 1 && !(flags & 02000000)) {
				cr_log_warn("fd %s of %d is not close-on-exec", de->d_name,
					    (int)pid);
				all = false;
			}
		fclose(f);
	}
	closedir(dir);
	return all;
}

Test(keeper, a_second_instance_is_refused_and_names_the_running_one)
{
	char want[64];
	struct stat st;
	int r;

	ic_test_daemon_start(&d, NULL, sysinfo_policy);
	r = ic_test_sh(out, sizeof(out), 10, "%s -c %s", ic_test_bin("interceptd"), d.conf);
	cr_expect_eq(r, 1, "%s", out);
	snprintf(want, sizeof(want), "interceptd (pid %d) already serves", (int)d.pid);
	cr_expect(strstr(out, want), "%s", out);
	/* The sockets are still the running one's, and it serves. */
	cr_expect_eq(stat(d.oci, &st), 0);
	cr_expect_eq(stat(d.ctl, &st), 0);
	ic_test_expect_served(&d);
}

enum { CONTAINERS = 4, EVENTS = 10 };

/* CONTAINERS containers, each calling sysinfo for `seconds` and checking every answer is its
 * own 64 MiB; running once the daemon has received a thousand calls. */
static void load_start(pid_t *loops, int seconds)
{
	char cmd[1024];

	for (int i = 0; i < CONTAINERS; i++) {
		snprintf(cmd, sizeof(cmd),
			 "%s -c %s -s %s --id keeper-load-%d-%d --memory 64M -- %s 0 %d %lld > "
			 "%s/loop%d.out 2>&1",
			 ic_test_bin("intercept-run"), d.conf, d.oci, (int)getpid(), i,
			 ic_test_bin("tests/sysinfo-loop"), seconds, 64LL << 20, d.dir, i);
		loops[i] = ic_test_sh_start(cmd);
	}
	cr_assert(ic_test_stat_reaches(&d, "received", 1000, 10000), "the containers do not run");
}

/* Every call of every container answered right, none past the request deadline (5 s) and the
 * next server's start. */
static void load_check(const pid_t *loops, const char *event)
{
	char path[256];
	long long worst = 0;

	for (int i = 0; i < CONTAINERS; i++) {
		int status;

		cr_assert_eq(waitpid(loops[i], &status, 0), loops[i]);
		snprintf(path, sizeof(path), "%s/loop%d.out", d.dir, i);
		ic_test_read_file(path, out, sizeof(out));
		cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "container %d: %s", i,
			  out);
		cr_expect_eq(ic_test_kv(out, "failures"), 0, "container %d: %s", i, out);
		cr_expect_gt(ic_test_kv(out, "calls"), 1000, "container %d: %s", i, out);
		cr_expect_lt(ic_test_kv(out, "max_us"), ic_test_call_bound_us(), "container %d: %s",
			     i, out);
		if (ic_test_kv(out, "max_us") > worst)
			worst = ic_test_kv(out, "max_us");
		cr_log_info("container %d across %d %s: %s", i, EVENTS, event, out);
	}
	cr_log_info("longest call across the %s: %lld us", event, worst);
}

Test(keeper, a_killed_server_is_replaced_and_keeps_every_container)
{
	pid_t loops[CONTAINERS];

	long long before, after;

	ic_test_daemon_start(&d, NULL, sysinfo_policy);
	load_start(loops, 6);
	/* The server saves its counters every second: a crash loses at most the last one's. */
	before = ic_test_stat(&d, "received");
	usleep(1200000);
	/* At random moments, each one a fifth of a second or more after the restart. */
	ic_test_kill_servers(&d, EVENTS, 250000, 400000, 1000);
	after = ic_test_stat(&d, "received");
	load_check(loops, "kills");
	cr_expect(ic_test_log_has(&d, "starting another"));
	cr_expect_geq(after, before, "the counters started again after a crash: %lld, then %lld",
		      before, after);
}

Test(keeper, upgrades_in_a_row_hand_every_container_over)
{
	pid_t loops[CONTAINERS];
	long long before, after;

	ic_test_daemon_start(&d, NULL, sysinfo_policy);
	load_start(loops, 5);
	ic_test_upgrades(&d, EVENTS, 0);
	load_check(loops, "upgrades");
	/* One keeper all along, and the counters went on. */
	cr_expect_eq(waitpid(d.pid, NULL, WNOHANG), 0);
	cr_expect_eq(ic_test_ctl(&d, out, sizeof(out), "status --json"), 0);
	cr_expect(strstr(out, "\"server_restarts\":10") || strstr(out, "\"server_restarts\": 10"),
		  "%s", out);
	before = ic_test_stat(&d, "received");
	ic_test_expect_served(&d);
	after = ic_test_stat(&d, "received");
	cr_expect_gt(before, 4 * 1000, "the counters started again");
	cr_expect_eq(after, before + 1);
	cr_expect_eq(ic_test_stat(&d, "answers.failed"), 0);
}

Test(keeper, takeover_hands_the_running_daemon_over_to_another_binary)
{
	char copy[256], exe[256] = "", proc[64];
	pid_t loops[CONTAINERS];
	ssize_t n;
	int r;

	ic_test_daemon_start(&d, NULL, sysinfo_policy);
	load_start(loops, 3);
	/* The new version, installed elsewhere. */
	snprintf(copy, sizeof(copy), "%s/interceptd-next", d.dir);
	r = ic_test_sh(out, sizeof(out), 10, "cp %s %s", ic_test_bin("interceptd"), copy);
	cr_assert_eq(r, 0, "%s", out);
	r = ic_test_sh(out, sizeof(out), 30, "%s --takeover -c %s", copy, d.conf);
	cr_expect_eq(r, 0, "%s", out);
	cr_expect(strstr(out, "now runs"), "%s", out);
	snprintf(proc, sizeof(proc), "/proc/%d/exe", (int)d.pid);
	n = readlink(proc, exe, sizeof(exe) - 1);
	cr_assert_gt(n, 0);
	exe[n] = 0;
	cr_expect_str_eq(exe, copy);
	load_check(loops, "takeover");
}

Test(keeper, containers_that_come_and_go_leave_nothing_in_the_keeper)
{
	enum { CYCLES = 1000 };
	struct ic_test_target t, stays;
	int base, now = 0;
	char id[64];
	pid_t server;

	ic_test_daemon_start(&d, NULL, sysinfo_policy);
	base = count_fds(d.pid);
	for (int i = 0; i < CYCLES; i++) {
		/* One that stays from here on: the keeper writes its holdings anew without the
		 * records of those gone (every 64 KiB of them), and this one's must move. */
		if (i == CYCLES / 4) {
			ic_test_target_spawn(&stays, 1);
			ic_test_target_register(&d, &stays, "stays");
			cr_assert(ic_test_log_wait(&d, "container stays: new listener", 5000));
		}
		snprintf(id, sizeof(id), "cycle-%d", i);
		ic_test_target_spawn(&t, 1);
		ic_test_target_register(&d, &t, id);
		ic_test_target_go(&t);
		cr_assert_eq(ic_test_target_wait(&t), 0, "cycle %d", i);
	}
	/* One more, which exits while no server runs. */
	ic_test_target_spawn(&t, 0);
	ic_test_target_register(&d, &t, "exits-while-down");
	cr_assert(ic_test_log_wait(&d, "container exits-while-down: new listener", 5000));
	server = ic_test_server_pid(&d);
	cr_assert_eq(kill(server, SIGKILL), 0);
	ic_test_target_go(&t);
	cr_expect_eq(ic_test_target_wait(&t), 0);
	cr_assert_gt(ic_test_server_replaced(&d, server, 3000), 0);
	cr_expect(ic_test_log_wait(&d, "keeper: holdings written anew", 1000));
	/* Served as itself, by its own record: not as a listener whose message was lost. */
	cr_expect_eq(ic_test_ctl(&d, out, sizeof(out), "containers"), 0);
	cr_expect(strstr(out, "stays") && !strstr(out, "kept-"), "%s", out);
	ic_test_target_go(&stays);
	cr_expect_eq(ic_test_target_wait(&stays), 0, "the container that stayed lost its listener");
	/* The keeper lets go of each listener when its last task is gone. */
	for (int i = 0; i < 100; i++) {
		now = count_fds(d.pid);
		if (now <= base)
			break;
		usleep(50000);
	}
	cr_expect_leq(now, base, "keeper fds: %d before, %d after %d containers", base, now,
		      CYCLES + 1);
	cr_expect_eq(ic_test_ctl(&d, out, sizeof(out), "status --json"), 0);
	cr_expect(strstr(out, "\"containers\":0") || strstr(out, "\"containers\": 0"), "%s", out);
	ic_test_expect_served(&d);
}

Test(keeper, listeners_in_flight_to_the_keeper_when_the_server_dies_are_kept)
{
	enum { N = 5 };
	struct ic_test_target t[N];
	char id[32], logged[96];
	pid_t server;

	ic_test_daemon_start(&d, NULL, sysinfo_policy);
	server = ic_test_server_pid(&d);
	/* The keeper does not read its link meanwhile: the listeners wait in it. */
	cr_assert_eq(kill(d.pid, SIGSTOP), 0);
	for (int i = 0; i < N; i++) {
		snprintf(id, sizeof(id), "in-flight-%d", i);
		ic_test_target_spawn(&t[i], 1);
		ic_test_target_register(&d, &t[i], id);
		snprintf(logged, sizeof(logged), "container %s: new listener", id);
		cr_assert(ic_test_log_wait(&d, logged, 5000));
	}
	cr_assert_eq(kill(server, SIGKILL), 0);
	cr_assert_eq(kill(d.pid, SIGCONT), 0);
	cr_assert_gt(ic_test_server_replaced(&d, server, 3000), 0);
	/* Every one of them is served by the next server. */
	for (int i = 0; i < N; i++) {
		ic_test_target_go(&t[i]);
		cr_expect_eq(ic_test_target_wait(&t[i]), 0, "container %d lost its listener", i);
	}
}

Test(keeper, the_journal_never_reaches_a_program_the_server_runs)
{
	char path[512], link[256], line[256];
	struct dirent *de;
	bool found = false;
	pid_t server;
	DIR *dir;

	ic_test_daemon_start(&d, NULL, sysinfo_policy);
	server = ic_test_server_pid(&d);
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)server);
	dir = opendir(path);
	cr_assert(dir);
	while ((de = readdir(dir))) {
		ssize_t n;
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/fd/%s", (int)server, de->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = 0;
		if (!strstr(link, "interceptd-journal"))
			continue;
		found = true;
		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%s", (int)server, de->d_name);
		f = fopen(path, "re");
		cr_assert(f);
		while (fgets(line, sizeof(line), f)) {
			unsigned flags;

			if (sscanf(line, "flags: %o", &flags) == 1)
				cr_expect(flags & 02000000, "the journal is not close-on-exec");
		}
		fclose(f);
	}
	closedir(dir);
	cr_expect(found, "no journal in the server");
}

Test(keeper, a_runtime_half_way_through_its_message_at_an_upgrade_is_served)
{
	struct ic_test_target t;
	size_t half;
	char *msg;
	pid_t server;
	int fd;

	ic_test_daemon_start(&d, NULL, sysinfo_policy);
	server = ic_test_server_pid(&d);
	ic_test_target_spawn(&t, 1);
	msg = ic_oci_format("half-way", t.pid, t.pid, "creating", NULL);
	cr_assert(msg);
	half = strlen(msg) / 2;
	fd = ic_sock_connect(d.oci, SOCK_STREAM);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ic_sock_send_fds(fd, msg, half, &t.listener, 1), 0);
	close(t.listener);
	t.listener = -1;
	usleep(200000); /* accepted, half read */
	cr_assert_eq(kill(d.pid, SIGUSR2), 0);
	usleep(100000); /* the server drains */
	cr_expect_eq(send(fd, msg + half, strlen(msg) - half, MSG_NOSIGNAL),
		     (ssize_t)(strlen(msg) - half), "the draining server dropped the connection");
	close(fd);
	free(msg);
	cr_assert_gt(ic_test_server_replaced(&d, server, 5000), 0);
	ic_test_target_go(&t);
	cr_expect_eq(ic_test_target_wait(&t), 0, "its listener was lost");
}

/* Datagrams the daemon sent to its NOTIFY_SOCKET, within timeout_ms, until one holds want. */
static bool notified(int sock, const char *want, char *got, size_t len, int timeout_ms)
{
	uint64_t end = ic_now_ns() + (uint64_t)timeout_ms * 1000000ULL;

	while (ic_now_ns() < end) {
		struct pollfd p = {.fd = sock, .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, 50) <= 0)
			continue;
		n = recv(sock, got, len - 1, 0);
		if (n <= 0)
			continue;
		got[n] = 0;
		if (strstr(got, want))
			return true;
	}
	return false;
}

Test(keeper, tells_the_service_manager_ready_reloading_and_stopping)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char path[64], got[1024], want[64];
	int sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(sock, 0);
	snprintf(path, sizeof(path), "/tmp/ic-notify-%d.sock", (int)getpid());
	unlink(path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	cr_assert_eq(bind(sock, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setenv("NOTIFY_SOCKET", path, 1);
	ic_test_daemon_start(&d, NULL, sysinfo_policy);
	unsetenv("NOTIFY_SOCKET");
	/* The keeper is the main process, and says so. */
	snprintf(want, sizeof(want), "MAINPID=%d", (int)d.pid);
	cr_expect(notified(sock, "READY=1", got, sizeof(got), 5000), "no READY=1");
	cr_expect(strstr(got, want), "%s", got);
	cr_assert_eq(kill(d.pid, SIGUSR2), 0);
	cr_expect(notified(sock, "RELOADING=1", got, sizeof(got), 5000), "no RELOADING=1");
	cr_expect(notified(sock, "READY=1", got, sizeof(got), 5000),
		  "no READY=1 after the upgrade");
	cr_expect(strstr(got, want), "the pid changed: %s", got);
	cr_assert_eq(kill(d.pid, SIGTERM), 0);
	cr_expect(notified(sock, "STOPPING=1", got, sizeof(got), 5000), "no STOPPING=1");
	close(sock);
	unlink(path);
}

Test(keeper, the_shipped_unit_passes_systemd_analyze_verify)
{
	char unit[256];
	int r;

	if (ic_test_sh(NULL, 0, 10, "command -v systemd-analyze") != 0)
		cr_skip_test("systemd-analyze is not installed");
	/* The built units, the service's binaries pointed at this build. */
	snprintf(unit, sizeof(unit), "/tmp/ic-unit-%d", (int)getpid());
	r = ic_test_sh(out, sizeof(out), 30,
		       "mkdir -p %s && cp %s/systemd/*.socket %s && "
		       "sed 's|^\\(Exec[A-Za-z]*=\\)[^ ]*/interceptd|\\1%s|' "
		       "%s/systemd/interceptd.service > %s/interceptd.service && "
		       "systemd-analyze verify --man=no %s/*; rc=$?; rm -rf %s; exit $rc",
		       unit, IC_TOP_BUILDDIR, unit, ic_test_bin("interceptd"), IC_TOP_BUILDDIR,
		       unit, unit, unit);
	cr_expect_eq(r, 0, "%s", out);
	/* It exits 0 on a directive it ignores: any word from it is a fault of the unit. */
	cr_expect_eq(out[0], 0, "%s", out);
}

Test(keeper, a_hand_over_to_a_binary_that_cannot_run_keeps_the_running_one)
{
	char copy[256];
	pid_t server;
	int r;

	ic_test_daemon_start(&d, NULL, sysinfo_policy);
	server = ic_test_server_pid(&d);
	/* What --takeover leaves for the keeper, naming a binary that is ours and not writable
	 * by others, but not executable: execv fails. */
	snprintf(copy, sizeof(copy), "%s/interceptd-broken", d.dir);
	r = ic_test_sh(out, sizeof(out), 10,
		       "cp %s %s && chmod 0644 %s && printf %%s %s > %s.takeover && chmod 0600 "
		       "%s.takeover",
		       ic_test_bin("interceptd"), copy, copy, copy, d.ctl, d.ctl);
	cr_assert_eq(r, 0, "%s", out);
	cr_assert_eq(kill(d.pid, SIGUSR2), 0);
	cr_assert_gt(ic_test_server_replaced(&d, server, 5000), 0, "no server after it failed");
	cr_expect(ic_test_log_wait(&d, "cannot execute", 5000), "no word of the failure");
	/* The running binary goes on, serving, with nothing of the keeper's left open for what
	 * it or its server executes. */
	ic_test_expect_served(&d);
	cr_expect(fds_close_on_exec(d.pid), "an fd of the keeper lost its close-on-exec");
	cr_expect(fds_close_on_exec(ic_test_server_pid(&d)),
		  "an fd of the server lost its close-on-exec");
}

Test(keeper, starts_where_the_socket_directory_does_not_exist_yet)
{
	char conf[256], ctl[256];
	pid_t pid;
	int r;

	ic_test_daemon_start(&d, NULL, sysinfo_policy);
	/* A second daemon, all of whose sockets are in a directory nobody made (a fresh /run). */
	snprintf(conf, sizeof(conf), "%s/fresh.conf", d.dir);
	snprintf(ctl, sizeof(ctl), "%s/run/interceptd/control.sock", d.dir);
	r = ic_test_sh(out, sizeof(out), 10,
		       "printf '[server]\\noci.socket = %s/run/interceptd/oci.sock\\n"
		       "lxc.socket = %s/run/interceptd/lxc.sock\\ncontrol.socket = %s\\n' > %s",
		       d.dir, d.dir, ctl, conf);
	cr_assert_eq(r, 0, "%s", out);
	snprintf(out, sizeof(out), "%s -c %s 2>%s/fresh.log", ic_test_bin("interceptd"), conf,
		 d.dir);
	pid = ic_test_sh_start(out);
	r = ic_test_sh(out, sizeof(out), 20,
		       "for i in $(seq 100); do %s -s %s status >/dev/null 2>&1 && exit 0; "
		       "sleep 0.1; done; cat %s/fresh.log; exit 1",
		       ic_test_bin("interceptctl"), ctl, d.dir);
	cr_expect_eq(r, 0, "%s", out);
	kill(pid, SIGTERM);
	/* The shell's interceptd, and the shell. */
	r = ic_test_sh(NULL, 0, 10, "pkill -TERM -f 'interceptd -c %s'; true", conf);
	cr_assert_eq(waitpid(pid, NULL, 0), pid);
	for (int i = 0; i < 100 && ic_test_sh(NULL, 0, 5, "pgrep -f 'interceptd -c %s'", conf) == 0;
	     i++)
		usleep(50000);
}
