/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_TESTS_CONTAINERS_H
#define IC_TESTS_CONTAINERS_H

#include <stdbool.h>

#include "tests/harness.h"

/* Real containers for tests: OCI bundles for runc and crun, and LXC containers, each under the
 * profile intercept-run prints for the daemon d. */

/* How to run runtime rt ("runc", "crun") in a shell command. */
const char *ic_test_runtime_cmd(const char *rt);
/* A bundle in dir: a busybox rootfs with probe (sysinfo-probe) and loop (sysinfo-loop) in /bin,
 * process.args [args] (JSON list items), hostname host, the seccomp section of `intercept-run
 * --print oci -p policy` (NULL: default) and cgroup in the linux section ("cgroupsPath" and
 * "resources"). userns: a user namespace mapping 0-65535 to 100000-165535, CAP_MKNOD
 * (namespaced) and a tmpfs /dev, as unprivileged runtimes make it. */
void ic_test_bundle(struct ic_test_daemon *d, const char *dir, const char *host, const char *args,
		    bool userns, const char *cgroup, const char *policy);

/* crun 1.8, in a user namespace with a tmpfs /dev, chowns the host's device nodes it binds into
 * the container (null, zero, full, random, urandom, tty) to the container's root. A suite that
 * runs such containers saves their owners at its start and puts them back at its end. */
void ic_test_host_devices_save(void);
void ic_test_host_devices_restore(void);

/* A directory for LXC containers (lxcpath, at least 64 bytes) with the profile and the proxy
 * settings `intercept-run --print lxc` gives for d. */
void ic_test_lxc_setup(struct ic_test_daemon *d, char *lxcpath);
/* A busybox container limited to 64 MiB whose init runs the probe once, then, once /go exists,
 * runs `loop LOOP_ARGS` into /tmp/loop.out, then waits; attach runs the probe again. */
void ic_test_lxc_create(const char *lxcpath, const char *name, bool unprivileged,
			const char *loop_args);
/* Start it, and wait until its init has run the probe. */
void ic_test_lxc_start(const char *lxcpath, const char *name);

#endif
