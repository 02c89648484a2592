/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_COMMON_OCI_H
#define IC_COMMON_OCI_H

#include <stddef.h>
#include <sys/types.h>

#define IC_OCI_MSG_MAX (64 * 1024)
#define IC_OCI_ID_MAX  256
#define IC_OCI_FDS_MAX 8

/* The "container process state" runc and crun send with the listener. */
struct ic_oci_state {
	char id[IC_OCI_ID_MAX];	 /* state.id */
	char status[32];	 /* state.status: creating, running, ... */
	pid_t pid;		 /* the process the listener belongs to (host pid) */
	pid_t init_pid;		 /* state.pid: the container's init (host pid) */
	int n_fds;		 /* entries in the fds array */
	int seccomp_fd_index;	 /* index of "seccompFd" in fds, -1 when absent */
	char *metadata;		 /* NULL when absent */
	char *policy_annotation; /* state.annotations["org.interceptd.policy"], NULL when absent */
};

/* Parse one complete JSON message of len bytes. Returns 0, -EAGAIN when the text is a valid
 * prefix that needs more bytes, or -EINVAL with a reason in err (at most errlen bytes). */
int ic_oci_parse(const char *buf, size_t len, struct ic_oci_state *st, char *err, size_t errlen);
void ic_oci_state_done(struct ic_oci_state *st);

/* The message intercept-run sends; malloc'd NUL-terminated JSON, NULL on ENOMEM. */
char *ic_oci_format(const char *id, pid_t pid, pid_t init_pid, const char *status,
		    const char *metadata);
/* The same for a parsed message: all that registering it again needs, and nothing more (the
 * keeper keeps this instead of what the runtime sent). */
char *ic_oci_format_state(const struct ic_oci_state *st);

#endif
