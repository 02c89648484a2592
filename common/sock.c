/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/macros.h"
#include "common/sock.h"

static int sock_addr(const char *path, struct sockaddr_un *sa)
{
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, path, n + 1);
	return 0;
}

int ic_sock_listen(const char *path, int type, mode_t mode)
{
	_cleanup_close_ int fd = -EBADF;
	struct sockaddr_un sa;
	int r = sock_addr(path, &sa);

	if (r < 0)
		return r;
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* The mode must hold from the first instant the path exists. */
	if (fchmod(fd, mode) < 0)
		return -errno;
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	if (chmod(path, mode) < 0)
		return -errno;
	if (listen(fd, SOMAXCONN) < 0)
		return -errno;
	return TAKE_FD(fd);
}

int ic_sock_connect(const char *path, int type)
{
	_cleanup_close_ int fd = -EBADF;
	struct sockaddr_un sa;
	int r = sock_addr(path, &sa);

	if (r < 0)
		return r;
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	return TAKE_FD(fd);
}

int ic_sock_send_fds(int sock, const void *data, size_t len, const int *fds, int n_fds)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * 16)];
	} control;
	struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	ssize_t n;

	if (n_fds < 0 || n_fds > 16)
		return -EINVAL;
	if (n_fds > 0) {
		struct cmsghdr *cm;

		memset(&control, 0, sizeof(control));
		mh.msg_control = control.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * n_fds);
	}
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if ((size_t)n != len) {
		/* The fds went with the first bytes; the rest follows as plain data. */
		const char *p = (const char *)data + n;
		size_t left = len - (size_t)n;

		while (left > 0) {
			n = send(sock, p, left, MSG_NOSIGNAL);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				return -errno;
			}
			p += n;
			left -= (size_t)n;
		}
	}
	return 0;
}

/* The kernel's SCM_MAX_FD: every fd one message can carry. */
#define SOCK_FDS_MAX 253

ssize_t ic_sock_recv_fds(int sock, void *buf, size_t len, int *fds, int max_fds, int *n_fds,
			 int flags, int *msg_flags)
{
	struct iovec iov = {.iov_base = buf, .iov_len = len};

	return ic_sock_recvv_fds(sock, &iov, 1, fds, max_fds, n_fds, flags, msg_flags);
}

ssize_t ic_sock_recvv_fds(int sock, struct iovec *iov, int iovcnt, int *fds, int max_fds,
			  int *n_fds, int flags, int *msg_flags)
{
	/* Room for all of them and the sender's credentials (SO_PASSCRED): the count is then
	 * exact, not cut short by MSG_CTRUNC. */
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * SOCK_FDS_MAX) + CMSG_SPACE(sizeof(struct ucred))];
	} control;
	struct msghdr mh = {.msg_iov = iov,
			    .msg_iovlen = (size_t)iovcnt,
			    .msg_control = control.buf,
			    .msg_controllen = sizeof(control.buf)};
	ssize_t n;

	*n_fds = 0;
	if (msg_flags)
		*msg_flags = 0;
	n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | flags);
	if (n < 0)
		return -errno;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		size_t k;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (*n_fds < max_fds)
				fds[*n_fds] = fd;
			else
				close(fd);
			(*n_fds)++;
		}
	}
	if (msg_flags)
		*msg_flags = mh.msg_flags;
	return n;
}
