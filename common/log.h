/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_COMMON_LOG_H
#define IC_COMMON_LOG_H

#include <stddef.h>
#include <stdlib.h>

enum ic_log_level {
	IC_LOG_ERROR = 0,
	IC_LOG_WARN = 1,
	IC_LOG_INFO = 2,
	IC_LOG_DEBUG = 3,
	_IC_LOG_MAX
};

enum ic_log_target { IC_LOG_STDERR = 0, IC_LOG_SYSLOG = 1, _IC_LOG_TARGET_MAX };

/* Any thread; the level and target are read atomically, so a reload may change them. */
void ic_log_set_level(enum ic_log_level level);
void ic_log_set_target(enum ic_log_target target);
enum ic_log_level ic_log_get_level(void);
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
