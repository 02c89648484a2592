/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_SERVER_KEEPER_H
#define IC_SERVER_KEEPER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ic_conf;

/* The keeper (doc/design.md §13): the small process interceptd starts as. It holds the three
 * listening sockets, the journal and a copy of every container's listener, and runs the
 * server as its child; when the server dies, it starts another, which takes every listener
 * again, so that no container's listener ever closes with the server. */

/* A listener the keeper holds; the message to register it with is in the holdings file, len
 * bytes at off (server/holdings.h). */
struct ic_keeper_held {
	uint64_t key;
	uint64_t off;
	uint32_t len;
	int fd;
};

/* What a server process gets from its keeper. */
struct ic_serve_ctx {
	int oci_sock, lxc_sock, ctl_sock; /* listening */
	int journal_fd;
	int holdings_fd;     /* the messages of held[] */
	unsigned generation; /* 0 for the first server, n after n restarts */
	pid_t keeper;
	struct ic_keeper_held **held; /* to take again; the server's copy of the keeper's list */
	size_t n_held;
};

/* Main thread of interceptd, before any thread: take the instance lock, make the sockets and
 * the journal (or take them over from the binary that executed us on an upgrade), and start
 * the server. SIGUSR2 upgrades: the server drains and exits, and the keeper executes the binary
 * now at its own path (argv: its arguments) with everything it holds. Returns 1 in each
 * server process (serve with ctx), 0 in the keeper when it is done (exit with *exit_code), or
 * -errno when it could not start. */
int ic_keeper_run(const struct ic_conf *conf, char *const *argv, struct ic_serve_ctx *ctx,
		  int *exit_code);

/* Server, front-end thread: the keeper holds a copy of fd from now on, under key, and gives it
 * to the next server with msg. Best effort: without a keeper it does nothing. */
int ic_keeper_hold(uint64_t key, const char *msg, size_t len, int fd);
/* Server, any thread: the message the keeper gives the next server with the listener it holds
 * under key is msg from now on (an LXC connection's container, known from its first call). */
int ic_keeper_note(uint64_t key, const char *msg, size_t len);
/* Server, main thread, once it serves: the keeper restarts it from now on when it dies. */
void ic_keeper_ready(void);

#endif
