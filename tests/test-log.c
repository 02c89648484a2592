/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/caller.h"
#include "common/fsctx.h"
#include "common/log.h"

/* common/log.c: the per-container budget, the journal's fields, and journald's stderr stream.
 * Criterion runs each test in its own process, so each may point stderr and /run elsewhere. */

static char path[] = "/tmp/ic-log-XXXXXX";

/* stderr into a fresh file, whose content stderr_text returns. */
static void stderr_to_file(void)
{
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	cr_assert_geq(dup2(fd, STDERR_FILENO), 0);
	close(fd);
	setvbuf(stderr, NULL, _IONBF, 0);
}

static const char *stderr_text(void)
{
	static char buf[1 << 16];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	cr_assert_geq(fd, 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	return buf;
}

static int count(const char *text, const char *s)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, s)); p++)
		n++;
	return n;
}

static void cleanup(void)
{
	unlink(path);
}

TestSuite(log, .fini = cleanup, .timeout = 30);

Test(log, a_container_over_its_budget_is_counted_and_summarised)
{
	struct ic_log_ratelimit rl = {0};
	struct ic_log_context ctx = {.container = "c1", .syscall = "mknod", .pid = 42, .rl = &rl};

	stderr_to_file();
	ic_log_set_ratelimit(3, 100);
	ic_log_set_context(&ctx);
	for (int i = 0; i < 10; i++)
		log_info("line %d", i);
	ic_log_set_context(NULL);
	log_info("not a container's");
	cr_expect_eq(count(stderr_text(), " line "), 3, "%s", stderr_text());
	cr_expect(strstr(stderr_text(), "not a container's"));
	/* Within the interval nothing is told yet; once it is over, the flush tells it. */
	ic_log_ratelimit_flush(&rl, "c1", false);
	cr_expect(!strstr(stderr_text(), "suppressed"), "%s", stderr_text());
	usleep(150000);
	ic_log_ratelimit_flush(&rl, "c1", false);
	cr_expect(strstr(stderr_text(),
			 "warn  container c1: 7 log lines suppressed (more than 3 in 100 ms)\n"),
		  "%s", stderr_text());
	cr_expect_eq(ic_log_suppressed_total(), 7);
	cr_expect_eq(rl.suppressed_total, 7);
	/* A new interval begins with a full budget. */
	ic_log_set_context(&ctx);
	log_info("again");
	ic_log_set_context(NULL);
	cr_expect(strstr(stderr_text(), "again"));
}

Test(log, the_next_line_after_the_interval_tells_what_was_suppressed_before_it)
{
	struct ic_log_ratelimit rl = {0};
	struct ic_log_context ctx = {.container = "c2", .rl = &rl};
	const char *t;

	stderr_to_file();
	ic_log_set_ratelimit(1, 100);
	ic_log_set_context(&ctx);
	log_warn("first");
	log_warn("second");
	usleep(150000);
	log_warn("third");
	ic_log_set_context(NULL);
	t = stderr_text();
	cr_expect(!strstr(t, "second"), "%s", t);
	cr_expect(strstr(t, "container c2: 1 log lines suppressed"), "%s", t);
	cr_expect(strstr(t, "suppressed") < strstr(t, "third"), "%s", t);
}

Test(log, no_budget_means_no_limit)
{
	struct ic_log_ratelimit rl = {0};
	struct ic_log_context ctx = {.container = "c3", .rl = &rl};

	stderr_to_file();
	ic_log_set_ratelimit(0, 100);
	ic_log_set_context(&ctx);
	for (int i = 0; i < 500; i++)
		log_info("line");
	ic_log_set_context(NULL);
	cr_expect_eq(count(stderr_text(), "line\n"), 500);
	cr_expect_eq(ic_log_suppressed_total(), 0);
}

