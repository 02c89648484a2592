/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_COMMON_LOG_H
#define IC_COMMON_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

enum ic_log_level {
	IC_LOG_ERROR = 0,
	IC_LOG_WARN = 1,
	IC_LOG_INFO = 2,
	IC_LOG_DEBUG = 3,
	_IC_LOG_MAX
};

enum ic_log_target {
	IC_LOG_STDERR = 0, /* "<N>" priority prefixes instead of a timestamp when JOURNAL_STREAM
			    * says journald reads our stderr */
	IC_LOG_SYSLOG = 1,
	IC_LOG_JOURNAL = 2, /* sd_journal_send, with the context's fields */
	_IC_LOG_TARGET_MAX
};

/* One container's budget of log lines (doc/design.md §14): at most burst lines per interval;
 * the rest are counted, and one line says how many once the interval is over. Zeroed memory is
 * a valid, fresh budget. Any thread: a spin lock held for a few instructions, never while a line
 * is written. */
struct ic_log_ratelimit {
	int lock;
	unsigned printed;	   /* lines in this interval */
	uint64_t begin_ns;	   /* CLOCK_MONOTONIC start of this interval */
	uint64_t suppressed;	   /* atomic reads: in this interval, not yet summarised */
	uint64_t suppressed_total; /* atomic reads: since the budget was zeroed */
};

/* What the calling thread's lines are about: journal fields, and the budget they count against
 * (NULL: not limited). Set around a handler by ic_handle. */
struct ic_log_context {
	const char *container;
	const char *syscall; /* NULL: none */
	int pid;	     /* the calling task's, 0: none */
	struct ic_log_ratelimit *rl;
};

/* Any thread; the level and target are read atomically, so a reload may change them. */
void ic_log_set_level(enum ic_log_level level);
void ic_log_set_target(enum ic_log_target target);
enum ic_log_level ic_log_get_level(void);
/* burst 0: no limit. Any thread, like the level. */
void ic_log_set_ratelimit(unsigned burst, unsigned interval_ms);
/* The calling thread's context for its next lines; NULL clears. ctx must outlive its use. */
void ic_log_set_context(const struct ic_log_context *ctx);
/* Called before a line goes to the journal or syslog, whose sockets are reached by name: a
 * thread that stands in another root must step back into ours first (ic_fsctx_host_paths);
 * when it cannot (false), the line goes to stderr instead. Set once, before threads log. */
void ic_log_set_path_guard(bool (*guard)(void));
/* Writes the summary line of what rl suppressed once its interval is over, or at once when
 * force (the container is going away). Any thread; cheap when nothing was suppressed. */
void ic_log_ratelimit_flush(struct ic_log_ratelimit *rl, const char *container, bool force);
/* Lines suppressed by every budget since start. Any thread. */
uint64_t ic_log_suppressed_total(void);
const char *ic_log_level_name(enum ic_log_level level);
int ic_log_level_from_string(const char *s);

/* Returns -abs(err) so a caller can log and return in one statement; err may be 0. "%m" in fmt
 * prints err (errno when err is 0); errno is left as the caller had it. */
int ic_log_internal(enum ic_log_level level, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* For functions that report to their caller rather than log: fmt into err (NUL-terminated, at
 * most len bytes), nothing when err is NULL or len 0. Returns -abs(r), as log_*_errno does. */
int ic_errbuf(char *err, size_t len, int r, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define IC_LOG_ENABLED(level) ((level) <= ic_log_get_level())
#define ic_log_full_errno(level, err, ...)                                                         \
	({                                                                                         \
		int _e_ = (err);                                                                   \
		IC_LOG_ENABLED(level) ? ic_log_internal(level, _e_, __VA_ARGS__) : -abs(_e_);      \
	})
#define log_error_errno(err, ...) ic_log_full_errno(IC_LOG_ERROR, err, __VA_ARGS__)
#define log_warn_errno(err, ...)  ic_log_full_errno(IC_LOG_WARN, err, __VA_ARGS__)
#define log_info_errno(err, ...)  ic_log_full_errno(IC_LOG_INFO, err, __VA_ARGS__)
#define log_debug_errno(err, ...) ic_log_full_errno(IC_LOG_DEBUG, err, __VA_ARGS__)
#define log_error(...)		  ((void)ic_log_full_errno(IC_LOG_ERROR, 0, __VA_ARGS__))
#define log_warn(...)		  ((void)ic_log_full_errno(IC_LOG_WARN, 0, __VA_ARGS__))
#define log_info(...)		  ((void)ic_log_full_errno(IC_LOG_INFO, 0, __VA_ARGS__))
#define log_debug(...)		  ((void)ic_log_full_errno(IC_LOG_DEBUG, 0, __VA_ARGS__))

#endif
