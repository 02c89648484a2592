/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#if HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "common/conf.h"
#include "common/log.h"
#include "common/macros.h"
#include "common/oci.h"
#include "common/parse.h"
#include "common/proc.h"
#include "common/sock.h"
#include "server/holdings.h"
#include "server/journal.h"
#include "server/keeper.h"

/* A server that dies within YOUNG_NS of its start is restarted after a pause growing from
 * RESTART_MIN_MS, so that one that cannot run does not spin; any other at once. The pause stays
 * well under a request's deadline: calls wait for the next server in their listener. */
#define RESTART_MIN_MS 50
#define RESTART_MAX_MS 1000
#define YOUNG_NS       (200ULL * 1000000ULL)
#define LINK_MSG_MAX   (IC_OCI_MSG_MAX + 9)
#define HOLD_TAG       'H'
#define NOTE_TAG       'N'
#define READY_TAG      'R'
/* The holdings file is written anew without its dead records once they take this much and
 * more than the live ones. */
#define HOLDINGS_SLACK (64 * 1024)

/* Tell the service manager (systemd's Type=notify; a no-op without NOTIFY_SOCKET). */
static void notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void notify(const char *fmt, ...)
{
#if HAVE_LIBSYSTEMD
	char state[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(state, sizeof(state), fmt, ap);
	va_end(ap);
	(void)sd_notify(0, state);
#else
	(void)fmt;
#endif
}

/* The server's end of its link to the keeper; -1 without a keeper. */
static int link_fd = -1;

struct keeper {
	const struct ic_conf *conf;
	int lock, oci, lxc, ctl, journal;
	int holdings; /* server/holdings.h */
	uint64_t holdings_seq, holdings_end, holdings_dead;
	bool fdstore; /* systemd keeps a copy of what we hold (FDSTORE=1) */
	int epfd, sfd;
	int link; /* the keeper's end, to the current server */
	pid_t server, self;
	bool ready, stopping, upgrading;
	bool upgrade_asked; /* SIGUSR2 came while no server was ready to drain */
	char *const *argv;  /* to execute again on an upgrade */
	char exe[PATH_MAX];
	unsigned generation;
	uint64_t started_ns, restart_at_ns;
	unsigned backoff_ms;
	struct ic_keeper_held **held;
	size_t n_held, cap_held;
};

/* systemd's file descriptor store (doc/design.md §13): a copy of fd under name, kept across
 * a restart and a crash of the whole service. Without systemd, or when it takes none
 * (FileDescriptorStoreMax=0), the keeper alone holds it. */
static void fdstore_put(const struct keeper *k, int fd, const char *name)
{
#if HAVE_LIBSYSTEMD
	char state[64];
	int r;

	if (!k->fdstore)
		return;
	snprintf(state, sizeof(state), "FDSTORE=1\nFDNAME=%s", name);
	r = sd_pid_notify_with_fds(0, 0, state, &fd, 1);
	if (r < 0)
		log_warn_errno(r, "keeper: systemd's fd store did not take %s: %m", name);
#else
	(void)k, (void)fd, (void)name;
#endif
}

static void fdstore_remove(const struct keeper *k, const char *name)
{
	if (k->fdstore)
		notify("FDSTOREREMOVE=1\nFDNAME=%s", name);
}

/* A held listener's name in the fd store. */
#define LISTENER_FDNAME_FMT "l%016" PRIx64
#define HOLDINGS_FDNAME_FMT "holdings-%" PRIu64

static const char *listener_fdname(uint64_t key, char buf[static 24])
{
	snprintf(buf, 24, LISTENER_FDNAME_FMT, key);
	return buf;
}

/* The number (in base) that follows prefix in a name, and nothing after it. */
static bool fdname_number(const char *name, const char *prefix, int base, uint64_t *v)
{
	size_t n = strlen(prefix);
	char *end;

	if (strncmp(name, prefix, n) != 0 || !name[n] || name[n] == '-' || name[n] == '+')
		return false;
	errno = 0;
	*v = strtoull(name + n, &end, base);
	return !*end && !errno;
}

/* Parent directories of the sockets. */
static int make_parent(const char *path)
{
	char dir[PATH_MAX];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = 0;
	for (char *p = dir + 1; *p; p++)
		if (*p == '/') {
			*p = 0;
			if (mkdir(dir, 0755) < 0 && errno != EEXIST)
				return -errno;
			*p = '/';
		}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* One interceptd per set of sockets: binding would take the running one's sockets away. */
static int take_lock(const char *ctl_path)
{
	char path[PATH_MAX], pid[32] = "";
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s.lock", ctl_path);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return log_error_errno(errno, "cannot open the lock %s: %m", path);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int err = errno;

		n = pread(fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = 0;
		pid[strcspn(pid, "\n")] = 0;
		close(fd);
		if (err == EWOULDBLOCK)
			return log_error_errno(
			    EBUSY,
			    "interceptd (pid %s) already serves %s; stop it first, or hand its "
			    "containers over to this binary with --takeover",
			    *pid ? pid : "?", ctl_path);
		return log_error_errno(err, "cannot lock %s: %m", path);
	}
	n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) != n)
		log_warn_errno(errno, "cannot write the pid into %s: %m", path);
	return fd;
}