Test(log, stderr_read_by_journald_carries_priority_prefixes)
{
	struct stat st;
	char env[64];

	stderr_to_file();
	cr_assert_eq(fstat(STDERR_FILENO, &st), 0);
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", env, 1);
	ic_log_set_target(IC_LOG_STDERR);
	log_error("bad");
	log_info("fine");
	cr_expect_str_eq(stderr_text(), "<3>bad\n<6>fine\n");
	/* A JOURNAL_STREAM naming another file is an inherited one: our stderr is not journald's.
	 */
	setenv("JOURNAL_STREAM", "1:2", 1);
	ic_log_set_target(IC_LOG_STDERR);
	log_info("stamped");
	cr_expect(strstr(stderr_text(), "Z info  stamped\n"), "%s", stderr_text());
}

Test(log, the_journal_gets_the_containers_fields)
{
#if HAVE_LIBSYSTEMD
	struct sockaddr_un sa = {.sun_family = AF_UNIX, .sun_path = "/run/systemd/journal/socket"};
	struct ic_log_context ctx = {.container = "c4", .syscall = "mknodat", .pid = 4242};
	char buf[4096];
	ssize_t n;
	int fd;

	/* journald's socket in a /run of our own. */
	cr_assert_eq(unshare(CLONE_NEWNS), 0);
	cr_assert_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
	cr_assert_eq(mount("tmpfs", "/run", "tmpfs", 0, "mode=755"), 0);
	cr_assert_eq(mkdir("/run/systemd", 0755), 0);
	cr_assert_eq(mkdir("/run/systemd/journal", 0755), 0);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ic_log_set_target(IC_LOG_JOURNAL);
	ic_log_set_context(&ctx);
	log_warn_errno(-13, "refused: %m");
	ic_log_set_context(NULL);
	n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	cr_assert_gt(n, 0);
	buf[n] = 0;
	cr_expect(strstr(buf, "MESSAGE=refused: Permission denied\n"), "%s", buf);
	cr_expect(strstr(buf, "PRIORITY=4\n"), "%s", buf);
	cr_expect(strstr(buf, "SYSLOG_IDENTIFIER=interceptd\n"), "%s", buf);
	cr_expect(strstr(buf, "CONTAINER_ID=c4\n"), "%s", buf);
	cr_expect(strstr(buf, "SYSCALL=mknodat\n"), "%s", buf);
	cr_expect(strstr(buf, "PID=4242\n"), "%s", buf);
	cr_expect(strstr(buf, "ERRNO=13\n"), "%s", buf);
	close(fd);
#else
	cr_skip_test("built without libsystemd");
#endif
}

Test(log, a_line_written_in_a_callers_root_never_reaches_a_socket_there)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char dir[] = "/tmp/ic-log-root-XXXXXX", buf[512];
	struct ic_caller c = {.umask = 022};
	int fd, rootfd;
	ssize_t n;

	/* A container's root with a /dev/log of its own: inside a scope, syslog's name would
	 * lead there. The line goes to our stderr instead. */
	stderr_to_file();
	cr_assert(mkdtemp(dir));
	snprintf(buf, sizeof(buf), "%s/dev", dir);
	cr_assert_eq(mkdir(buf, 0755), 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/dev/log", dir);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	rootfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	cr_assert_geq(rootfd, 0);
	cr_assert_eq(ic_fsctx_thread_init(), 0);
	ic_log_set_target(IC_LOG_SYSLOG);
	cr_assert_eq(ic_fsctx_enter(&c, rootfd, rootfd, ~0ULL), 0);
	log_warn("said inside the scope");
	ic_fsctx_leave();
	n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	cr_expect_lt(n, 0, "the container's /dev/log got: %.*s", (int)(n > 0 ? n : 0), buf);
	cr_expect(strstr(stderr_text(), "said inside the scope"), "%s", stderr_text());
	close(fd);
	close(rootfd);
	unlink(sa.sun_path);
	snprintf(buf, sizeof(buf), "%s/dev", dir);
	rmdir(buf);
	rmdir(dir);
}
