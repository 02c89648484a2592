/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "common/log.h"

static int log_level = IC_LOG_INFO;
static int log_target = IC_LOG_STDERR;

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

void ic_log_set_target(enum ic_log_target target)
{
	if (target == IC_LOG_SYSLOG)
		openlog("interceptd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	__atomic_store_n(&log_target, (int)target, __ATOMIC_RELAXED);
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

int ic_log_internal(enum ic_log_level level, int err, const char *fmt, ...)
{
	static const int syslog_prio[_IC_LOG_MAX] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
	char msg[1024];
	va_list ap;
	int saved = errno;

	if (err)
		errno = abs(err);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	if (__atomic_load_n(&log_target, __ATOMIC_RELAXED) == IC_LOG_SYSLOG) {
		syslog(syslog_prio[level], "%s", msg);
	} else {
		struct timespec ts;
		struct tm tm;
		char stamp[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		/* One fprintf per line: stdio locks the stream, so lines from threads never mix. */
		fprintf(stderr, "%s.%03ldZ %-5s %s\n", stamp, ts.tv_nsec / 1000000,
			level_names[level], msg);
	}
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
