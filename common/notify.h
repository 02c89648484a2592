/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_COMMON_NOTIFY_H
#define IC_COMMON_NOTIFY_H

#include <linux/seccomp.h>
#include <stdbool.h>
#include <stdint.h>

#ifndef SECCOMP_USER_NOTIF_FLAG_CONTINUE
#define SECCOMP_USER_NOTIF_FLAG_CONTINUE (1UL << 0)
#endif
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif
#define IC_SECCOMP_IOCTL_NOTIF_ID_VALID_OLD SECCOMP_IOR(2, __u64)

/* Raw ioctl wrappers. Any thread. They return 0 or -errno and keep -ENOENT distinct: it means the
 * target went away (interrupted or dead), which is normal and not an error. */
int ic_notif_recv(int fd, struct seccomp_notif *req);
int ic_notif_send(int fd, const struct seccomp_notif_resp *resp);
int ic_notif_id_valid(int fd, uint64_t id);
int ic_notif_set_sync_wakeup(int fd);
/* 0 when fd is a seccomp listener, -ENOTTY / -EBADF / -EINVAL otherwise. */
int ic_notif_check_fd(int fd);
/* The kernel's struct sizes; -EOPNOTSUPP when larger than what we were built with. */
int ic_notif_check_sizes(void);

#endif
