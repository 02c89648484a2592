/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <urcu.h>

#include "common/log.h"
#include "common/lxc-proto.h"
#include "common/macros.h"
#include "common/notify.h"
#include "common/parse.h"
#include "common/proc.h"
#include "common/sock.h"
#include "server/front-lxc.h"
#include "server/journal.h"
#include "server/keeper.h"
#include "server/registry.h"
#include "server/request.h"
#include "server/server.h"
#include "server/source.h"

/* One LXC monitor's connection (one running container). */
struct lxc_conn {
	struct ic_source src;
	pid_t peer_pid; /* SO_PEERCRED at accept */
	char peer[96];	/* for log lines */
};

static struct lxc_conn *conn_of(const struct ic_source *src)
{
	return caa_container_of(src, struct lxc_conn, src);
}

#define LXC_FDS_MAX 3

_Static_assert(sizeof(((struct ic_request *)0)->lxc.hdr) == sizeof(struct ic_lxc_hdr), "header");

static enum ic_recv lxc_recv(struct ic_source *src, struct ic_request *req,
			     const struct ic_conf *conf);

/* Exactly header + notif + resp: no cookie, no fds, or LXC answers ENOSYS. */
static int lxc_reply(struct ic_request *req, const struct seccomp_notif_resp *resp)
{
	unsigned char buf[IC_LXC_MSG_MIN];
	ssize_t n;

	memcpy(buf, req->lxc.hdr, sizeof(req->lxc.hdr));
	memcpy(buf + sizeof(req->lxc.hdr), &req->notif, sizeof(req->notif));
	memcpy(buf + sizeof(req->lxc.hdr) + sizeof(req->notif), resp, sizeof(*resp));
	n = send(req->src->fd, buf, sizeof(buf), MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n == (ssize_t)sizeof(buf))
		return 0;
	if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
		return -ENOENT; /* the monitor is gone, and with it the caller */
	return n < 0 ? -errno : -EIO;
}

static int lxc_listener_fd(const struct ic_request *req)
{
	return req->lxc.fds[2];
}

static void lxc_release(struct ic_request *req)
{
	for (int i = 0; i < 3; i++)
		if (req->lxc.fds[i] >= 0)
			close(req->lxc.fds[i]);
}

static void lxc_free(struct ic_source *src)
{
	free(conn_of(src));
}

static const char *lxc_name(const struct ic_source *src)
{
	return conn_of(src)->peer;
}

static const struct ic_source_ops lxc_ops = {
    .recv = lxc_recv,
    .reply = lxc_reply,
    .listener_fd = lxc_listener_fd,
    .release = lxc_release,
    .free = lxc_free,
    .name = lxc_name,
    /* LXC waits for a datagram even when its caller is gone. */
    .reply_when_gone = true,
    /* A journaled request's listener came with its datagram, and is gone with the server. */
    .recover_by_continue = true,
};

/* The keeper keeps the connection's container with it ("L", id, init pid, policy, one a line),
 * so that the next server lists it from the start, not from its next call. */
static void remember(struct lxc_conn *c, const char *id, pid_t init_pid, const char *policy)
{
	char msg[512];
	int n =
	    snprintf(msg, sizeof(msg), IC_LXC_HELD_MSG "\n%s\n%d\n%s", id, (int)init_pid, policy);

	if (n > 0 && (size_t)n < sizeof(msg) && ic_keeper_note(c->src.key, msg, (size_t)n) < 0)
		log_warn("lxc: the keeper does not know the container of %s", c->peer);
}

/* What remember() left, if anything: the container the connection served. */
static void recall(struct ic_source *src, const char *msg, size_t len)
{
	char buf[512], *id, *pid, *policy;
	struct ic_container *ct;
	bool created;
	uint64_t v;

	if (len < 2 || len >= sizeof(buf))
		return;
	memcpy(buf, msg, len);
	buf[len] = 0;
	id = strchr(buf, '\n');
	pid = id ? strchr(id + 1, '\n') : NULL;
	policy = pid ? strchr(pid + 1, '\n') : NULL;
	if (!policy)
		return;
	*pid++ = *policy++ = 0;
	id++;
	if (ic_parse_u64(pid, 1, INT32_MAX, &v) < 0 || !*id || !*policy)
		return;
	if (ic_registry_get(id, (pid_t)v, policy, NULL, &ct, &created) == 0)
		ic_source_set_container(src, ct);
}

/* Serve connection fd (ours whatever the outcome). key: the keeper's name for it; 0 for a new
 * connection, which gets a key and whose copy goes to the keeper, so that the monitor's
 * connection outlives the server (LXC fails the call in flight when it closes). *ret (when
 * ret) gets a reference. */