static int listen_on(const char *path, int type, const char *what)
{
	int r = make_parent(path);

	if (r < 0)
		return log_error_errno(r, "%s: cannot create the directory of %s: %m", what, path);
	/* Runtimes and LXC monitors hand us root-equivalent fds: only root may connect. */
	r = ic_sock_listen(path, type, 0600);
	if (r < 0)
		return log_error_errno(r, "%s: cannot listen on %s: %m", what, path);
	log_info("%s: listening on %s", what, path);
	return r;
}

/* Watch a listener the holdings file has a record of (at off). */
static int held_track(struct keeper *k, uint64_t key, int fd, uint64_t off, uint32_t len)
{
	struct ic_keeper_held *h = calloc(1, sizeof(*h));
	struct epoll_event ev = {.events = 0, .data.ptr = h};

	if (h && k->n_held == k->cap_held) {
		size_t cap = k->cap_held ? 2 * k->cap_held : 64;
		struct ic_keeper_held **bigger = realloc(k->held, cap * sizeof(*bigger));

		if (bigger) {
			k->held = bigger;
			k->cap_held = cap;
		}
	}
	if (!h || k->n_held == k->cap_held) {
		free(h);
		return -ENOMEM;
	}
	*h = (struct ic_keeper_held){.key = key, .off = off, .len = len, .fd = fd};
	/* No EPOLLIN: only the hang-up of its last task, which is always reported. */
	if (epoll_ctl(k->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int r = -errno;

		free(h);
		return r;
	}
	k->held[k->n_held++] = h;
	return 0;
}

static void held_add(struct keeper *k, uint64_t key, int fd, const char *msg, size_t len)
{
	char name[24];
	uint64_t off;
	int r = ic_holdings_add(k->holdings, &k->holdings_end, key, fd, msg, (uint32_t)len, &off);

	if (r == 0) {
		r = held_track(k, key, fd, off, (uint32_t)len);
		if (r < 0) {
			(void)ic_holdings_set(k->holdings, off, false, -1);
			k->holdings_dead += ic_holdings_size((uint32_t)len);
		}
	}
	if (r < 0) {
		log_error_errno(r, "keeper: a listener is not kept: %m");
		close(fd);
		return;
	}
	/* After its record: a listener in the store always has one. */
	fdstore_put(k, fd, listener_fdname(key, name));
}

/* A held listener's message is now msg: a new record, the old one dead. */
static void held_note(struct keeper *k, uint64_t key, const char *msg, size_t len)
{
	struct ic_keeper_held *h = NULL;
	uint64_t off;
	int r;

	for (size_t i = 0; i < k->n_held && !h; i++)
		if (k->held[i]->key == key)
			h = k->held[i];
	if (!h)
		return; /* gone meanwhile */
	r = ic_holdings_add(k->holdings, &k->holdings_end, key, h->fd, msg, (uint32_t)len, &off);
	if (r < 0) {
		log_warn_errno(r, "keeper: a listener's message is not updated: %m");
		return;
	}
	(void)ic_holdings_set(k->holdings, h->off, false, -1);
	k->holdings_dead += ic_holdings_size(h->len);
	h->off = off;
	h->len = (uint32_t)len;
}

/* Write the holdings file anew with only the live records. */
static void holdings_compact(struct keeper *k)
{
	uint64_t seq = k->holdings_seq + 1, end, *offs = NULL;
	_cleanup_free_ char *buf = malloc(IC_HOLDINGS_MSG_MAX);
	char name[32];
	int fd = ic_holdings_create(seq), r = fd < 0 ? fd : 0;

	if (r == 0 && (!buf || !(offs = calloc(k->n_held + 1, sizeof(*offs)))))
		r = -ENOMEM;
	if (r == 0)
		r = ic_holdings_open(fd, &seq, &end);
	for (size_t i = 0; r == 0 && i < k->n_held; i++) {
		const struct ic_keeper_held *h = k->held[i];

		r = ic_holdings_msg(k->holdings, h->off, buf, h->len);
		if (r == 0)
			r = ic_holdings_add(fd, &end, h->key, h->fd, buf, h->len, &offs[i]);
	}
	if (r < 0) {
		log_warn_errno(r, "keeper: cannot compact the holdings: %m");
		if (fd >= 0)
			close(fd);
		free(offs);
		return;
	}
	for (size_t i = 0; i < k->n_held; i++)
		k->held[i]->off = offs[i];
	free(offs);
	/* Stored before the old one goes: a crash in between leaves two, and the newer wins. */
	snprintf(name, sizeof(name), HOLDINGS_FDNAME_FMT, seq % 2);
	fdstore_put(k, fd, name);
	snprintf(name, sizeof(name), HOLDINGS_FDNAME_FMT, (seq - 1) % 2);
	fdstore_remove(k, name);
	close(k->holdings);
	k->holdings = fd;
	k->holdings_seq = seq;
	k->holdings_end = end;
	k->holdings_dead = 0;
	log_info("keeper: holdings written anew: %zu listeners, %" PRIu64 " bytes", k->n_held, end);
}

static void held_drop(struct keeper *k, struct ic_keeper_held *h)
{
	char name[24];

	for (size_t i = 0; i < k->n_held; i++)
		if (k->held[i] == h) {
			k->held[i] = k->held[--k->n_held];
			break;
		}
	epoll_ctl(k->epfd, EPOLL_CTL_DEL, h->fd, NULL);
	fdstore_remove(k, listener_fdname(h->key, name));
	(void)ic_holdings_set(k->holdings, h->off, false, -1);
	k->holdings_dead += ic_holdings_size(h->len);
	close(h->fd);
	free(h);
	if (k->holdings_dead > HOLDINGS_SLACK &&
	    k->holdings_dead > k->holdings_end - k->holdings_dead)
		holdings_compact(k);
}

static void link_close(struct keeper *k)
{
	if (k->link < 0)
		return;
	epoll_ctl(k->epfd, EPOLL_CTL_DEL, k->link, NULL);
	close(k->link);
	k->link = -1;
}

static bool on_link(struct keeper *k);

/* Fork the next server. 1 in the server, 0 in the keeper, -errno. */
static int spawn(struct keeper *k, struct ic_serve_ctx *ctx)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &k->link};
	int sv[2];
	pid_t pid;

	/* What the dead server sent before it died is still in its link: every listener it
	 * handed over must be on the list the next one takes. */
	while (k->link >= 0 && on_link(k))
		;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return log_error_errno(errno, "keeper: socketpair: %m");
	pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return log_error_errno(errno, "keeper: cannot start the server: %m");
	}
	if (pid == 0) {
		sigset_t chld;

		close(sv[0]);
		close(k->epfd);
		close(k->sfd);
		if (k->link >= 0)
			close(k->link);
		link_fd = sv[1];
		/* Under systemd, a server whose keeper died drains and exits: systemd then starts
		 * the service again with all its fd store kept. */
		if (k->fdstore && prctl(PR_SET_PDEATHSIG, SIGTERM) == 0 && getppid() != k->self)
			raise(SIGTERM);
		sigemptyset(&chld);
		sigaddset(&chld, SIGCHLD);
		pthread_sigmask(SIG_UNBLOCK, &chld, NULL);
		*ctx = (struct ic_serve_ctx){
		    .oci_sock = k->oci,
		    .lxc_sock = k->lxc,
		    .ctl_sock = k->ctl,
		    .journal_fd = k->journal,
		    .holdings_fd = k->holdings,
		    .generation = k->generation,
		    .keeper = getppid(),
		    .held = k->held,
		    .n_held = k->n_held,
		};
		return 1;
	}
	close(sv[1]);
	link_close(k);
	k->link = sv[0];
	if (epoll_ctl(k->epfd, EPOLL_CTL_ADD, k->link, &ev) < 0)
		log_error_errno(errno, "keeper: cannot watch the server: %m");
	k->server = pid;
	k->ready = false;
	k->started_ns = ic_now_ns();
	k->restart_at_ns = 0;
	k->generation++;
	return 0;
}

