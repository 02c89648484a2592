/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <linux/kcmp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <urcu/list.h>

#include "common/log.h"
#include "common/macros.h"
#include "common/notify.h"
#include "server/journal.h"
#include "server/listener.h"
#include "server/registry.h"
#include "server/request.h"
#include "server/source.h"

struct listener {
	struct ic_source src;
	struct cds_list_head live; /* in live_listeners, until the fd closes */
};

/* Every listener whose fd is open, to refuse the same filter's listener twice: two sources on
 * one file would have two acceptors woken for each notification, and the one that loses the
 * race blocks in NOTIF_RECV, with every other source it watches, until the filter's next call,
 * which may never come. */
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static CDS_LIST_HEAD(live_listeners);

static struct listener *listener_of(struct ic_source *src)
{
	return caa_container_of(src, struct listener, src);
}

/* Whether fd and other are one open file (a dup, or the same fd sent again). */
static bool same_file(int fd, int other)
{
	pid_t self = getpid();

	return syscall(SYS_kcmp, self, self, KCMP_FILE, fd, other) == 0;
}

/* Received straight into the request's journal slot, when it has one: see ic_journal_receiving. */
static enum ic_recv listener_recv(struct ic_source *src, struct ic_request *req,
				  const struct ic_conf *conf)
{
	struct ic_journal_slot *js = src->key ? req->slot : NULL;
	int r;

	(void)conf;
	if (js) {
		ic_journal_receiving(js, src->key);
		r = ic_notif_recv(src->fd, &js->notif);
		if (r == 0)
			req->notif = js->notif;
		ic_journal_set(js, r == 0 ? IC_JOURNAL_RECEIVED : IC_JOURNAL_FREE);
	} else {
		r = ic_notif_recv(src->fd, &req->notif);
	}
	if (r == 0)
		return IC_RECV_OK;
	if (r == -ENOENT || r == -EINTR)
		return IC_RECV_GONE;
	/* Anything else would repeat on every readiness of a level-triggered fd. */
	log_warn_errno(r, "container %s: NOTIF_RECV: %s; dropping this listener", src->ct->info.id,
		       strerror(-r));
	return IC_RECV_DROP;
}

static int listener_reply(struct ic_request *req, const struct seccomp_notif_resp *resp)
{
	return ic_notif_send(req->src->fd, resp);
}

static int listener_fd(const struct ic_request *req)
{
	return req->src->fd;
}

/* The last put, before the fd closes: its number may be reused at once. */
static void listener_forget(struct ic_source *src)
{
	pthread_mutex_lock(&live_lock);
	cds_list_del(&listener_of(src)->live);
	pthread_mutex_unlock(&live_lock);
}

static void listener_free(struct ic_source *src)
{
	free(listener_of(src));
}

static const char *listener_name(const struct ic_source *src)
{
	return src->ct->info.id;
}

static const struct ic_source_ops listener_ops = {
    .recv = listener_recv,
    .reply = listener_reply,
    .listener_fd = listener_fd,
    .forget = listener_forget,
    .free = listener_free,
    .name = listener_name,
    .pausable = true,
    .in_place = true,
};

int ic_listener_new(int fd, struct ic_container *ct, struct ic_source **ret)
{
	struct listener *l, *other;

	pthread_mutex_lock(&live_lock);
	cds_list_for_each_entry (other, &live_listeners, live) {
		if (same_file(fd, other->src.fd)) {
			pthread_mutex_unlock(&live_lock);
			return -EEXIST;
		}
	}
	l = calloc(1, sizeof(*l));
	if (!l) {
		pthread_mutex_unlock(&live_lock);
		return -ENOMEM;
	}
	ic_source_init(&l->src, &listener_ops, fd);
	ic_source_set_container(&l->src, ct);
	cds_list_add(&l->live, &live_listeners);
	pthread_mutex_unlock(&live_lock);
	*ret = &l->src;
	return 0;
}
