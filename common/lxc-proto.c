/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/lxc-proto.h"

_Static_assert(sizeof(struct ic_lxc_hdr) == 32, "LXC proxy header is 32 bytes");
_Static_assert(sizeof(struct seccomp_notif) == 80, "seccomp_notif");
_Static_assert(sizeof(struct seccomp_notif_resp) == 24, "seccomp_notif_resp");

static int bad(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int bad(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int ic_lxc_decode(const void *buf, size_t n, int n_fds, struct ic_lxc_msg *out, char *why,
		  size_t whylen)
{
	const unsigned char *p = buf;
	struct ic_lxc_hdr *h = &out->hdr;

	if (n < IC_LXC_MSG_MIN)
		return bad(why, whylen, "%zu bytes, at least %zu expected", n, IC_LXC_MSG_MIN);
	memcpy(h, p, sizeof(*h));
	if (h->reserved != 0)
		return bad(why, whylen, "reserved header field is not 0");
	if (h->notif_size != sizeof(struct seccomp_notif) ||
	    h->resp_size != sizeof(struct seccomp_notif_resp) ||
	    h->data_size != sizeof(struct seccomp_data))
		return bad(why, whylen, "struct sizes %u/%u/%u are not the kernel's", h->notif_size,
			   h->resp_size, h->data_size);
	if (h->cookie_len > IC_LXC_COOKIE_MAX)
		return bad(why, whylen, "cookie of %llu bytes, at most %d allowed",
			   (unsigned long long)h->cookie_len, IC_LXC_COOKIE_MAX);
	if (h->cookie_len != n - IC_LXC_MSG_MIN)
		return bad(why, whylen, "cookie_len %llu, but %zu bytes follow",
			   (unsigned long long)h->cookie_len, n - IC_LXC_MSG_MIN);
	if (n_fds < 2 || n_fds > 3)
		return bad(why, whylen, "%d fds, 2 or 3 expected", n_fds);
	if (h->init_pid <= 0)
		return bad(why, whylen, "bad init_pid %d", (int)h->init_pid);
	memcpy(out->cookie, p + IC_LXC_MSG_MIN, h->cookie_len);
	out->cookie[h->cookie_len] = 0;
	if (memchr(out->cookie, 0, h->cookie_len))
		return bad(why, whylen, "NUL in the cookie");
	memcpy(&out->notif, p + sizeof(*h), sizeof(out->notif));
	return 0;
}