/* An upgrade hands everything to the binary now installed where ours was, in the same process
 * (its pid stays, for systemd and for the runtimes' logs): the keeper executes it with every
 * fd it holds left open and their list in a memfd named by HANDOVER_ENV. */
#define HANDOVER_ENV   "INTERCEPTD_HANDOVER_FD"
#define HANDOVER_MAGIC 0x69636b7032ULL /* "ickp2" */

/* The listeners themselves are in the holdings file, each record with its fd number. */
struct handover_head {
	uint64_t magic;
	int32_t lock, oci, lxc, ctl, journal, holdings;
	uint32_t generation;
	uint8_t fdstore;
	uint8_t pad[7];
};

static int set_cloexec(int fd, bool on)
{
	return fd < 0 ? 0 : fcntl(fd, F_SETFD, on ? FD_CLOEXEC : 0);
}

/* Everything the next binary takes over stays open across execv (on false), or is
 * close-on-exec again (on true): a FUSE helper the server runs must never get any of it. */
static int pass_on(struct keeper *k, bool on)
{
	const int mine[] = {k->lock, k->oci, k->lxc, k->ctl, k->journal, k->holdings};
	int r = 0;

	for (size_t i = 0; i < ARRAY_SIZE(mine); i++)
		if (set_cloexec(mine[i], !on) < 0)
			r = -errno;
	for (size_t i = 0; i < k->n_held; i++)
		if (set_cloexec(k->held[i]->fd, !on) < 0)
			r = -errno;
	return r;
}

