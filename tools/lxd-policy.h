/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_TOOLS_LXD_POLICY_H
#define IC_TOOLS_LXD_POLICY_H

#include <stdio.h>

#include "common/conf.h"

/* Reads `lxc config show` (or `incus config show`) YAML from in and writes a [policy NAME]
 * section of its security.syscalls.intercept.* keys to out, each value checked as the daemon
 * would; keys the daemon lacks become comments and are counted in *skipped. Returns 0, or -errno
 * with err naming the input line and key (doc/lxd-migration.md). */
int ic_lxd_policy(FILE *in, FILE *out, const char *name, unsigned *skipped,
		  char err[IC_CONF_ERR_MAX]);

#endif
