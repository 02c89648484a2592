/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <urcu.h>

#include "common/log.h"
#include "common/macros.h"
#include "common/notify.h"
#include "common/oci.h"
#include "common/proc.h"
#include "common/sock.h"
#include "server/front-lxc.h"
#include "server/front-oci.h"
#include "server/holdings.h"
#include "server/journal.h"
#include "server/keeper.h"
#include "server/listener.h"
#include "server/registry.h"
#include "server/server.h"
#include "server/source.h"

/* The OCI seccomp agent front end: one thread, its own epoll set. */

#define OCI_CONN_MAX	    1024
#define OCI_CONN_TIMEOUT_MS 5000
#define OCI_PEER_MAX	    96
#define OCI_ACCEPT_PAUSE_NS (1000ULL * 1000000ULL)
#define OCI_STOP_GRACE_NS   (1000ULL * 1000000ULL)
/* Fds held on /dev/null and let go when we run out, to take one connection with its listener
 * and refuse it visibly, instead of leaving it in the backlog while its container hangs. */
#define OCI_RESERVE_FDS 4

struct oci_conn {
	int fd;
	char peer[OCI_PEER_MAX];
	char *buf;
	size_t len;
	int fds[IC_OCI_FDS_MAX];
	int n_fds;
	bool got_data;
	bool fds_lost; /* control data truncated: the kernel dropped what did not fit */
	uint64_t deadline_ns;
	struct oci_conn *next;
};

static struct {
	int sock;
	int lxc_sock; /* the LXC proxy socket: accepted here, served by the acceptors */
	int epfd;
	int evfd;
	pthread_t thread;
	bool started;
	struct oci_conn *conns;
	unsigned n_conns;
	uint64_t accept_paused_until; /* out of fds: accept again from then on */
	int reserve[OCI_RESERVE_FDS];
	struct oci_conn *short_of_fds; /* taken with the reserve: to be refused */
} oci = {.sock = -1, .lxc_sock = -1, .epfd = -1, .evfd = -1};

static void accepting(bool on);