static int write_all(int fd, const void *p, size_t len)
{
	return write(fd, p, len) == (ssize_t)len ? 0 : -EIO;
}

/* `interceptd --takeover` leaves its own path here for us to execute instead of ours. Only a
 * root-owned file nobody else may write names a binary we run as root. */
static void takeover_path(struct keeper *k)
{
	char path[PATH_MAX], exe[PATH_MAX];
	struct stat st;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s.takeover", k->conf->server.control_socket);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, exe, sizeof(exe) - 1);
	if (fstat(fd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 022) || n <= 0) {
		log_warn("keeper: %s is not ours; ignored", path);
	} else {
		exe[n] = 0;
		if (exe[0] == '/' && stat(exe, &st) == 0 && S_ISREG(st.st_mode) &&
		    st.st_uid == geteuid() && !(st.st_mode & 022))
			snprintf(k->exe, sizeof(k->exe), "%s", exe);
		else
			log_warn("keeper: takeover by %s refused: not a binary only we may change",
				 exe);
	}
	close(fd);
	unlink(path);
}

/* Returns only when it failed; the caller then goes on with a new server of ours. */
static void exec_next(struct keeper *k)
{
	struct handover_head h = {.magic = HANDOVER_MAGIC,
				  .lock = k->lock,
				  .oci = k->oci,
				  .lxc = k->lxc,
				  .ctl = k->ctl,
				  .journal = k->journal,
				  .holdings = k->holdings,
				  .generation = k->generation,
				  .fdstore = k->fdstore};
	_cleanup_close_ int fd = memfd_create("interceptd-handover", 0);
	char env[32];
	int r = fd < 0 ? -errno : write_all(fd, &h, sizeof(h));

	if (r == 0 && lseek(fd, 0, SEEK_SET) < 0)
		r = -errno;
	if (r == 0)
		r = pass_on(k, true);
	if (r < 0) {
		(void)pass_on(k, false);
		log_error_errno(r, "keeper: cannot hand over: %m; the running binary goes on");
		return;
	}
	takeover_path(k);
	snprintf(env, sizeof(env), "%d", fd);
	setenv(HANDOVER_ENV, env, 1);
	log_info("keeper: handing %zu listeners over to %s", k->n_held, k->exe);
	/* The signals stay blocked: one sent meanwhile waits for the new keeper's signalfd. */
	execv(k->exe, k->argv);
	log_error_errno(errno, "keeper: cannot execute %s: %m; the running binary goes on", k->exe);
	unsetenv(HANDOVER_ENV);
	(void)pass_on(k, false);
}

/* Of the holdings file, what no listener held now takes. */
static void holdings_recount(struct keeper *k)
{
	k->holdings_dead = k->holdings_end - IC_HOLDINGS_START;
	for (size_t i = 0; i < k->n_held; i++)
		k->holdings_dead -= ic_holdings_size(k->held[i]->len);
}

static int track_record(uint64_t off, const struct ic_holding *h, void *data)
{
	struct keeper *k = data;
	int r = held_track(k, h->key, h->fd, off, h->len);

	if (r < 0)
		log_error_errno(r, "keeper: listener %d is not kept: %m", h->fd);
	return 0;
}

