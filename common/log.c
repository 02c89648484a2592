/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <urcu/arch.h>
#if HAVE_LIBSYSTEMD
#include <systemd/sd-journal.h>
#endif

#include "common/log.h"

static int log_level = IC_LOG_INFO;
static int log_target = IC_LOG_STDERR;
static bool (*path_guard)(void);
static bool stderr_is_journal;	/* set with the target, before other threads log */
static bool stderr_nowait;	/* likewise: stderr is a pipe or a socket */
static uint64_t stderr_dropped; /* atomic: lines its reader did not take in time */
static unsigned rl_burst = 0, rl_interval_ms = 5000;
static uint64_t suppressed_total;
static __thread const struct ic_log_context *log_ctx;

static const int syslog_prio[_IC_LOG_MAX] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};

static const char *const level_names[_IC_LOG_MAX] = {
    [IC_LOG_ERROR] = "error",
    [IC_LOG_WARN] = "warn",
    [IC_LOG_INFO] = "info",
    [IC_LOG_DEBUG] = "debug",
};

void ic_log_set_level(enum ic_log_level level)
{
	__atomic_store_n(&log_level, (int)level, __ATOMIC_RELAXED);
}

enum ic_log_level ic_log_get_level(void)
{
	return __atomic_load_n(&log_level, __ATOMIC_RELAXED);
}

/* systemd sets JOURNAL_STREAM to "DEV:INO" of the stream it connected to our stderr; when stderr
 * is still that stream, journald takes "<N>" prefixes as priorities and stamps lines itself. */
static bool stderr_journal_stream(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	return e && sscanf(e, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
	       st.st_dev == dev && st.st_ino == ino;
}

/* Whether a write to stderr may wait for its reader (a pipe, journald's stream socket): those
 * writes must not, or a stuck reader would stop every thread that logs. */
static bool stderr_may_block(void)
{
	struct stat st;

	return fstat(STDERR_FILENO, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode));
}

