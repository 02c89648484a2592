/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_COMMON_FILTER_H
#define IC_COMMON_FILTER_H

#include <stdbool.h>
#include <stdio.h>

struct ic_policy;

/* Build the libseccomp filter of a policy: default ALLOW, SCMP_ACT_NOTIFY for each enabled
 * syscall with the argument conditions of doc/design.md §11, for x86_64 and i386. Returns a
 * scmp_filter_ctx (as void *) or NULL with errno set. */
void *ic_filter_build(const struct ic_policy *p);
/* Whether the policy notifies any syscall at all (else there is no listener to hand over). */
bool ic_filter_wanted(const struct ic_policy *p);
/* Load the filter built above with NEW_LISTENER; returns the listener fd or -errno (-ENOMSG: the
 * policy notifies nothing, so the kernel made no listener). */
int ic_filter_load(void *ctx);
void ic_filter_free(void *ctx);

/* Print the OCI "seccomp" fragment (JSON, listenerPath = socket) or the LXC profile lines. */
int ic_filter_print_oci(const struct ic_policy *p, const char *socket, FILE *out);
int ic_filter_print_lxc(const struct ic_policy *p, const char *socket, FILE *out);
/* The OCI profile at base_path (a runtime's default: containers/podman, Docker, OCI) with the
 * policy's rules merged in, listenerPath and listenerMetadata set: the base decides every call
 * we do not notify, with its own conditions (includes, excludes, errno). -EINVAL with err set
 * when the base cannot be merged safely (a rule of its own with argument conditions on one of
 * our syscalls). */
int ic_filter_merge_oci(const struct ic_policy *p, const char *socket, const char *base_path,
			FILE *out, char *err, size_t errlen);

#endif
