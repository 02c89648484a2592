/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_SERVER_SERVER_H
#define IC_SERVER_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ic_conf;
struct ic_source;
struct ic_stats;

/* The server: its threads (acceptors and workers), the queues, the published configuration and
 * the topology, reload, adoption of new sources, the deadline sweep and the drain.
 * (doc/design.md §2) */

/* Main thread, once: start the threads conf asks for. The server owns conf from now on;
 * conf_path (kept, not copied) is what reload reads again, an error if missing when
 * must_exist. */
int ic_server_init(struct ic_conf *conf, const char *conf_path, bool must_exist);
/* Main thread: who started this server (for status). */
void ic_server_set_origin(pid_t keeper, unsigned generation);
/* Main thread, at start, after the listeners were taken again: answer what the previous
 * server had received (journal) and left unanswered. orphans: n of them; srcs: the n_srcs
 * sources taken again, to find each orphan's by its key. */
struct ic_journal_orphan;
void ic_server_recover(const struct ic_journal_orphan *orphans, size_t n,
		       struct ic_source *const *srcs, size_t n_srcs);
/* Main or control thread: load the configuration again and apply it; the running one stays
 * when the new one does not load. */
int ic_server_reload(char *err, size_t errlen);
/* Main thread, on SIGTERM: stop receiving, answer what is queued, stop the workers. */
void ic_server_drain(void);
/* Main thread, after the drain and after the front ends stopped. */
void ic_server_fini(void);
/* Front-end threads: hand a new source (and the caller's reference to it) to the least-loaded
 * acceptor. -EAGAIN when no acceptor runs: the caller still owns src. */
int ic_server_adopt(struct ic_source *src);
/* The current configuration snapshot; call under rcu_read_lock. */
struct ic_conf *ic_server_conf(void);
/* Main thread, every 100 ms: answer the requests past their deadline (failure answer). */
void ic_server_sweep(void);

/* Any thread: every thread's counters merged, and those a previous server handed over. */
void ic_server_stats(struct ic_stats *out);
/* Main thread, at start: the counters a previous server left continue here. */
void ic_server_continue_stats(const struct ic_stats *before);

struct ic_server_status {
	pid_t keeper;	     /* 0: none */
	unsigned generation; /* servers the keeper started before this one */
	uint64_t started_ns;
	uint64_t reloads;
	unsigned ncpu;
	unsigned acceptors;
	unsigned workers;
};

/* Any thread. */
void ic_server_status(struct ic_server_status *st);
/* Any thread: queue q's depth and how many pushes it refused; false past the last queue. */
bool ic_server_queue_info(unsigned q, uint64_t *depth, uint64_t *full);

#endif