/* The holdings file (fd) as it is: the listeners its records name are ours already. */
static int take_holdings(struct keeper *k, int fd)
{
	int r = ic_holdings_open(fd, &k->holdings_seq, &k->holdings_end);

	if (r < 0)
		return r;
	k->holdings = fd;
	r = ic_holdings_walk(fd, k->holdings_end, track_record, k);
	holdings_recount(k);
	return r;
}

/* What the previous binary handed over, instead of making it all anew. */
static int take_handover(struct keeper *k, const char *env)
{
	struct handover_head h;
	_cleanup_close_ int fd = -EBADF;
	uint64_t n;
	int r;

	r = ic_parse_u64(env, 3, INT32_MAX, &n);
	unsetenv(HANDOVER_ENV);
	if (r == 0)
		fd = (int)n;
	if (r < 0 || read(fd, &h, sizeof(h)) != sizeof(h) || h.magic != HANDOVER_MAGIC)
		return log_error_errno(EPROTO, "keeper: the hand-over (%s) is not one of ours",
				       env);
	k->lock = h.lock;
	k->oci = h.oci;
	k->lxc = h.lxc;
	k->ctl = h.ctl;
	k->journal = h.journal;
	k->generation = h.generation;
	k->fdstore = h.fdstore;
	r = take_holdings(k, h.holdings);
	if (r < 0)
		return log_error_errno(r, "keeper: the hand-over's holdings are unreadable: %m");
	(void)pass_on(k, false);
	log_info("keeper: took over %zu listeners, the sockets and the journal (generation %u)",
		 k->n_held, k->generation);
	return 0;
}

/* The server answers what it holds and exits; then the new binary takes over. Waits for a
 * server that serves: one still starting has taken the listeners but may not drain yet. */
static void upgrade(struct keeper *k)
{
	if (!k->upgrade_asked || !k->server || !k->ready || k->upgrading || k->stopping)
		return;
	k->upgrade_asked = false;
	k->upgrading = true;
	log_info("keeper: upgrade: server %d drains", (int)k->server);
	notify("RELOADING=1\nSTATUS=handing over to the binary now installed");
	kill(k->server, SIGTERM);
}

/* One message from the server. Returns false when there was none to read. */
static bool on_link(struct keeper *k)
{
	char *buf = malloc(LINK_MSG_MAX);
	int fd = -1, n_fds, mflags;
	ssize_t n;

	if (!buf)
		return false;
	n = ic_sock_recv_fds(k->link, buf, LINK_MSG_MAX, &fd, 1, &n_fds, MSG_DONTWAIT, &mflags);
	if (n == -EAGAIN || n == -EINTR) {
		free(buf);
		return false;
	}
	if (n <= 0) {
		/* The server is gone; SIGCHLD tells how. */
		link_close(k);
	} else if (n == 1 && buf[0] == READY_TAG && n_fds == 0) {
		k->ready = true;
		log_info("keeper: server %d (generation %u) serves", (int)k->server,
			 k->generation - 1);
		notify("READY=1\nMAINPID=%d\nSTATUS=serving %zu containers' listeners (server %d, "
		       "generation %u)",
		       (int)getpid(), k->n_held, (int)k->server, k->generation - 1);
		upgrade(k);
	} else if (n >= 9 && buf[0] == HOLD_TAG && n_fds == 1 && !(mflags & MSG_TRUNC)) {
		uint64_t key;

		memcpy(&key, buf + 1, sizeof(key));
		held_add(k, key, fd, buf + 9, (size_t)n - 9);
		fd = -1;
	} else if (n >= 9 && buf[0] == NOTE_TAG && n_fds == 0 && !(mflags & MSG_TRUNC)) {
		uint64_t key;

		memcpy(&key, buf + 1, sizeof(key));
		held_note(k, key, buf + 9, (size_t)n - 9);
	} else {
		log_warn("keeper: a malformed message from the server (%zd bytes, %d fds)", n,
			 n_fds);
	}
	if (fd >= 0)
		close(fd);
	free(buf);
	return n > 0;
}

static const char *describe(int status, char *buf, size_t len)
{
	if (WIFSIGNALED(status))
		snprintf(buf, len, "was killed by signal %d", WTERMSIG(status));
	else
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
	return buf;
}

