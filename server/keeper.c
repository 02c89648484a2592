/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/mman.h>
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
#define READY_TAG      'R'

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
	int epfd, sfd;
	int link; /* the keeper's end, to the current server */
	pid_t server;
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

static void held_free(struct ic_keeper_held *h)
{
	close(h->fd);
	free(h->msg);
	free(h);
}

static void held_add(struct keeper *k, uint64_t key, int fd, const char *msg, size_t len)
{
	struct ic_keeper_held *h = calloc(1, sizeof(*h));
	struct epoll_event ev = {.events = 0, .data.ptr = NULL};

	if (h)
		h->msg = malloc(len ? len : 1);
	if (h && h->msg && k->n_held == k->cap_held) {
		size_t cap = k->cap_held ? 2 * k->cap_held : 64;
		struct ic_keeper_held **bigger = realloc(k->held, cap * sizeof(*bigger));

		if (bigger) {
			k->held = bigger;
			k->cap_held = cap;
		}
	}
	if (!h || !h->msg || k->n_held == k->cap_held) {
		log_error("keeper: out of memory: a listener is not kept");
		if (h)
			free(h->msg);
		free(h);
		close(fd);
		return;
	}
	h->key = key;
	h->fd = fd;
	h->len = len;
	memcpy(h->msg, msg, len);
	/* No EPOLLIN: only the hang-up of its last task, which is always reported. */
	ev.data.ptr = h;
	if (epoll_ctl(k->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		log_error_errno(errno, "keeper: cannot watch a listener: %m");
		held_free(h);
		return;
	}
	k->held[k->n_held++] = h;
}

static void held_drop(struct keeper *k, struct ic_keeper_held *h)
{
	for (size_t i = 0; i < k->n_held; i++)
		if (k->held[i] == h) {
			k->held[i] = k->held[--k->n_held];
			break;
		}
	epoll_ctl(k->epfd, EPOLL_CTL_DEL, h->fd, NULL);
	held_free(h);
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
		sigemptyset(&chld);
		sigaddset(&chld, SIGCHLD);
		pthread_sigmask(SIG_UNBLOCK, &chld, NULL);
		*ctx = (struct ic_serve_ctx){
		    .oci_sock = k->oci,
		    .lxc_sock = k->lxc,
		    .ctl_sock = k->ctl,
		    .journal_fd = k->journal,
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
#define HANDOVER_MAGIC 0x69636b7031ULL /* "ickp1" */

struct handover_head {
	uint64_t magic;
	int32_t lock, oci, lxc, ctl, journal;
	uint32_t generation;
	uint64_t n_held;
};

struct handover_held {
	uint64_t key;
	int32_t fd;
	uint32_t len;
};

static int set_cloexec(int fd, bool on)
{
	return fd < 0 ? 0 : fcntl(fd, F_SETFD, on ? FD_CLOEXEC : 0);
}

/* Everything the next binary takes over stays open across execv (on false), or is
 * close-on-exec again (on true): a FUSE helper the server runs must never get any of it. */
static int pass_on(struct keeper *k, bool on)
{
	const int mine[] = {k->lock, k->oci, k->lxc, k->ctl, k->journal};
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
				  .generation = k->generation,
				  .n_held = k->n_held};
	_cleanup_close_ int fd = memfd_create("interceptd-handover", 0);
	char env[32];
	int r = fd < 0 ? -errno : write_all(fd, &h, sizeof(h));

	for (size_t i = 0; r == 0 && i < k->n_held; i++) {
		struct handover_held e = {
		    .key = k->held[i]->key, .fd = k->held[i]->fd, .len = (uint32_t)k->held[i]->len};

		r = write_all(fd, &e, sizeof(e));
		if (r == 0)
			r = write_all(fd, k->held[i]->msg, k->held[i]->len);
	}
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
	for (uint64_t i = 0; i < h.n_held; i++) {
		struct handover_held e;
		_cleanup_free_ char *msg = NULL;

		if (read(fd, &e, sizeof(e)) != sizeof(e) || e.len > LINK_MSG_MAX ||
		    !(msg = malloc(e.len ? e.len : 1)) || read(fd, msg, e.len) != (ssize_t)e.len)
			return log_error_errno(EPROTO, "keeper: the hand-over is cut short");
		held_add(k, e.key, e.fd, msg, e.len);
	}
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
	if (handover) {
		r = take_handover(k, handover);
		if (r < 0)
			return r;
		return 0;
	}

	/* The lock lies beside the control socket, in a directory that may not exist yet. */
	r = make_parent(sc->control_socket);
	if (r < 0)
		return log_error_errno(r, "cannot create the directory of %s: %m",
				       sc->control_socket);
	k->lock = take_lock(sc->control_socket);
	if (k->lock < 0)
		return k->lock;
	k->ctl = listen_on(sc->control_socket, SOCK_STREAM, "control");
	if (k->ctl < 0)
		return k->ctl;
	k->oci = listen_on(sc->oci_socket, SOCK_STREAM, "oci");
	if (k->oci < 0)
		return k->oci;
	if (sc->lxc_socket && *sc->lxc_socket) {
		k->lxc = listen_on(sc->lxc_socket, SOCK_SEQPACKET, "lxc");
		if (k->lxc < 0)
			return k->lxc;
	}
	k->journal = ic_journal_create();
	if (k->journal < 0)
		return log_error_errno(k->journal, "keeper: cannot make the journal: %m");
	return 0;
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

int ic_keeper_hold(uint64_t key, const char *msg, size_t len, int fd)
{
	_cleanup_free_ char *buf = NULL;

	if (link_fd < 0)
		return 0;
	buf = malloc(len + 9);
	if (!buf)
		return -ENOMEM;
	buf[0] = HOLD_TAG;
	memcpy(buf + 1, &key, sizeof(key));
	memcpy(buf + 9, msg, len);
	return ic_sock_send_fds(link_fd, buf, len + 9, &fd, 1);
}

void ic_keeper_ready(void)
{
	char tag = READY_TAG;

	if (link_fd >= 0 && send(link_fd, &tag, 1, MSG_NOSIGNAL) < 0)
		log_warn_errno(errno, "cannot tell the keeper: %m");
}