static int adopt(int fd, uint64_t key, const char *msg, size_t len, struct ic_source **ret)
{
	struct lxc_conn *c = calloc(1, sizeof(*c));
	struct ucred cred;
	socklen_t sl = sizeof(cred);

	if (!c || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &sl) < 0) {
		int r = log_warn_errno(c ? errno : ENOMEM, "lxc: cannot take a connection: %m");

		free(c);
		close(fd);
		return r;
	}
	ic_source_init(&c->src, &lxc_ops, fd);
	c->peer_pid = cred.pid;
	ic_proc_peer_name(fd, c->peer, sizeof(c->peer));
	c->src.key = key ? key : ic_journal_new_key();
	if (!key && ic_keeper_hold(c->src.key, IC_LXC_HELD_MSG, 1, fd) < 0)
		log_error("lxc: the keeper holds no copy of the connection from %s", c->peer);
	/* Before an acceptor can see it. */
	recall(&c->src, msg, len);
	if (ret)
		ic_source_ref(&c->src);
	/* Now: once handed off, c may be freed by the acceptor when the monitor hangs up. */
	log_debug("lxc: connection from %s", c->peer);
	if (ic_server_adopt(&c->src) < 0) {
		log_error("lxc: refused %s: no acceptor thread is running", c->peer);
		if (ret)
			ic_source_put(&c->src);
		ic_source_put(&c->src);
		return -EAGAIN;
	}
	if (ret)
		*ret = &c->src;
	return 0;
}

int ic_lxc_accept(int sock)
{
	for (;;) {
		int fd = accept4(sock, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd < 0) {
			if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
				return 0;
			return -errno;
		}
		(void)adopt(fd, 0, NULL, 0, NULL);
	}
}

int ic_lxc_readopt(int fd, uint64_t key, const char *msg, size_t len, struct ic_source **ret)
{
	*ret = NULL;
	return adopt(fd, key, msg, len, ret);
}

/* A bad datagram gets an empty one back at once: LXC then answers ENOSYS to the caller instead
 * of waiting 30 s for us. */
static enum ic_recv refuse(struct lxc_conn *c, int *fds, int n_fds, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static enum ic_recv refuse(struct lxc_conn *c, int *fds, int n_fds, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	for (int i = 0; i < n_fds; i++)
		close(fds[i]);
	log_warn("lxc: refused a datagram from %s: %s", c->peer, why);
	if (send(c->src.fd, "", 0, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && errno != EAGAIN)
		return IC_RECV_DROP;
	return IC_RECV_NONE;
}

/* The container's name from its monitor's command line, "[lxc monitor] LXCPATH NAME". */
static void monitor_name(pid_t monitor, char *name, size_t len)
{
	char path[64], buf[512];
	ssize_t n;
	int fd;

	snprintf(name, len, "pid%d", (int)monitor);
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)monitor);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = 0;
	/* The monitor rewrites its argv into one string with spaces. */
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] == 0)
			buf[i] = ' ';
	while (n > 0 && buf[n - 1] == ' ')
		buf[--n] = 0;
	if (strncmp(buf, "[lxc monitor] ", 14) == 0 && strrchr(buf, ' '))
		snprintf(name, len, "%s", strrchr(buf, ' ') + 1);
}

/* "policy=NAME" or a bare NAME; NULL when it names no policy of conf. */
static const struct ic_policy *cookie_policy(const struct ic_conf *conf, const char *cookie)
{
	if (strncmp(cookie, "policy=", 7) == 0)
		cookie += 7;
	return *cookie ? ic_conf_policy(conf, cookie) : NULL;
}

/* The kernel's sizes do not change: asked once, by whichever acceptor comes first. */
static struct seccomp_notif_sizes kernel_sizes;
static pthread_once_t kernel_sizes_once = PTHREAD_ONCE_INIT;

static void kernel_sizes_load(void)
{
	if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &kernel_sizes) < 0) {
		log_error_errno(errno,
				"lxc: SECCOMP_GET_NOTIF_SIZES: %m; every datagram is refused");
		memset(&kernel_sizes, 0, sizeof(kernel_sizes)); /* then no datagram matches */
	}
}

static bool sizes_ok(const struct ic_lxc_hdr *h)
{
	pthread_once(&kernel_sizes_once, kernel_sizes_load);
	return kernel_sizes.seccomp_notif && h->notif_size == kernel_sizes.seccomp_notif &&
	       h->resp_size == kernel_sizes.seccomp_notif_resp &&
	       h->data_size == kernel_sizes.seccomp_data;
}

/* One datagram of c, validated, into req. */
_Static_assert(sizeof(((struct ic_journal_slot *)0)->aux) == sizeof(struct ic_lxc_hdr) &&
		   sizeof(struct seccomp_notif) == 80,
	       "a datagram's header and notification land in a journal slot as they are");

