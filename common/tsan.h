/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_COMMON_TSAN_H
#define IC_COMMON_TSAN_H

/* ThreadSanitizer cannot see the order liburcu's hand-offs give (doc/design.md §9): the library
 * is not instrumented and its barriers are inline assembly. Every hand-off of an object through
 * liburcu (a queue, a stack, the container table, an RCU pointer) says so: IC_HANDOFF_PUBLISH(obj)
 * in the thread that passes obj on, before it does, and IC_HANDOFF_TAKE(obj) in the thread that
 * gets it, after. In a TSan build they are a release and an acquire on obj; otherwise nothing.
 * What is left inside liburcu itself is named in tools/tsan.supp. */

#if defined(__SANITIZE_THREAD__)
#define IC_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define IC_TSAN 1
#endif
#endif

/* RCU's own promise, for TSan: whatever a read section did happens before the end of any grace
 * period that begins after it. In a TSan build the end of every read section releases
 * ic_tsan_grace (common/tsan.c wraps liburcu's rcu_read_unlock, configure links it so), and
 * IC_RCU_GRACE_PASSED(), at the start of each call_rcu callback and after each synchronize_rcu,
 * acquires it. A call_rcu callback begins with IC_RCU_CALLBACK_BEGIN(head), which takes head
 * (published before call_rcu) and the grace period. */

#ifdef IC_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
extern char ic_tsan_grace;
#define IC_HANDOFF_PUBLISH(obj) __tsan_release((void *)(obj))
#define IC_HANDOFF_TAKE(obj)	__tsan_acquire((void *)(obj))
#define IC_RCU_GRACE_PASSED()	__tsan_acquire(&ic_tsan_grace)
#define IC_RCU_CALLBACK_BEGIN(head)                                                                \
	do {                                                                                       \
		__tsan_acquire(head);                                                              \
		__tsan_acquire(&ic_tsan_grace);                                                    \
	} while (0)
#else
#define IC_HANDOFF_PUBLISH(obj)	    ((void)(obj))
#define IC_HANDOFF_TAKE(obj)	    ((void)(obj))
#define IC_RCU_GRACE_PASSED()	    ((void)0)
#define IC_RCU_CALLBACK_BEGIN(head) ((void)(head))
#endif

#endif