void ic_log_set_target(enum ic_log_target target)
{
	if (target == IC_LOG_SYSLOG)
		openlog("interceptd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
#if !HAVE_LIBSYSTEMD
	if (target == IC_LOG_JOURNAL)
		target = IC_LOG_STDERR;
#endif
	__atomic_store_n(&stderr_is_journal, stderr_journal_stream(), __ATOMIC_RELAXED);
	__atomic_store_n(&stderr_nowait, stderr_may_block(), __ATOMIC_RELAXED);
	__atomic_store_n(&log_target, (int)target, __ATOMIC_RELAXED);
}

void ic_log_set_ratelimit(unsigned burst, unsigned interval_ms)
{
	__atomic_store_n(&rl_burst, burst, __ATOMIC_RELAXED);
	__atomic_store_n(&rl_interval_ms, interval_ms, __ATOMIC_RELAXED);
}

void ic_log_set_path_guard(bool (*guard)(void))
{
	__atomic_store_n(&path_guard, guard, __ATOMIC_RELEASE);
}

/* Whether the journal's or syslog's socket may be reached by name now. */
static bool before_path(void)
{
	bool (*guard)(void) = __atomic_load_n(&path_guard, __ATOMIC_ACQUIRE);

	return !guard || guard();
}

void ic_log_set_context(const struct ic_log_context *ctx)
{
	log_ctx = ctx;
}

uint64_t ic_log_suppressed_total(void)
{
	return __atomic_load_n(&suppressed_total, __ATOMIC_RELAXED);
}

const char *ic_log_level_name(enum ic_log_level level)
{
	return level < _IC_LOG_MAX ? level_names[level] : "?";
}

int ic_log_level_from_string(const char *s)
{
	for (int i = 0; i < _IC_LOG_MAX; i++)
		if (strcmp(s, level_names[i]) == 0)
			return i;
	return -EINVAL;
}

#if HAVE_LIBSYSTEMD
static void journal_write(enum ic_log_level level, int err, const struct ic_log_context *ctx,
			  const char *msg)
{
	char f[6][320];
	struct iovec iov[7];
	int n = 0;

#define FIELD(...)                                                                                 \
	(iov[n].iov_base = f[n],                                                                   \
	 iov[n].iov_len = (size_t)snprintf(f[n], sizeof(f[n]), __VA_ARGS__), n++)
	FIELD("PRIORITY=%d", syslog_prio[level]);
	FIELD("SYSLOG_IDENTIFIER=interceptd");
	if (ctx && ctx->container)
		FIELD("CONTAINER_ID=%.255s", ctx->container);
	if (ctx && ctx->syscall)
		FIELD("SYSCALL=%s", ctx->syscall);
	if (ctx && ctx->pid > 0)
		FIELD("PID=%d", ctx->pid);
	if (err)
		FIELD("ERRNO=%d", abs(err));
#undef FIELD
	for (int i = 0; i < n; i++)
		if (iov[i].iov_len >= sizeof(f[i]))
			iov[i].iov_len = sizeof(f[i]) - 1;
	iov[n].iov_base = (void *)msg;
	iov[n].iov_len = strlen(msg);
	sd_journal_sendv(iov, n + 1);
}
#endif

/* One whole line, or nothing: never waiting for the reader (RWF_NOWAIT on a pipe or socket; a
 * line of at most PIPE_BUF bytes is written whole or not at all). */
static bool write_line(const char *line, size_t len)
{
	struct iovec v = {.iov_base = (void *)line, .iov_len = len};
	ssize_t n;

	if (__atomic_load_n(&stderr_nowait, __ATOMIC_RELAXED)) {
		n = pwritev2(STDERR_FILENO, &v, 1, -1, RWF_NOWAIT);
		if (n >= 0 || errno != EOPNOTSUPP)
			return n == (ssize_t)len;
	}
	n = write(STDERR_FILENO, line, len);
	return n == (ssize_t)len;
}

/* A line to stderr; when the reader does not keep up, it is dropped and counted, and the count
 * is told as soon as a line goes through again. */
static void stderr_line(const char *line, size_t len)
{
	uint64_t lost = __atomic_load_n(&stderr_dropped, __ATOMIC_RELAXED);

	if (lost) {
		char note[160];
		int n = snprintf(note, sizeof(note),
				 "%s%llu log lines dropped: whoever reads stderr did not keep up\n",
				 __atomic_load_n(&stderr_is_journal, __ATOMIC_RELAXED) ? "<4>" : "",
				 (unsigned long long)lost);

		if (write_line(note, (size_t)n))
			__atomic_sub_fetch(&stderr_dropped, lost, __ATOMIC_RELAXED);
	}
	if (!write_line(line, len))
		__atomic_add_fetch(&stderr_dropped, 1, __ATOMIC_RELAXED);
}

/* msg begins with "MESSAGE=", which only the journal wants. */
static void emit(enum ic_log_level level, int err, const struct ic_log_context *ctx,
		 const char *msg)
{
	char line[PIPE_BUF];
	int n;

	switch (__atomic_load_n(&log_target, __ATOMIC_RELAXED)) {
	/* Inside a caller's scope the socket's name would be resolved in the container's root:
	 * the line goes to stderr, an fd opened in ours. */
	case IC_LOG_SYSLOG:
		if (!before_path())
			break;
		syslog(syslog_prio[level], "%s", msg + 8);
		return;
#if HAVE_LIBSYSTEMD
	case IC_LOG_JOURNAL:
		if (!before_path())
			break;
		journal_write(level, err, ctx, msg);
		return;
#endif
	default:
		break;
	}
	/* One write per line, so that lines from threads never mix. */
	if (__atomic_load_n(&stderr_is_journal, __ATOMIC_RELAXED)) {
		n = snprintf(line, sizeof(line), "<%d>%s\n", syslog_prio[level], msg + 8);
	} else {
		struct timespec ts;
		struct tm tm;
		char stamp[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		n = snprintf(line, sizeof(line), "%s.%03ldZ %-5s %s\n", stamp, ts.tv_nsec / 1000000,
			     level_names[level], msg + 8);
	}
	if (n <= 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = (int)sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	stderr_line(line, (size_t)n);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void rl_lock(struct ic_log_ratelimit *rl)
{
	while (__atomic_exchange_n(&rl->lock, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&rl->lock, __ATOMIC_RELAXED))
			caa_cpu_relax();
}

static void rl_unlock(struct ic_log_ratelimit *rl)
{
	__atomic_store_n(&rl->lock, 0, __ATOMIC_RELEASE);
}

static void summarise(struct ic_log_ratelimit *rl, const char *container, uint64_t n)
{
	struct ic_log_context ctx = {.container = container, .rl = rl};
	char msg[512];

	if (!n)
		return;
	snprintf(msg, sizeof(msg),
		 "MESSAGE=container %.255s: %llu log lines suppressed (more than %u in %u ms)",
		 container, (unsigned long long)n, __atomic_load_n(&rl_burst, __ATOMIC_RELAXED),
		 __atomic_load_n(&rl_interval_ms, __ATOMIC_RELAXED));
	emit(IC_LOG_WARN, 0, &ctx, msg);
}

/* Whether a line may go out under rl; starts a new interval, summarising the last one, when it
 * is over. */
static bool rl_admit(struct ic_log_ratelimit *rl, const char *container)
{
	unsigned burst = __atomic_load_n(&rl_burst, __ATOMIC_RELAXED);
	uint64_t interval = __atomic_load_n(&rl_interval_ms, __ATOMIC_RELAXED) * 1000000ULL;
	uint64_t now = mono_ns(), ended = 0;
	bool ok;

	if (burst == 0)
		return true;
	rl_lock(rl);
	if (rl->begin_ns == 0 || now - rl->begin_ns >= interval) {
		ended = rl->suppressed;
		__atomic_store_n(&rl->suppressed, 0, __ATOMIC_RELAXED);
		rl->printed = 0;
		rl->begin_ns = now;
	}
	ok = rl->printed < burst;
	if (ok) {
		rl->printed++;
	} else {
		__atomic_store_n(&rl->suppressed, rl->suppressed + 1, __ATOMIC_RELAXED);
		__atomic_store_n(&rl->suppressed_total, rl->suppressed_total + 1, __ATOMIC_RELAXED);
	}
	rl_unlock(rl);
	summarise(rl, container, ended);
	if (!ok)
		__atomic_add_fetch(&suppressed_total, 1, __ATOMIC_RELAXED);
	return ok;
}

void ic_log_ratelimit_flush(struct ic_log_ratelimit *rl, const char *container, bool force)
{
	uint64_t interval = __atomic_load_n(&rl_interval_ms, __ATOMIC_RELAXED) * 1000000ULL;
	uint64_t now, ended = 0;

	if (!__atomic_load_n(&rl->suppressed, __ATOMIC_RELAXED))
		return;
	now = mono_ns();
	rl_lock(rl);
	if (force || now - rl->begin_ns >= interval) {
		ended = rl->suppressed;
		__atomic_store_n(&rl->suppressed, 0, __ATOMIC_RELAXED);
		rl->printed = 0;
		rl->begin_ns = 0;
	}
	rl_unlock(rl);
	summarise(rl, container, ended);
}

int ic_log_internal(enum ic_log_level level, int err, const char *fmt, ...)
{
	const struct ic_log_context *ctx = log_ctx;
	char msg[1024] = "MESSAGE=";
	va_list ap;
	int saved = errno;

	if (ctx && ctx->rl && !rl_admit(ctx->rl, ctx->container))
		return -abs(err);
	if (err)
		errno = abs(err);
	va_start(ap, fmt);
	vsnprintf(msg + 8, sizeof(msg) - 8, fmt, ap);
	va_end(ap);
	emit(level, err, ctx, msg);
	errno = saved;
	return -abs(err);
}

int ic_errbuf(char *err, size_t len, int r, const char *fmt, ...)
{
	va_list ap;

	if (err && len) {
		va_start(ap, fmt);
		vsnprintf(err, len, fmt, ap);
		va_end(ap);
	}
	return -abs(r);
}
