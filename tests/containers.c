/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/containers.h"

static char out[1 << 16];

/* crun 1.8 refuses hybrid cgroup hosts whose cgroup2 still owns a controller; it then runs in a
 * mount namespace without the cgroup2 mount (the host is left as it is). Its stdin is a pipe:
 * crun chowns the container's stdio to its root, and the tests' </dev/null would make it chown
 * the host's /dev/null (runc leaves /dev/null alone). */
const char *ic_test_runtime_cmd(const char *rt)
{
	char ctrl[256] = "";
	FILE *f;

	if (strcmp(rt, "crun") != 0)
		return rt;
	f = fopen("/sys/fs/cgroup/unified/cgroup.controllers", "re");
	if (f) {
		if (!fgets(ctrl, sizeof(ctrl), f))
			ctrl[0] = 0;
		fclose(f);
	}
	if (!ctrl[0] || ctrl[0] == '\n')
		return "sh -c 'true | exec crun \"$@\"' crun";
	return "unshare -m --propagation private sh -c 'umount /sys/fs/cgroup/unified && true | "
	       "exec crun \"$@\"' crun";
}

void ic_test_bundle(struct ic_test_daemon *d, const char *bundle, const char *host,
		    const char *args, bool userns, const char *cgroup, const char *policy)
{
	static char seccomp[8192];
	char path[512];
	FILE *f;
	int r;

	r = ic_test_sh(out, sizeof(out), 30,
		       "set -e; mkdir -p %s/rootfs/bin %s/rootfs/proc %s/rootfs/dev %s/rootfs/tmp; "
		       "cp /bin/busybox %s/rootfs/bin/busybox; "
		       "for a in sh free sleep cat; do ln -sf busybox %s/rootfs/bin/$a; done; "
		       "for a in mknod echo; do ln -sf busybox %s/rootfs/bin/$a; done; "
		       "cp %s %s/rootfs/bin/probe; cp %s %s/rootfs/bin/loop",
		       bundle, bundle, bundle, bundle, bundle, bundle, bundle,
		       ic_test_bin("tests/sysinfo-probe"), bundle,
		       ic_test_bin("tests/sysinfo-loop"), bundle);
	cr_assert_eq(r, 0, "bundle: %s", out);
	/* The seccomp section is what operators get from intercept-run --print oci. */
	r = ic_test_sh(seccomp, sizeof(seccomp), 30, "%s --print oci -c %s -s %s -p %s",
		       ic_test_bin("intercept-run"), d->conf, d->oci, policy ? policy : "default");
	cr_assert_eq(r, 0, "--print oci: %s", seccomp);
	snprintf(path, sizeof(path), "%s/config.json", bundle);
	f = fopen(path, "we");
	cr_assert(f);
	fprintf(f,
		"{\n"
		"  \"ociVersion\": \"1.0.2-dev\",\n"
		"  \"process\": { \"terminal\": false, \"user\": { \"uid\": 0, \"gid\": 0 },\n"
		"    \"args\": [ %s ], \"env\": [ \"PATH=/bin\" ], \"cwd\": \"/\", "
		"\"noNewPrivileges\": true%s },\n"
		"  \"root\": { \"path\": \"rootfs\", \"readonly\": false },\n"
		"  \"hostname\": \"%s\",\n"
		"  \"mounts\": [ { \"destination\": \"/proc\", \"type\": \"proc\", \"source\": "
		"\"proc\" }%s ],\n"
		"  \"linux\": {\n"
		"    \"namespaces\": [ { \"type\": \"pid\" }, { \"type\": \"ipc\" }, { \"type\": "
		"\"uts\" },\n"
		"                    { \"type\": \"mount\" }%s ],%s\n"
		"    %s,\n"
		"    \"seccomp\": %s\n"
		"  }\n"
		"}\n",
		args,
		userns ? ", \"capabilities\": { \"bounding\": [\"CAP_MKNOD\", \"CAP_SYS_ADMIN\"], "
			 "\"effective\": [\"CAP_MKNOD\", \"CAP_SYS_ADMIN\"], "
			 "\"permitted\": [\"CAP_MKNOD\", \"CAP_SYS_ADMIN\"] }"
		       : "",
		host,
		userns
		    ? ", { \"destination\": \"/dev\", \"type\": \"tmpfs\", \"source\": \"tmpfs\", "
		      "\"options\": [\"nosuid\", \"mode=755\"] }"
		    : "",
		userns ? ", { \"type\": \"user\" }" : "",
		userns ? "\n    \"uidMappings\": [ { \"containerID\": 0, \"hostID\": 100000, "
			 "\"size\": 65536 } ],"
			 "\n    \"gidMappings\": [ { \"containerID\": 0, \"hostID\": 100000, "
			 "\"size\": 65536 } ],"
		       : "",
		cgroup, seccomp);
	fclose(f);
	if (userns) {
		/* The namespace's root must reach its rootfs. */
		cr_assert_eq(ic_test_sh(out, sizeof(out), 30,
					"chmod 755 %s %s && chown -R 100000:100000 %s/rootfs",
					d->dir, bundle, bundle),
			     0, "%s", out);
	}
}