/* Hold as much of the reserve as we can. */
static void reserve_take(void)
{
	for (int i = 0; i < OCI_RESERVE_FDS; i++)
		if (oci.reserve[i] < 0)
			oci.reserve[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* False when there was nothing to let go. */
static bool reserve_release(void)
{
	bool had = false;

	for (int i = 0; i < OCI_RESERVE_FDS; i++)
		if (oci.reserve[i] >= 0) {
			close(oci.reserve[i]);
			oci.reserve[i] = -1;
			had = true;
		}
	return had;
}

static void conn_close(struct oci_conn *c)
{
	struct oci_conn **pp;

	for (pp = &oci.conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	oci.n_conns--;
	epoll_ctl(oci.epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	for (int i = 0; i < c->n_fds; i++)
		if (c->fds[i] >= 0)
			close(c->fds[i]);
	free(c->buf);
	if (c == oci.short_of_fds) {
		/* Refused: the next one waiting gets the same, at once. */
		oci.short_of_fds = NULL;
		reserve_take();
		oci.accept_paused_until = 0;
		accepting(true);
	}
	free(c);
}

/* One line back before we close: "ok", "warning: ..." or "refused: ...". Runtimes never read
 * it; intercept-run does, to refuse to start a container we would not serve. Never blocks. */
static void reply(struct oci_conn *c, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > 0)
		(void)send(c->fd, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1,
			   MSG_DONTWAIT | MSG_NOSIGNAL);
}

static void refuse(struct oci_conn *c, const char *why)
{
	log_warn("oci: refused %s: %s", c->peer, why);
	reply(c, "refused: %s\n", why);
	conn_close(c);
}

/* Metadata items are "key=value", separated by newlines or commas; others are ignored. */
static bool metadata_next(char **cursor, char **key, char **value)
{
	for (;;) {
		char *item = strsep(cursor, ",\n"), *eq;

		if (!item)
			return false;
		eq = strchr(item, '=');
		if (!eq)
			continue;
		*eq = 0;
		*key = item + strspn(item, " \t");
		*value = eq + 1 + strspn(eq + 1, " \t");
		return true;
	}
}

/* The policy: "policy=NAME" in metadata, else the annotation, else "default"; policy keys in
 * metadata override it for this container (*own). */
static int choose_policy(const struct ic_conf *conf, const struct ic_oci_state *st, char *name,
			 struct ic_policy **own, char *err, size_t errlen)
{
	_cleanup_free_ char *md = strdup(st->metadata ? st->metadata : "");
	_cleanup_free_ char *md2 = strdup(st->metadata ? st->metadata : "");
	const struct ic_policy *base;
	char *cur, *k, *v, cerr[IC_CONF_ERR_MAX];

	if (!md || !md2)
		return -ENOMEM;
	snprintf(name, IC_POLICY_NAME_MAX, "%s",
		 st->policy_annotation && *st->policy_annotation ? st->policy_annotation
								 : "default");
	for (cur = md; metadata_next(&cur, &k, &v);)
		if (strcmp(k, "policy") == 0) {
			if (strlen(v) >= IC_POLICY_NAME_MAX) {
				snprintf(err, errlen, "policy name too long in metadata");
				return -EINVAL;
			}
			strcpy(name, v);
		}
	base = ic_conf_policy(conf, name);
	if (!base) {
		snprintf(err, errlen, "unknown policy '%s'", name);
		return -ENOENT;
	}
	for (cur = md2; metadata_next(&cur, &k, &v);) {
		if (!ic_policy_key_known(k) && strncmp(k, "security.syscalls.", 18) != 0)
			continue;
		if (!*own) {
			*own = calloc(1, sizeof(**own));
			if (!*own || ic_policy_copy(*own, base) < 0) {
				free(*own);
				*own = NULL;
				return -ENOMEM;
			}
		}
		if (ic_policy_set(*own, k, v, cerr) < 0) {
			snprintf(err, errlen, "metadata: %.400s", cerr);
			return -EINVAL;
		}
	}
	return 0;
}

/* The keeper holds a copy of the listener, with what registering it again takes: the few
 * fields of st we use, not the runtime's whole message. */
static int keep(const struct ic_oci_state *st, uint64_t key, int fd)
{
	_cleanup_free_ char *msg = ic_oci_format_state(st);

	return msg ? ic_keeper_hold(key, msg, strlen(msg), fd) : -ENOMEM;
}

static void policy_freep(struct ic_policy **p)
{
	if (*p) {
		ic_policy_done(*p);
		free(*p);
	}
}

/* Register listener fd for the container st describes and give it to an acceptor; fd is ours
 * whatever the outcome. key: the keeper's name for it; 0 for a new listener, which gets a key
 * and whose copy, with msg, goes to the keeper. A policy we do not know (a config edited, not
 * reloaded) does not refuse it: that would make every filtered call fail with ENOSYS. It is
 * served with the kernel's own answers until a reload brings the policy (doc/design.md §3):
 * then 1. *ret (when ret) gets a reference. */
static int adopt_listener(const struct ic_oci_state *st, int fd, uint64_t key, const char *peer,
			  char *err, size_t errlen, struct ic_source **ret)
{
	_cleanup_(policy_freep) struct ic_policy *own = NULL;
	char policy[IC_POLICY_NAME_MAX];
	struct ic_container *ct;
	struct ic_source *l;
	bool created, unknown;
	int r;

	rcu_read_lock();
	r = choose_policy(ic_server_conf(), st, policy, &own, err, errlen);
	rcu_read_unlock();
	unknown = r == -ENOENT;
	if (unknown) {
		log_warn("container %s: unknown policy '%s': the kernel answers its calls until a "
			 "reload brings the policy",
			 st->id, policy);
		r = 0;
	}
	if (r < 0) {
		if (r == -ENOMEM)
			snprintf(err, errlen, "out of memory");
		close(fd);
		return r;
	}
	r = ic_registry_get(st->id, st->init_pid, policy, own, &ct, &created);
	if (r < 0) {
		snprintf(err, errlen, "cannot register the container");
		close(fd);
		return r;
	}
	if (!created && (strcmp(ct->policy_name, policy) != 0 || own))
		log_warn("container %s: keeps policy '%s'%s; the new listener from %s asked for "
			 "'%s'%s",
			 st->id, ct->policy_name, ct->own_policy ? " + metadata" : "", peer, policy,
			 own ? " + metadata" : "");
	/* Answers wake the target on the answering CPU: no cross-CPU wake-up per call. */
	r = ic_notif_set_sync_wakeup(fd);
	if (r < 0 && r != -EINVAL && r != -ENOTTY)
		log_debug_errno(r, "oci: SYNC_WAKE_UP: %m");
	r = ic_listener_new(fd, ct, &l);
	if (r < 0) {
		ic_container_put(ct);
		close(fd);
		if (r == -EEXIST)
			snprintf(err, errlen,
				 "container %s: this seccomp listener is already served", st->id);
		else
			snprintf(err, errlen, "out of memory");
		return r;
	}
	l->key = key ? key : ic_journal_new_key();
	/* While the fd is still ours alone: once adopted, its container may hang up at once. */
	if (!key && keep(st, l->key, fd) < 0)
		log_error("container %s: the keeper holds no copy of its listener: a crash of the "
			  "server would lose it",
			  st->id);
	if (ret)
		ic_source_ref(l);
	if (ic_server_adopt(l) < 0) {
		ic_source_put(l);
		if (ret)
			ic_source_put(l);
		snprintf(err, errlen, "no acceptor thread is running");
		return -EAGAIN;
	}
	log_info("container %s: %s listener from %s (pid %d, init %d, status %s, policy %s%s)",
		 st->id, created ? "new" : "another", peer, (int)st->pid, (int)st->init_pid,
		 *st->status ? st->status : "?", policy, own ? " + metadata" : "");
	if (ret)
		*ret = l;
	return unknown;
}

static void oci_register(struct oci_conn *c, const struct ic_oci_state *st)
{
	char err[IC_CONF_ERR_MAX];
	int fd, r;

	if (c->fds_lost || c == oci.short_of_fds) {
		log_error("container %s: refused: the daemon is out of file descriptors; its "
			  "seccomp listener %s",
			  st->id, c->fds_lost ? "did not arrive" : "is closed");
		reply(c, "refused: out of file descriptors\n");
		return conn_close(c);
	}
	if (st->n_fds != c->n_fds)
		return refuse(c, st->n_fds > c->n_fds ? "fewer fds than named in \"fds\""
						      : "more fds than named in \"fds\"");
	fd = c->fds[st->seccomp_fd_index];
	if (ic_notif_check_fd(fd) < 0)
		return refuse(c, "\"seccompFd\" is not a seccomp listener");
	c->fds[st->seccomp_fd_index] = -1;
	r = adopt_listener(st, fd, 0, c->peer, err, sizeof(err), NULL);
	if (r < 0)
		return refuse(c, err);
	if (r == 1)
		reply(c, "warning: unknown policy: the kernel answers until a reload brings it\n");
	else
		reply(c, "ok\n");
	/* The runtime never waits for an answer; we are done with this connection. */
	conn_close(c);
}

/* A kept listener whose message is lost is still served, with the kernel's own answers (a
 * policy no configuration has), under a name made of its key: dropping it would leave its
 * calls waiting for nobody, as the keeper still holds it. */
static void readopt_lost(const struct ic_keeper_held *h, struct ic_source **ret)
{
	struct ic_oci_state st = {.policy_annotation = (char *)"(lost)"};
	char err[IC_CONF_ERR_MAX];

	snprintf(st.id, sizeof(st.id), "kept-%016" PRIx64, h->key);
	snprintf(st.status, sizeof(st.status), "unknown");
	if (adopt_listener(&st, h->fd, h->key, "the keeper", err, sizeof(err), ret) < 0)
		log_error("container %s: its kept listener cannot be served again: %s", st.id, err);
}

void ic_front_oci_readopt(int holdings, struct ic_keeper_held *const *held, size_t n,
			  struct ic_source **srcs)
{
	_cleanup_free_ char *msg = malloc(IC_HOLDINGS_MSG_MAX);

	for (size_t i = 0; i < n; i++) {
		const struct ic_keeper_held *h = held[i];
		char err[IC_CONF_ERR_MAX];
		struct ic_oci_state st;
		int r = msg ? ic_holdings_msg(holdings, h->off, msg, h->len) : -ENOMEM;

		srcs[i] = NULL;
		if (r < 0) {
			log_error_errno(r, "keeper: a kept listener's message cannot be read: %m");
			readopt_lost(h, &srcs[i]);
			continue;
		}
		if (h->len >= 1 && msg[0] == IC_LXC_HELD_MSG[0]) {
			(void)ic_lxc_readopt(h->fd, h->key, msg, h->len, &srcs[i]);
			continue;
		}
		r = ic_oci_parse(msg, h->len, &st, err, sizeof(err));
		if (r < 0) {
			log_error("keeper: a listener kept with a bad message: %s", err);
			readopt_lost(h, &srcs[i]);
			continue;
		}
		r = adopt_listener(&st, h->fd, h->key, "the keeper", err, sizeof(err), &srcs[i]);
		if (r < 0)
			log_error("container %s: its kept listener cannot be served again: %s",
				  st.id, err);
		ic_oci_state_done(&st);
	}
}

/* Returns true when the connection is finished (closed). */
static bool conn_try_parse(struct oci_conn *c, bool eof)
{
	struct ic_oci_state st;
	char err[160];
	int r;

	r = ic_oci_parse(c->buf, c->len, &st, err, sizeof(err));
	if (r == -EAGAIN) {
		if (!eof)
			return false;
		refuse(c,
		       c->len ? "truncated JSON (connection closed)" : "closed without a message");
		return true;
	}
	if (r < 0) {
		refuse(c, r == -ENOMEM ? "out of memory" : err);
		return true;
	}
	oci_register(c, &st);
	ic_oci_state_done(&st);
	return true;
}

static void conn_read(struct oci_conn *c)
{
	int room = IC_OCI_FDS_MAX - c->n_fds, got, mflags;
	ssize_t n;

	n = ic_sock_recv_fds(c->fd, c->buf + c->len, IC_OCI_MSG_MAX + 1 - c->len, c->fds + c->n_fds,
			     room, &got, MSG_DONTWAIT, &mflags);
	if (n == -EAGAIN || n == -EINTR)
		return;
	if (n < 0)
		return refuse(c, strerror((int)-n));
	/* Those kept are closed with the connection on refusal. */
	c->n_fds += IC_MIN(got, room);
	if (got && c->got_data)
		return refuse(c, "fds after the first message");
	if (got > room)
		return refuse(c, "too many fds");
	/* With room for them, only running out of fds truncates: say which container. */
	if (mflags & MSG_CTRUNC)
		c->fds_lost = true;
	if (n > 0)
		c->got_data = true;
	c->len += (size_t)n;
	if (c->len > IC_OCI_MSG_MAX)
		return refuse(c, "message larger than 64 KiB");
	if (conn_try_parse(c, n == 0))
		return;
}

static void accepting(bool on)
{
	struct epoll_event ev = {.events = on ? EPOLLIN : 0};

	ev.data.ptr = &oci.sock;
	epoll_ctl(oci.epfd, EPOLL_CTL_MOD, oci.sock, &ev);
	if (oci.lxc_sock >= 0) {
		ev.data.ptr = &oci.lxc_sock;
		epoll_ctl(oci.epfd, EPOLL_CTL_MOD, oci.lxc_sock, &ev);
	}
}

/* Out of fds or memory: the sockets stay readable, so stop watching them for a while rather
 * than spin. */
static void pause_accepting(int err)
{
	log_error_errno(err, "front end: accept: %s; pausing new connections for 1 s",
			strerror(err));
	accepting(false);
	oci.accept_paused_until = ic_now_ns() + OCI_ACCEPT_PAUSE_NS;
}

static void conn_accept(void)
{
	for (;;) {
		int fd = accept4(oci.sock, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		struct epoll_event ev = {.events = EPOLLIN};
		struct oci_conn *c;

		if (fd < 0 && (errno == EMFILE || errno == ENFILE) && !oci.short_of_fds &&
		    reserve_release()) {
			/* One connection, with room for its listener, to refuse; no other until
			 * it is done (conn_close). */
			fd = accept4(oci.sock, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
			if (fd >= 0) {
				log_error("front end: accept: out of file descriptors; pausing new "
					  "connections but one at a time, to refuse it");
				accepting(false);
			} else {
				reserve_take();
			}
		}
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				pause_accepting(errno);
			} else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
				log_warn_errno(errno, "oci: accept: %m");
			}
			return;
		}
		c = calloc(1, sizeof(*c));
		if (c)
			c->buf = malloc(IC_OCI_MSG_MAX + 1);
		if (!c || !c->buf || oci.n_conns >= OCI_CONN_MAX) {
			char peer[OCI_PEER_MAX];

			ic_proc_peer_name(fd, peer, sizeof(peer));
			log_warn("oci: refused %s: %s", peer,
				 c && c->buf ? "too many pending connections" : "out of memory");
			if (c)
				free(c->buf);
			free(c);
			close(fd);
			continue;
		}
		c->fd = fd;
		ic_proc_peer_name(fd, c->peer, sizeof(c->peer));
		c->deadline_ns = ic_now_ns() + OCI_CONN_TIMEOUT_MS * 1000000ULL;
		ev.data.ptr = c;
		if (epoll_ctl(oci.epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			log_warn_errno(errno, "oci: epoll: %m");
			free(c->buf);
			free(c);
			close(fd);
			continue;
		}
		c->next = oci.conns;
		oci.conns = c;
		oci.n_conns++;
		if (oci.reserve[0] < 0 && !oci.short_of_fds) {
			oci.short_of_fds = c;
			return;
		}
	}
}

static int next_timeout_ms(void)
{
	uint64_t now = ic_now_ns(), first = oci.accept_paused_until ?: UINT64_MAX;

	for (struct oci_conn *c = oci.conns; c; c = c->next)
		if (c->deadline_ns < first)
			first = c->deadline_ns;
	if (first == UINT64_MAX)
		return -1;
	return first <= now ? 0 : (int)((first - now) / 1000000ULL) + 1;
}

static void expire(void)
{
	uint64_t now = ic_now_ns();
	struct oci_conn *c = oci.conns, *next;

	if (oci.accept_paused_until && oci.accept_paused_until <= now) {
		oci.accept_paused_until = 0;
		reserve_take();
		if (!oci.short_of_fds)
			accepting(true);
	}

	for (; c; c = next) {
		next = c->next;
		if (c->deadline_ns <= now)
			refuse(c, c->len ? "incomplete message after 5 s" : "silent for 5 s");
	}
}

/* Stopping: no new connection (they wait in the backlog for the next server), but those
 * accepted are finished, or runc's start would fail on a connection the next server cannot
 * take half read. */
static uint64_t stop_accepting(void)
{
	uint64_t v;

	if (read(oci.evfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_warn_errno(errno, "oci: eventfd: %m");
	epoll_ctl(oci.epfd, EPOLL_CTL_DEL, oci.sock, NULL);
	if (oci.lxc_sock >= 0)
		epoll_ctl(oci.epfd, EPOLL_CTL_DEL, oci.lxc_sock, NULL);
	oci.accept_paused_until = 0;
	return ic_now_ns() + OCI_STOP_GRACE_NS;
}

static void *oci_main(void *arg)
{
	struct epoll_event evs[32];
	uint64_t stop_by = 0;

	rcu_register_thread();
	for (;;) {
		int timeout = next_timeout_ms(), n;

		if (stop_by) {
			uint64_t now = ic_now_ns();
			int left = stop_by > now ? (int)((stop_by - now) / 1000000ULL) + 1 : 0;

			timeout = timeout < 0 || timeout > left ? left : timeout;
		}
		n = epoll_wait(oci.epfd, evs, 32, timeout);
		if (n < 0 && errno != EINTR) {
			log_error_errno(errno, "oci: epoll_wait: %m");
			break;
		}
		for (int i = 0; i < n; i++) {
			if (evs[i].data.ptr == &oci.sock) {
				conn_accept();
			} else if (evs[i].data.ptr == &oci.lxc_sock) {
				int r = ic_lxc_accept(oci.lxc_sock);

				if (r < 0)
					pause_accepting(-r);
			} else if (evs[i].data.ptr == &oci.evfd) {
				if (!stop_by)
					stop_by = stop_accepting();
			} else {
				conn_read(evs[i].data.ptr);
			}
		}
		if (stop_by && (!oci.conns || ic_now_ns() >= stop_by))
			break;
		expire();
	}
	while (oci.conns)
		conn_close(oci.conns);
	rcu_unregister_thread();
	return NULL;
}

int ic_front_oci_start(int sock, int lxc_sock)
{
	struct epoll_event ev = {.events = EPOLLIN};
	int r;

	oci.sock = sock;
	oci.lxc_sock = lxc_sock;
	for (int i = 0; i < OCI_RESERVE_FDS; i++)
		oci.reserve[i] = -1;
	reserve_take();
	oci.epfd = epoll_create1(EPOLL_CLOEXEC);
	oci.evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (oci.epfd < 0 || oci.evfd < 0)
		return log_error_errno(errno, "oci: %m");
	ev.data.ptr = &oci.sock;
	if (epoll_ctl(oci.epfd, EPOLL_CTL_ADD, oci.sock, &ev) < 0)
		return log_error_errno(errno, "oci: %m");
	ev.data.ptr = &oci.evfd;
	if (epoll_ctl(oci.epfd, EPOLL_CTL_ADD, oci.evfd, &ev) < 0)
		return log_error_errno(errno, "oci: %m");
	if (oci.lxc_sock >= 0) {
		ev.data.ptr = &oci.lxc_sock;
		if (epoll_ctl(oci.epfd, EPOLL_CTL_ADD, oci.lxc_sock, &ev) < 0)
			return log_error_errno(errno, "lxc: %m");
	}
	r = pthread_create(&oci.thread, NULL, oci_main, NULL);
	if (r)
		return log_error_errno(r, "oci: cannot start thread: %s", strerror(r));
	oci.started = true;
	return 0;
}

void ic_front_oci_stop(void)
{
	uint64_t one = 1;

	if (oci.started) {
		if (write(oci.evfd, &one, sizeof(one)) < 0)
			log_warn_errno(errno, "oci: %m");
		pthread_join(oci.thread, NULL);
		oci.started = false;
	}
	if (oci.sock >= 0)
		close(oci.sock);
	if (oci.lxc_sock >= 0)
		close(oci.lxc_sock);
	if (oci.epfd >= 0)
		close(oci.epfd);
	if (oci.evfd >= 0)
		close(oci.evfd);
	reserve_release();
	oci.sock = oci.lxc_sock = oci.epfd = oci.evfd = -1;
}
