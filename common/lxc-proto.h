/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_COMMON_LXC_PROTO_H
#define IC_COMMON_LXC_PROTO_H

#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>

/* LXC's seccomp_notify_proxy_msg: the 32-byte header of every datagram, both ways. */
struct ic_lxc_hdr {
	uint64_t reserved;
	int32_t monitor_pid;
	int32_t init_pid;
	uint16_t notif_size, resp_size, data_size, pad;
	uint64_t cookie_len;
};

#define IC_LXC_COOKIE_MAX 1024
/* Header, seccomp_notif, seccomp_notif_resp: what every datagram holds, and every reply is. */
#define IC_LXC_MSG_MIN (sizeof(struct ic_lxc_hdr) + 80 + 24)
#define IC_LXC_MSG_MAX (IC_LXC_MSG_MIN + IC_LXC_COOKIE_MAX)

/* One datagram, decoded. */
struct ic_lxc_msg {
	struct ic_lxc_hdr hdr;
	struct seccomp_notif notif;
	char cookie[IC_LXC_COOKIE_MAX + 1]; /* NUL-terminated, no NUL inside */
};

/* Decode the n bytes of one datagram that came with n_fds fds: its layout and what can be
 * judged from the bytes alone (struct sizes equal to ours, cookie length and content, fd count,
 * init pid). The sender's pid, the kernel's sizes and what the fds are stay the caller's to
 * check. Returns 0, or -EINVAL with why (a NUL-terminated sentence). Pure: any thread. */
int ic_lxc_decode(const void *buf, size_t n, int n_fds, struct ic_lxc_msg *out, char *why,
		  size_t whylen);

#endif