static const char *const host_devices[] = {"/dev/null",	  "/dev/zero",	  "/dev/full",
					   "/dev/random", "/dev/urandom", "/dev/tty"};
static struct stat host_device_owners[sizeof(host_devices) / sizeof(host_devices[0])];

void ic_test_host_devices_save(void)
{
	for (size_t i = 0; i < sizeof(host_devices) / sizeof(host_devices[0]); i++)
		cr_assert_eq(stat(host_devices[i], &host_device_owners[i]), 0, "%s",
			     host_devices[i]);
}

void ic_test_host_devices_restore(void)
{
	for (size_t i = 0; i < sizeof(host_devices) / sizeof(host_devices[0]); i++) {
		struct stat now;

		if (!host_device_owners[i].st_ino || stat(host_devices[i], &now) < 0)
			continue;
		if (now.st_uid != host_device_owners[i].st_uid ||
		    now.st_gid != host_device_owners[i].st_gid)
			(void)chown(host_devices[i], host_device_owners[i].st_uid,
				    host_device_owners[i].st_gid);
	}
}

void ic_test_lxc_setup(struct ic_test_daemon *d, char *lxcpath)
{
	int r;

	cr_assert_eq(ic_test_sh(NULL, 0, 10, "command -v lxc-start"), 0, "lxc is not installed");
	snprintf(lxcpath, 64, "/tmp/ic-lxc.XXXXXX");
	cr_assert(mkdtemp(lxcpath));
	/* The unprivileged containers' ids must be able to traverse it. */
	chmod(lxcpath, 0755);
	/* The profile exactly as intercept-run --print lxc gives it to operators. */
	r = ic_test_sh(out, sizeof(out), 30,
		       "%s --print lxc -c %s -s %s/lxc.sock | sed -n '/^#   2$/,/^#   EOF/p' | "
		       "sed -e 's/^#   //' -e '/^EOF$/d' > %s/profile.seccomp && "
		       "%s --print lxc -c %s -s %s/lxc.sock | grep '^lxc\\.' > %s/proxy.conf",
		       ic_test_bin("intercept-run"), d->conf, d->dir, lxcpath,
		       ic_test_bin("intercept-run"), d->conf, d->dir, lxcpath);
	cr_assert_eq(r, 0, "--print lxc: %s", out);
}

void ic_test_lxc_create(const char *lxcpath, const char *name, bool unprivileged,
			const char *loop_args)
{
	int r = ic_test_sh(
	    out, sizeof(out), 120,
	    "set -e; P=%s; N=%s; "
	    "printf 'lxc.net.0.type = empty\\nlxc.apparmor.profile = unconfined\\n' > $P/$N.conf; "
	    "%s"
	    "lxc-create -P $P -n $N -f $P/$N.conf -t busybox >/dev/null; "
	    "cp %s $P/$N/rootfs/bin/probe; cp %s $P/$N/rootfs/bin/loop; "
	    "printf '#!/bin/sh\\nprobe > /tmp/init.out 2>&1\\n"
	    "while [ ! -e /go ]; do sleep 0.05; done\\n"
	    "loop %s > /tmp/loop.tmp 2>&1; mv /tmp/loop.tmp /tmp/loop.out\\n"
	    "exec sleep 1000\\n' > $P/$N/rootfs/init.sh; "
	    "chmod 755 $P/$N/rootfs/init.sh; "
	    "cat $P/proxy.conf >> $P/$N/config; "
	    "printf 'lxc.seccomp.profile = %%s/profile.seccomp\\nlxc.init.cmd = /init.sh\\n' $P >> "
	    "$P/$N/config; "
	    "if [ -d /sys/fs/cgroup/memory ]; then echo 'lxc.cgroup.memory.limit_in_bytes = "
	    "67108864'; "
	    "else echo 'lxc.cgroup2.memory.max = 67108864'; fi >> $P/$N/config",
	    lxcpath, name,
	    unprivileged
		? "printf 'lxc.idmap = u 0 100000 65536\\nlxc.idmap = g 0 100000 65536\\n' >> "
		  "$P/$N.conf; "
		: "",
	    ic_test_bin("tests/sysinfo-probe"), ic_test_bin("tests/sysinfo-loop"), loop_args);
	cr_assert_eq(r, 0, "lxc-create %s: %s", name, out);
}

void ic_test_lxc_start(const char *lxcpath, const char *name)
{
	int r = ic_test_sh(out, sizeof(out), 60, "lxc-start -P %s -n %s -d -o %s/%s.log", lxcpath,
			   name, lxcpath, name);

	cr_assert_eq(r, 0, "lxc-start %s: %s", name, out);
	/* The init's probe has run once its output is there: within LXC's own 30 s for an
	 * answer, even from a daemon built to be slow on a busy machine. */
	r = ic_test_sh(
	    out, sizeof(out), 60,
	    "for i in $(seq 300); do grep -q mem_unit %s/%s/rootfs/tmp/init.out 2>/dev/null && "
	    "exit 0; sleep 0.1; done; exit 1",
	    lxcpath, name);
	cr_assert_eq(r, 0, "the init of %s never ran the probe", name);
}