/* SIGCHLD. Returns 1 when the keeper is done (*exit_code set). */
static int on_child(struct keeper *k, int *exit_code)
{
	char why[64];
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		uint64_t now = ic_now_ns();

		if (pid != k->server)
			continue;
		k->server = 0;
		if (k->upgrading && !k->stopping) {
			k->upgrading = false;
			exec_next(k);
			/* Not handed over: go on with a server of ours. */
			k->restart_at_ns = now;
			continue;
		}
		if (k->stopping) {
			*exit_code =
			    WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
			return 1;
		}
		if (!k->ready) {
			log_error("keeper: the server %s before it served; giving up",
				  describe(status, why, sizeof(why)));
			*exit_code = 1;
			return 1;
		}
		/* Back off only while it keeps dying young. */
		k->backoff_ms =
		    now - k->started_ns < YOUNG_NS
			? IC_MIN(IC_MAX(k->backoff_ms * 2, RESTART_MIN_MS), RESTART_MAX_MS)
			: 0;
		k->restart_at_ns = now + (uint64_t)k->backoff_ms * 1000000ULL;
		log_error("keeper: server %d %s; starting another in %u ms, with the %zu listeners "
			  "it held",
			  (int)pid, describe(status, why, sizeof(why)), k->backoff_ms, k->n_held);
	}
	return 0;
}

/* Signals. Returns 1 when the keeper is done. */
static int on_signal(struct keeper *k, int *exit_code)
{
	struct signalfd_siginfo si;

	if (read(k->sfd, &si, sizeof(si)) != sizeof(si))
		return 0;
	switch (si.ssi_signo) {
	case SIGCHLD:
		return on_child(k, exit_code);
	case SIGHUP:
		if (k->server)
			kill(k->server, SIGHUP);
		return 0;
	case SIGUSR2:
		k->upgrade_asked = true;
		upgrade(k);
		return 0;
	default:
		/* SIGTERM, SIGINT: the server drains and exits, and so do we. */
		k->stopping = true;
		notify("STOPPING=1");
		if (!k->server) {
			*exit_code = 0;
			return 1;
		}
		kill(k->server, (int)si.ssi_signo);
		return 0;
	}
}

struct stored_listener {
	uint64_t key;
	int fd;
};

static int by_key(const void *a, const void *b)
{
	const struct stored_listener *x = a, *y = b;

	return x->key < y->key ? -1 : x->key > y->key;
}

struct passed_listeners {
	struct keeper *k;
	struct stored_listener *v;
	size_t n;
};

/* A record of the holdings systemd kept: its listener, kept under the record's key, is ours
 * again under another number. */
static int take_stored(uint64_t off, const struct ic_holding *h, void *data)
{
	struct passed_listeners *p = data;
	struct stored_listener want = {.key = h->key}, *l;
	int r = -ENOENT;

	l = p->n ? bsearch(&want, p->v, p->n, sizeof(*l), by_key) : NULL;
	if (l && l->fd >= 0) {
		r = held_track(p->k, h->key, l->fd, off, h->len);
		if (r == 0 && ic_holdings_set(p->k->holdings, off, true, l->fd) == 0)
			l->fd = -1;
	}
	if (r < 0)
		(void)ic_holdings_set(p->k->holdings, off, false, -1);
	return 0;
}

static int passed_socket(const struct keeper *k, int fd, int type, const char *path,
			 const char *name)
{
#if HAVE_LIBSYSTEMD
	if (path && *path && sd_is_socket_unix(fd, type, 1, path, 0) > 0) {
		/* The front end accepts from epoll: systemd's sockets block. */
		int fl = fcntl(fd, F_GETFL);

		if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
			log_warn_errno(errno, "%s: cannot make %s non-blocking: %m", name, path);
		log_info("%s: listening on %s (from systemd)", name, path);
		return fd;
	}
	log_warn("keeper: systemd passed a socket '%s' that is not %s: closed", name,
		 path && *path ? path : "configured");
	fdstore_remove(k, name);
#else
	(void)k, (void)type, (void)path, (void)name;
#endif
	close(fd);
	return -1;
}

/* What systemd passes at our start (doc/design.md §13): the sockets of interceptd.socket or
 * of the fd store ("oci", "lxc", "control"), and what the fd store kept of an earlier run of
 * the service: "journal", "holdings-N" and one "l<key>" per listener. */
