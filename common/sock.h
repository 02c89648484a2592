/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_COMMON_SOCK_H
#define IC_COMMON_SOCK_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

/* Bind and listen on a unix socket (removing a stale one), mode applied with fchmod before
 * bind. Returns the fd (O_CLOEXEC|O_NONBLOCK) or -errno. */
int ic_sock_listen(const char *path, int type, mode_t mode);
int ic_sock_connect(const char *path, int type);
/* Send data with fds in one sendmsg (SCM_RIGHTS). */
int ic_sock_send_fds(int sock, const void *data, size_t len, const int *fds, int n_fds);
/* One recvmsg (MSG_CMSG_CLOEXEC | flags) of at most len bytes into buf, and the fds the message
 * carries (SCM_RIGHTS): the first max_fds (>= 0) go to fds[] in the order sent, any beyond are
 * closed. *n_fds is how many arrived in all, so it exceeds max_fds when the sender sent too many.
 * *msg_flags, unless msg_flags is NULL, is the message's msg_flags: MSG_TRUNC for data cut at
 * len (datagram and seqpacket sockets), MSG_CTRUNC for control data the kernel dropped. Returns
 * the bytes read, 0 at end of stream, or -errno with *n_fds 0; EINTR and EAGAIN are returned,
 * not retried. */
ssize_t ic_sock_recv_fds(int sock, void *buf, size_t len, int *fds, int max_fds, int *n_fds,
			 int flags, int *msg_flags);
/* The same into iovcnt buffers, filled in order. */
ssize_t ic_sock_recvv_fds(int sock, struct iovec *iov, int iovcnt, int *fds, int max_fds,
			  int *n_fds, int flags, int *msg_flags);

#endif
