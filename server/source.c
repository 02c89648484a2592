/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <unistd.h>

#include "common/ref.h"
#include "server/registry.h"
#include "server/source.h"

void ic_source_init(struct ic_source *src, const struct ic_source_ops *ops, int fd)
{
	src->ops = ops;
	src->fd = fd;
	src->refs = 1;
	src->key = 0;
	src->ct = NULL;
	src->owner = NULL;
	src->paused = false;
	src->warned_unvalidated = false;
	CDS_INIT_LIST_HEAD(&src->link);
	CDS_INIT_LIST_HEAD(&src->pause_link);
}

void ic_source_set_container(struct ic_source *src, struct ic_container *ct)
{
	src->ct = ct;
	__atomic_add_fetch(&ct->n_listeners, 1, __ATOMIC_RELAXED);
}

void ic_source_ref(struct ic_source *src)
{
	ic_ref_inc(&src->refs);
}

void ic_source_put(struct ic_source *src)
{
	if (!src || !ic_ref_dec(&src->refs))
		return;
	if (src->ops->forget)
		src->ops->forget(src);
	close(src->fd);
	if (src->ct) {
		__atomic_sub_fetch(&src->ct->n_listeners, 1, __ATOMIC_RELAXED);
		ic_container_put(src->ct);
	}
	src->ops->free(src);
}
