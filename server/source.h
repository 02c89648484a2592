/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_SERVER_SOURCE_H
#define IC_SERVER_SOURCE_H

#include <linux/seccomp.h>
#include <stdbool.h>
#include <stdint.h>
#include <urcu/lfstack.h>
#include <urcu/list.h>

struct ic_acceptor;
struct ic_conf;
struct ic_container;
struct ic_request;
struct ic_source;

/* What recv made of one readiness of a source. */
enum ic_recv {
	IC_RECV_OK = 0,	  /* req holds a notification to serve */
	IC_RECV_NONE = 1, /* nothing to serve (a refused datagram, a spurious wake-up) */
	IC_RECV_GONE = 2, /* the target was interrupted before we received it */
	IC_RECV_DROP = 3, /* the source is finished: the acceptor lets go of it */
	_IC_RECV_MAX
};

/* How one kind of source (a seccomp listener, an LXC monitor's connection) receives and
 * answers; the request's life (request.c) and the acceptors know sources only through this. */
struct ic_source_ops {
	/* The owning acceptor's thread: read one notification into req->notif (and what reply
	 * will need). req->src is not set yet. */
	enum ic_recv (*recv)(struct ic_source *src, struct ic_request *req,
			     const struct ic_conf *conf);
	/* Any thread, once per request: send the answer. -ENOENT when the target is gone. */
	int (*reply)(struct ic_request *req, const struct seccomp_notif_resp *resp);
	/* The listener the notification came from, for ID_VALID and ADDFD; -1 when none was
	 * sent (an LXC older than 4.0.5). */
	int (*listener_fd)(const struct ic_request *req);
	/* Any thread: let go of what recv attached to req. NULL: nothing. */
	void (*release)(struct ic_request *req);
	/* The last reference is going, before the fd closes. NULL: nothing. */
	void (*forget)(struct ic_source *src);
	/* The last reference went: free the embedding struct (the fd and the container are
	 * already let go). */
	void (*free)(struct ic_source *src);
	const char *(*name)(const struct ic_source *src); /* for log lines */
	bool reply_when_gone; /* a request whose target went away is still answered */
	bool pausable;	      /* may be left unread while its container is over its cap */
	bool in_place;	      /* its fast requests may be served by the acceptor itself */
	/* What a crashed server left of it is answered CONTINUE, not served again. */
	bool recover_by_continue;
};

/* What an acceptor watches, embedded in the kind's own struct. Owned by one acceptor thread at
 * a time (its epoll set and lists); handed over through an acceptor's inbox. */
struct ic_source {
	const struct ic_source_ops *ops;
	int fd;
	int refs;		 /* atomic: one for the acceptor + one per request in flight */
	uint64_t key;		 /* the keeper's and the journal's name for it; 0: not kept */
	struct ic_container *ct; /* reference held once set; NULL until the first valid message */
	/* The owning acceptor's alone. */
	struct ic_acceptor *owner;
	struct cds_list_head link;	 /* in the owner's sources */
	struct cds_list_head pause_link; /* in the owner's paused sources, when paused */
	bool paused;
	bool warned_unvalidated;   /* atomic: its unvalidated requests were logged */
	bool warned_id_valid;	   /* atomic: a NOTIF_ID_VALID error of its was logged */
	struct cds_lfs_node inbox; /* hand-over to an acceptor */
};

/* refs = 1 (the caller's). */
void ic_source_init(struct ic_source *src, const struct ic_source_ops *ops, int fd);
/* The source serves ct from now on: takes over the caller's reference to it. Once, by the
 * thread that owns src. */
void ic_source_set_container(struct ic_source *src, struct ic_container *ct);
/* Any RCU-registered thread. The last put closes the fd and drops the container. */
void ic_source_ref(struct ic_source *src);
void ic_source_put(struct ic_source *src);
static inline const char *ic_source_name(const struct ic_source *src)
{
	return src->ops->name(src);
}

#endif