static int take_passed(struct keeper *k)
{
#if HAVE_LIBSYSTEMD
	const struct ic_server_conf *sc = &k->conf->server;
	struct passed_listeners p = {.k = k};
	char **names = NULL;
	int n = sd_listen_fds_with_names(1, &names), holdings[2] = {-1, -1};
	uint64_t seq[2] = {0, 0};

	if (n <= 0)
		return n;
	p.v = calloc((size_t)n, sizeof(*p.v));
	if (!p.v)
		return log_error_errno(ENOMEM, "keeper: the fds systemd passed: %m");
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		const char *name = names[i];
		uint64_t key, end;

		(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
		if (strcmp(name, "oci") == 0 && k->oci < 0)
			k->oci = passed_socket(k, fd, SOCK_STREAM, sc->oci_socket, name);
		else if (strcmp(name, "lxc") == 0 && k->lxc < 0)
			k->lxc = passed_socket(k, fd, SOCK_SEQPACKET, sc->lxc_socket, name);
		else if (strcmp(name, "control") == 0 && k->ctl < 0)
			k->ctl = passed_socket(k, fd, SOCK_STREAM, sc->control_socket, name);
		else if (strcmp(name, "journal") == 0 && k->journal < 0)
			k->journal = fd;
		else if (fdname_number(name, "l", 16, &key) && key)
			p.v[p.n++] = (struct stored_listener){.key = key, .fd = fd};
		else if (fdname_number(name, "holdings-", 10, &key) && key < 2 &&
			 holdings[key] < 0 && ic_holdings_open(fd, &seq[key], &end) == 0)
			holdings[key] = fd;
		else {
			log_warn("keeper: systemd passed an fd named '%s' that is not ours: closed",
				 name);
			fdstore_remove(k, name);
			close(fd);
		}
	}
	/* Of two holdings files (a crash while writing one anew), the newer is whole. */
	if (holdings[0] >= 0 && holdings[1] >= 0) {
		int old = seq[0] > seq[1];
		char name[32];

		snprintf(name, sizeof(name), HOLDINGS_FDNAME_FMT, (uint64_t)old);
		fdstore_remove(k, name);
		close(holdings[old]);
		holdings[old] = -1;
	}
	qsort(p.v, p.n, sizeof(*p.v), by_key);
	for (int i = 0; i < 2; i++)
		if (holdings[i] >= 0) {
			k->holdings = holdings[i];
			(void)ic_holdings_open(k->holdings, &k->holdings_seq, &k->holdings_end);
			if (ic_holdings_walk(k->holdings, k->holdings_end, take_stored, &p) < 0)
				log_error("keeper: the holdings systemd kept are cut short");
			holdings_recount(k);
		}
	for (size_t i = 0; i < p.n; i++)
		if (p.v[i].fd >= 0) {
			char name[24];

			log_error("keeper: systemd kept listener %s without its message: let go",
				  listener_fdname(p.v[i].key, name));
			fdstore_remove(k, name);
			close(p.v[i].fd);
		}
	if (k->n_held || k->journal >= 0)
		log_info("keeper: systemd kept %zu listeners%s", k->n_held,
			 k->journal >= 0 ? " and the journal" : "");
	free(p.v);
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return 0;
#else
	(void)k;
	return 0;
#endif
}

/* The sockets, the journal and the holdings systemd did not pass: made anew, and a copy given
 * to its fd store. */
static int make_missing(struct keeper *k)
{
	const struct ic_server_conf *sc = &k->conf->server;
	char name[32];

	if (k->ctl < 0) {
		k->ctl = listen_on(sc->control_socket, SOCK_STREAM, "control");
		if (k->ctl < 0)
			return k->ctl;
		fdstore_put(k, k->ctl, "control");
	}
	if (k->oci < 0) {
		k->oci = listen_on(sc->oci_socket, SOCK_STREAM, "oci");
		if (k->oci < 0)
			return k->oci;
		fdstore_put(k, k->oci, "oci");
	}
	if (k->lxc < 0 && sc->lxc_socket && *sc->lxc_socket) {
		k->lxc = listen_on(sc->lxc_socket, SOCK_SEQPACKET, "lxc");
		if (k->lxc < 0)
			return k->lxc;
		fdstore_put(k, k->lxc, "lxc");
	}
	if (k->journal < 0) {
		k->journal = ic_journal_create();
		if (k->journal < 0)
			return log_error_errno(k->journal, "keeper: cannot make the journal: %m");
		fdstore_put(k, k->journal, "journal");
	}
	if (k->holdings < 0) {
		k->holdings = ic_holdings_create(0);
		if (k->holdings < 0 ||
		    ic_holdings_open(k->holdings, &k->holdings_seq, &k->holdings_end) < 0)
			return log_error_errno(k->holdings < 0 ? k->holdings : EIO,
					       "keeper: cannot make the holdings: %m");
		snprintf(name, sizeof(name), HOLDINGS_FDNAME_FMT, k->holdings_seq % 2);
		fdstore_put(k, k->holdings, name);
	}
	return 0;
}