static enum ic_recv lxc_take(struct ic_source *src, struct ic_request *req,
			     const struct ic_conf *conf, struct ic_journal_slot *js)
{
	struct lxc_conn *c = conn_of(src);
	/* One byte more than the longest datagram, to see a longer one as truncated. */
	unsigned char buf[IC_LXC_MSG_MAX + 1];
	size_t head = sizeof(struct ic_lxc_hdr), notif = sizeof(struct seccomp_notif);
	struct iovec iov[3] = {{.iov_base = buf, .iov_len = sizeof(buf)}};
	int fds[LXC_FDS_MAX + 1], n_fds, got, mflags;
	const struct ic_policy *policy;
	struct ic_lxc_msg msg;
	const char *cookie = msg.cookie;
	struct ic_lxc_hdr hdr;
	char why[128];
	ssize_t n;

	if (js) {
		iov[0] = (struct iovec){.iov_base = js->aux, .iov_len = head};
		iov[1] = (struct iovec){.iov_base = &js->notif, .iov_len = notif};
		iov[2] = (struct iovec){.iov_base = buf + head + notif,
					.iov_len = sizeof(buf) - head - notif};
	}
	n = ic_sock_recvv_fds(src->fd, iov, js ? 3 : 1, fds, ARRAY_SIZE(fds), &got, MSG_DONTWAIT,
			      &mflags);
	if (js && n > 0) {
		memcpy(buf, js->aux, IC_MIN((size_t)n, head));
		if ((size_t)n > head)
			memcpy(buf + head, &js->notif, IC_MIN((size_t)n - head, notif));
	}
	if (n < 0)
		return n == -EAGAIN || n == -EINTR ? IC_RECV_NONE : IC_RECV_DROP;
	n_fds = IC_MIN(got, (int)ARRAY_SIZE(fds)); /* kept, to close on refusal */
	if (n == 0 && n_fds == 0) {
		log_debug("lxc: %s closed the connection", c->peer);
		return IC_RECV_DROP;
	}
	if (mflags & MSG_TRUNC)
		return refuse(c, fds, n_fds, "datagram larger than %zu bytes", sizeof(buf) - 1);
	if (mflags & MSG_CTRUNC)
		return refuse(c, fds, n_fds, "control data truncated");
	if (ic_lxc_decode(buf, (size_t)n, got, &msg, why, sizeof(why)) < 0)
		return refuse(c, fds, n_fds, "%s", why);
	hdr = msg.hdr;
	if (!sizes_ok(&hdr))
		return refuse(c, fds, n_fds, "struct sizes %u/%u/%u are not the kernel's",
			      hdr.notif_size, hdr.resp_size, hdr.data_size);
	if (hdr.monitor_pid != c->peer_pid)
		return refuse(c, fds, n_fds, "monitor_pid %d is not the peer's pid %d",
			      (int)hdr.monitor_pid, (int)c->peer_pid);
	if (n_fds == 3 && ic_notif_check_fd(fds[2]) < 0)
		return refuse(c, fds, n_fds, "fd 2 is not a seccomp listener");

	policy = cookie_policy(conf, cookie);
	if (!policy && conf->server.lxc_allow_unknown_cookie)
		policy = ic_conf_policy(conf, "default");
	if (!policy)
		return refuse(c, fds, n_fds, "cookie '%.64s' names no policy", cookie);

	if (!src->ct) {
		char name[128], id[sizeof(src->ct->info.id)];
		struct ic_container *ct;
		bool created;

		monitor_name(hdr.monitor_pid, name, sizeof(name));
		snprintf(id, sizeof(id), "lxc:%s:%d", name, (int)hdr.init_pid);
		if (ic_registry_get(id, hdr.init_pid, policy->name, NULL, &ct, &created) < 0)
			return refuse(c, fds, n_fds, "cannot register the container");
		ic_source_set_container(src, ct);
		remember(c, id, hdr.init_pid, policy->name);
		log_info("container %s: %s connection from %s (init %d, policy %s)", id,
			 created ? "new" : "another", c->peer, (int)hdr.init_pid, policy->name);
	} else if (src->ct->info.init_pid != hdr.init_pid) {
		return refuse(c, fds, n_fds, "init_pid %d, but this connection serves %d",
			      (int)hdr.init_pid, (int)src->ct->info.init_pid);
	}

	req->notif = msg.notif;
	memcpy(req->lxc.hdr, &hdr, sizeof(req->lxc.hdr));
	for (int i = 0; i < n_fds; i++)
		req->lxc.fds[i] = fds[i];
	return IC_RECV_OK;
}

/* Received straight into the request's journal slot, as a listener's notification is (see
 * ic_journal_receiving): a server that dies just after recvmsg leaves the datagram there for
 * the next one to answer over the connection the keeper holds, instead of losing it with its
 * caller waiting on LXC for an answer that never comes. */
static enum ic_recv lxc_recv(struct ic_source *src, struct ic_request *req,
			     const struct ic_conf *conf)
{
	struct ic_journal_slot *js = src->key ? req->slot : NULL;
	enum ic_recv r;

	if (js)
		ic_journal_receiving(js, src->key);
	r = lxc_take(src, req, conf, js);
	if (js)
		ic_journal_set(js, r == IC_RECV_OK ? IC_JOURNAL_RECEIVED : IC_JOURNAL_FREE);
	return r;
}
