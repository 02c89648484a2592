/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/notify.h"
#include "server/journal.h"
#include "server/listener.h"
#include "server/registry.h"
#include "server/request.h"
#include "server/source.h"

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

static void listener_free(struct ic_source *src)
{
	free(src);
}

static const char *listener_name(const struct ic_source *src)
{
	return src->ct->info.id;
}

static const struct ic_source_ops listener_ops = {
    .recv = listener_recv,
    .reply = listener_reply,
    .listener_fd = listener_fd,
    .free = listener_free,
    .name = listener_name,
    .pausable = true,
    .in_place = true,
};

struct ic_source *ic_listener_new(int fd, struct ic_container *ct)
{
	struct ic_source *src = calloc(1, sizeof(*src));

	if (!src)
		return NULL;
	ic_source_init(src, &listener_ops, fd);
	ic_source_set_container(src, ct);
	return src;
}
