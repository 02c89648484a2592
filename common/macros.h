/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_COMMON_MACROS_H
#define IC_COMMON_MACROS_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define ARRAY_SIZE(a)	     (sizeof(a) / sizeof((a)[0]))
#define LIKELY(x)	     __builtin_expect(!!(x), 1)
#define UNLIKELY(x)	     __builtin_expect(!!(x), 0)
#define IC_CACHELINE	     64
#define IC_ALIGNED_CACHELINE __attribute__((aligned(IC_CACHELINE)))
#define IC_MIN(a, b)	     ((a) < (b) ? (a) : (b))
#define IC_MAX(a, b)	     ((a) > (b) ? (a) : (b))

#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void ic_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

static inline void ic_freep(void *p)
{
	free(*(void **)p);
}

static inline void ic_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

#define _cleanup_close_	 _cleanup_(ic_closep)
#define _cleanup_free_	 _cleanup_(ic_freep)
#define _cleanup_fclose_ _cleanup_(ic_fclosep)

/* Hand ownership over: the cleanup attribute of the source then does nothing. */
#define TAKE_FD(fd)                                                                                \
	({                                                                                         \
		int _fd_ = (fd);                                                                   \
		(fd) = -EBADF;                                                                     \
		_fd_;                                                                              \
	})
#define TAKE_PTR(p)                                                                                \
	({                                                                                         \
		__typeof__(p) _p_ = (p);                                                           \
		(p) = NULL;                                                                        \
		_p_;                                                                               \
	})

/* cds_lfs_for_each_safe for what liburcu's __cds_lfs_pop_all returned, NULL (empty) included:
 * liburcu's macro takes the address of a member of the NULL head. */
#define IC_LFS_FOR_EACH_SAFE(head, node, next)                                                     \
	for ((node) = (head) ? &(head)->node : NULL; (node) && ((next) = (node)->next, 1);         \
	     (node) = (next))

/* Plain per-thread counters: the owner writes, any thread may read a torn-free value. */
#define IC_COUNTER_ADD(c, n)                                                                       \
	__atomic_store_n(&(c), __atomic_load_n(&(c), __ATOMIC_RELAXED) + (n), __ATOMIC_RELAXED)
#define IC_COUNTER_READ(c) __atomic_load_n(&(c), __ATOMIC_RELAXED)

#endif