static int keeper_setup(struct keeper *k)
{
	const struct ic_server_conf *sc = &k->conf->server;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &k->sfd};
	const char *handover = getenv(HANDOVER_ENV);
	ssize_t n;
	sigset_t mask;
	int r;

	n = readlink("/proc/self/exe", k->exe, sizeof(k->exe) - 1);
	if (n < 0)
		return log_error_errno(errno, "keeper: /proc/self/exe: %m");
	k->exe[n] = 0;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	k->sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	k->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (k->sfd < 0 || k->epfd < 0 || epoll_ctl(k->epfd, EPOLL_CTL_ADD, k->sfd, &ev) < 0)
		return log_error_errno(errno, "keeper: %m");
	k->self = getpid();
	if (handover)
		return take_handover(k, handover);

	/* The lock lies beside the control socket, in a directory that may not exist yet. */
	r = make_parent(sc->control_socket);
	if (r < 0)
		return log_error_errno(r, "cannot create the directory of %s: %m",
				       sc->control_socket);
	k->lock = take_lock(sc->control_socket);
	if (k->lock < 0)
		return k->lock;
	k->fdstore = HAVE_LIBSYSTEMD && getenv("NOTIFY_SOCKET");
	r = take_passed(k);
	if (r < 0)
		return r;
	return make_missing(k);
}
int ic_keeper_run(const struct ic_conf *conf, char *const *argv, struct ic_serve_ctx *ctx,
		  int *exit_code)
{
	static struct keeper k;
	int r;

	k = (struct keeper){.conf = conf,
			    .argv = argv,
			    .lock = -1,
			    .oci = -1,
			    .lxc = -1,
			    .ctl = -1,
			    .journal = -1,
			    .holdings = -1,
			    .epfd = -1,
			    .sfd = -1,
			    .link = -1};
	r = keeper_setup(&k);
	if (r < 0)
		return r;
	r = spawn(&k, ctx);
	if (r != 0)
		return r;
	for (;;) {
		struct epoll_event evs[32];
		uint64_t now = ic_now_ns();
		int timeout = -1, n;

		if (k.restart_at_ns)
			timeout = k.restart_at_ns <= now
				      ? 0
				      : (int)((k.restart_at_ns - now) / 1000000ULL) + 1;
		n = epoll_wait(k.epfd, evs, ARRAY_SIZE(evs), timeout);
		if (n < 0 && errno != EINTR)
			return log_error_errno(errno, "keeper: epoll_wait: %m");
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;

			if (p == &k.sfd) {
				if (on_signal(&k, exit_code))
					return 0;
			} else if (p == &k.link) {
				on_link(&k);
			} else if (evs[i].events & (EPOLLHUP | EPOLLERR)) {
				/* Its container's last task is gone. */
				held_drop(&k, p);
			}
		}
		if (k.restart_at_ns && ic_now_ns() >= k.restart_at_ns && !k.server) {
			r = spawn(&k, ctx);
			if (r != 0)
				return r;
		}
	}
}

/* One message to the keeper: tag, key, msg, and fd when not -1. */
static int link_send(char tag, uint64_t key, const char *msg, size_t len, int fd)
{
	_cleanup_free_ char *buf = NULL;

	if (link_fd < 0)
		return 0;
	buf = malloc(len + 9);
	if (!buf)
		return -ENOMEM;
	buf[0] = tag;
	memcpy(buf + 1, &key, sizeof(key));
	memcpy(buf + 9, msg, len);
	return ic_sock_send_fds(link_fd, buf, len + 9, &fd, fd >= 0 ? 1 : 0);
}

int ic_keeper_hold(uint64_t key, const char *msg, size_t len, int fd)
{
	return link_send(HOLD_TAG, key, msg, len, fd);
}

int ic_keeper_note(uint64_t key, const char *msg, size_t len)
{
	return link_send(NOTE_TAG, key, msg, len, -1);
}

void ic_keeper_ready(void)
{
	char tag = READY_TAG;

	if (link_fd >= 0 && send(link_fd, &tag, 1, MSG_NOSIGNAL) < 0)
		log_warn_errno(errno, "cannot tell the keeper: %m");
}
