/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/notify.h"

int ic_notif_recv(int fd, struct seccomp_notif *req)
{
	memset(req, 0, sizeof(*req));
	if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, req) < 0)
		return -errno;
	return 0;
}

int ic_notif_send(int fd, const struct seccomp_notif_resp *resp)
{
	if (ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, resp) < 0)
		return -errno;
	return 0;
}

int ic_notif_id_valid(int fd, uint64_t id)
{
	if (ioctl(fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0)
		return 0;
	/* Old kernels only know the first, mis-directioned number. */
	if (errno == EINVAL && ioctl(fd, IC_SECCOMP_IOCTL_NOTIF_ID_VALID_OLD, &id) == 0)
		return 0;
	return -errno;
}

int ic_notif_set_sync_wakeup(int fd)
{
	if (ioctl(fd, SECCOMP_IOCTL_NOTIF_SET_FLAGS, (__u64)SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) < 0)
		return -errno;
	return 0;
}

int ic_notif_check_fd(int fd)
{
	char path[64], target[64];
	ssize_t n;
	uint64_t id = 0;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = 0;
	if (strcmp(target, "anon_inode:seccomp notify") != 0)
		return -EINVAL;
	/* Id 0 is never valid: a listener answers ENOENT, anything else ENOTTY. */
	if (ioctl(fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0)
		return -EINVAL;
	return errno == ENOENT ? 0 : -errno;
}

int ic_notif_check_sizes(void)
{
	struct seccomp_notif_sizes sz;

	if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sz) < 0)
		return -errno;
	/* We copy into our own structs: the kernel must not write more than they hold. */
	if (sz.seccomp_notif > sizeof(struct seccomp_notif) ||
	    sz.seccomp_notif_resp > sizeof(struct seccomp_notif_resp))
		return -EOPNOTSUPP;
	return 0;
}
