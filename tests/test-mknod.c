/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "tests/harness.h"

/* Integration: mknod/mknodat and the setxattr family through the real daemon, in intercept-run
 * containers with a user namespace (container 0 = host 100000) pivoted into a scratch rootfs. */

static struct ic_test_daemon d;
static char out[1 << 16];
static char root[128];

#define CT_ROOT 100000

static void setup_with(const char *server_extra)
{
	int r;

	ic_test_daemon_start(&d, server_extra,
			     "[policy default]\nsecurity.syscalls.intercept.sysinfo = true\n"
			     "security.syscalls.intercept.mknod = true\n"
			     "security.syscalls.intercept.setxattr = true\n");
	snprintf(root, sizeof(root), "%s/rootfs", d.dir);
	/* w: the container's (100000); hostdir: the host's, 0755; sg: setgid, group 100005. */
	r = ic_test_sh(out, sizeof(out), 30,
		       "set -e; R=%s; mkdir -p $R/bin $R/proc $R/w $R/hostdir $R/sg $R/ro $R/dev; "
		       "cp %s $R/bin/ictool; chmod 755 %s $R; chown %d:%d $R/w $R/dev; "
		       "chown %d:%d $R/sg; chmod 2775 $R/sg; chown %d:%d $R/ro; "
		       "mount --bind $R/ro $R/ro; mount -o remount,bind,ro $R/ro",
		       root, ic_test_bin("tests/ictool"), d.dir, CT_ROOT, CT_ROOT, CT_ROOT,
		       CT_ROOT + 5, CT_ROOT, CT_ROOT);
	cr_assert_eq(r, 0, "rootfs: %s", out);
}

static void setup(void)
{
	setup_with(NULL);
}

static void teardown(void)
{
	if (root[0])
		ic_test_sh(NULL, 0, 30, "umount -l %s/ro %s/w/fz 2>/dev/null; true", root, root);
	ic_test_daemon_stop(&d);
}

TestSuite(mknod, .init = setup, .fini = teardown, .timeout = 120);
TestSuite(setxattr, .init = setup, .fini = teardown, .timeout = 120);

/* One worker: every call below finds the context the call before it parked (doc/design.md
 * §10), so each state change of the caller meets the kept context on its very next call. */
static void setup_one_worker(void)
{
	int r;

	setup_with("workers = 1");
	/* sub: a root to chroot into; d1, d2: cwds; open: 1777; m: a mount point; gdir: owned by
	 * the host's root, which the namespace does not map, open to group 100007 only. */
	r = ic_test_sh(
	    out, sizeof(out), 30,
	    "set -e; R=%s; mkdir -p $R/w/sub/xd $R/w/d1 $R/w/d2 $R/w/open $R/w/m $R/gdir; "
	    "chown -R %d:%d $R/w; chmod 1777 $R/w/open; chown 0:%d $R/gdir; "
	    "chmod 0070 $R/gdir",
	    root, CT_ROOT, CT_ROOT, CT_ROOT + 7);
	cr_assert_eq(r, 0, "rootfs: %s", out);
}

TestSuite(callerctx, .init = setup_one_worker, .fini = teardown, .timeout = 120);

/* ictool ARGS inside a --userns container pivoted into root; output in out. */
static long long ct(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static long long ct(const char *fmt, ...)
{
	char args[2048];
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	r = ic_test_sh(out, sizeof(out), 60,
		       "%s -c %s -s %s --userns --rootfs %s -- /bin/ictool %s",
		       ic_test_bin("intercept-run"), d.conf, d.oci, root, args);
	cr_assert_eq(r, 0, "intercept-run ... ictool %s: %s", args, out);
	return ic_test_kv(out, "errno");
}

static struct stat host_stat(const char *rel)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	cr_assert_eq(lstat(path, &st), 0, "%s: %s", path, strerror(errno));
	return st;
}

static bool host_exists(const char *rel)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	return lstat(path, &st) == 0;
}

Test(mknod, every_safe_character_device_is_created)
{
	/* 5:1 is always the host's node, bound in the container's mount namespace: see below. */
	static const unsigned devs[][2] = {{1, 3}, {1, 5}, {1, 7}, {1, 8}, {1, 9}, {5, 0}};

	for (size_t i = 0; i < sizeof(devs) / sizeof(devs[0]); i++) {
		char rel[64];
		struct stat st;

		snprintf(rel, sizeof(rel), "w/dev%zu", i);
		cr_expect_eq(ct("mknod /%s c %u %u", rel, devs[i][0], devs[i][1]), 0, "%u:%u: %s",
			     devs[i][0], devs[i][1], out);
		st = host_stat(rel);
		cr_expect(S_ISCHR(st.st_mode) && major(st.st_rdev) == devs[i][0] &&
			      minor(st.st_rdev) == devs[i][1],
			  "%u:%u", devs[i][0], devs[i][1]);
		cr_expect_eq(st.st_uid, CT_ROOT);
		cr_expect_eq(st.st_gid, CT_ROOT);
	}
	cr_expect(ic_test_stat_reaches(&d, "answers.emulated", 6, 5000));
}

/* The console is never the host's: a null device node the container owns stands in for it,
 * inside the container and after it. */
Test(mknod, console_is_a_null_node_the_container_owns)
{
	struct stat st;

	ct("mknod-stat-write /w/console c 5 1");
	cr_expect(strstr(out, "step=mknod ret=0"), "%s", out);
	cr_expect(strstr(out, "chr=1 major=1 minor=3 uid=0"), "not the container's null: %s", out);
	cr_expect(strstr(out, "step=write ret=2"), "%s", out);
	st = host_stat("w/console");
	cr_expect(S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 && minor(st.st_rdev) == 3,
		  "the host holds something else than a null node");
	cr_expect_eq(st.st_uid, CT_ROOT);
	cr_expect(ic_test_log_has(&d, "c 5:1 (a null device node stands in for it): done"));
}

/* GNU tar -xpf of a root filesystem holding dev/console, as debootstrap and every distribution
 * tarball have it, in an unprivileged container: it extracts (node, owner, times), extracts
 * again over itself, is removed with rm -rf, and a second container (a restart) does it all
 * again; the host is left with the container's null node, never an empty file. */
Test(mknod, gnu_tar_extracts_a_root_filesystem_with_a_console_again_and_again)
{
	char script[256];
	int r;

	r = ic_test_sh(
	    out, sizeof(out), 30,
	    "set -e; D=%s; mkdir -p $D/src/dev $D/src/etc $D/x; mknod $D/src/dev/console c "
	    "5 1; mknod $D/src/dev/null c 1 3; echo box > $D/src/etc/hostname; "
	    "chmod 600 $D/src/dev/console; tar -C $D/src -cf $D/rootfs.tar dev etc; "
	    "chown 100000:100000 $D/x; chmod 755 $D; printf '%%s\n' "
	    "'tar -xpf '$D'/rootfs.tar -C '$D'/x; echo tar=$?' "
	    "'tar -xpf '$D'/rootfs.tar -C '$D'/x; echo again=$?' "
	    "'ls -ln '$D'/x/dev/console' "
	    "'rm -rf '$D'/x/dev; echo rm=$?' "
	    "'tar -xpf '$D'/rootfs.tar -C '$D'/x; echo last=$?' > $D/tar.sh",
	    d.dir);
	cr_assert_eq(r, 0, "%s", out);
	snprintf(script, sizeof(script), "/bin/sh %s/tar.sh", d.dir);
	for (int run = 0; run < 2; run++) {
		r = ic_test_sh(out, sizeof(out), 60, "%s -c %s -s %s --userns -- %s",
			       ic_test_bin("intercept-run"), d.conf, d.oci, script);
		cr_assert_eq(r, 0, "%s", out);
		cr_expect_eq(ic_test_kv(out, "tar"), 0, "run %d: %s", run, out);
		cr_expect_eq(ic_test_kv(out, "again"), 0, "run %d: %s", run, out);
		cr_expect_eq(ic_test_kv(out, "rm"), 0, "run %d: %s", run, out);
		cr_expect_eq(ic_test_kv(out, "last"), 0, "run %d: %s", run, out);
		cr_expect(strstr(out, "crw------- 1 0 0 1, 3"), "run %d: %s", run, out);
	}
	r = ic_test_sh(out, sizeof(out), 10, "stat -c '%%F %%t:%%T %%u' %s/x/dev/console", d.dir);
	cr_expect(strstr(out, "character special file 1:3 100000"), "the host holds: %s", out);
}

Test(mknod, other_devices_are_refused_by_the_kernel)
{
	cr_expect_eq(ct("mknod /w/loop b 7 0"), EPERM, "%s", out);
	cr_expect_eq(ct("mknod /w/tty1 c 4 1"), EPERM, "%s", out);
	cr_expect_eq(ct("mknod /w/mem c 1 1"), EPERM, "%s", out);
	cr_expect_eq(ct("mknod /w/kmsg c 1 11"), EPERM, "%s", out);
	cr_expect(!host_exists("w/loop") && !host_exists("w/tty1") && !host_exists("w/mem"));
	cr_expect(ic_test_stat_reaches(&d, "answers.continued", 4, 5000));
}

Test(mknod, whiteout_is_left_to_the_kernel_and_works)
{
	struct stat st;

	cr_expect_eq(ct("mknod /w/wh c 0 0"), 0, "%s", out);
	st = host_stat("w/wh");
	cr_expect(S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0));
	cr_expect(ic_test_stat_reaches(&d, "answers.continued", 1, 5000));
	cr_expect_eq(ic_test_stat(&d, "answers.emulated"), 0);
}

Test(mknod, fifo_is_not_intercepted)
{
	cr_expect_eq(ct("mknod /w/fifo p 0 0"), 0, "%s", out);
	cr_expect(S_ISFIFO(host_stat("w/fifo").st_mode));
	cr_expect_eq(ic_test_stat(&d, "received"), 0, "the filter passed a FIFO mknod");
}

Test(mknod, mode_follows_the_callers_umask)
{
	cr_expect_eq(ct("-u 022 mknod /w/n022 c 1 3 0666"), 0, "%s", out);
	cr_expect_eq(host_stat("w/n022").st_mode & 07777, 0644);
	cr_expect_eq(ct("-u 077 mknod /w/n077 c 1 3 0666"), 0, "%s", out);
	cr_expect_eq(host_stat("w/n077").st_mode & 07777, 0600);
}

Test(mknod, setgid_directory_gives_its_group)
{
	cr_expect_eq(ct("mknod /sg/null c 1 3"), 0, "%s", out);
	cr_expect_eq(host_stat("sg/null").st_uid, CT_ROOT);
	cr_expect_eq(host_stat("sg/null").st_gid, CT_ROOT + 5, "setgid directory ignored");
}

Test(mknod, errors_are_the_kernels)
{
	cr_expect_eq(ct("mknod /w/x c 1 3"), 0, "%s", out);
	cr_expect_eq(ct("mknod /w/x c 1 3"), EEXIST, "%s", out);
	cr_expect_eq(ct("mknod /w/missing/x c 1 3"), ENOENT, "%s", out);
	cr_expect_eq(ct("mknod /w/x/y c 1 3"), ENOTDIR, "%s", out);
	cr_expect_eq(ct("mknod /ro/x c 1 3"), EROFS, "%s", out);
	/* Owned by the host's root, which the container's namespace does not map. */
	cr_expect_eq(ct("mknod /hostdir/x c 1 3"), EACCES, "%s", out);
	cr_expect(!host_exists("hostdir/x"));
	cr_expect_eq(ct("fault-mknod"), EFAULT, "%s", out);
	/* Longer than PATH_MAX, and a component longer than NAME_MAX. */
	cr_expect_eq(ct("mknod /w/$(head -c 5000 /dev/zero | tr '\\0' a) c 1 3"), ENAMETOOLONG,
		     "%.100s", out);
	cr_expect_eq(ct("mknod /w/$(head -c 300 /dev/zero | tr '\\0' a) c 1 3"), ENAMETOOLONG,
		     "%.100s", out);
	/* A symlink loop. */
	cr_assert_eq(ic_test_sh(NULL, 0, 10, "ln -s b %s/w/a && ln -s a %s/w/b", root, root), 0);
	cr_expect_eq(ct("mknod /w/a/x c 1 3"), ELOOP, "%s", out);
	/* The last component is never followed: a dangling symlink is EEXIST. */
	cr_assert_eq(ic_test_sh(NULL, 0, 10, "ln -s nowhere %s/w/dangling", root), 0);
	cr_expect_eq(ct("mknod /w/dangling c 1 3"), EEXIST, "%s", out);
}

Test(mknod, symlinks_never_lead_out_of_the_callers_root)
{
	char host[256];

	/* An absolute symlink and a ../ climb, both aimed at a host directory. */
	snprintf(host, sizeof(host), "%s/outside", d.dir);
	cr_assert_eq(ic_test_sh(NULL, 0, 10,
				"mkdir -p %s && chmod 777 %s && ln -s %s %s/w/abs && "
				"ln -s ../../../../../../../%s %s/w/rel",
				host, host, host, root, host, root),
		     0);
	cr_expect_eq(ct("mknod /w/abs/x c 1 3"), ENOENT, "%s", out);
	cr_expect_eq(ct("mknod /w/rel/x c 1 3"), ENOENT, "%s", out);
	cr_expect_eq(ct("mknod /../../../../../../../%s/y c 1 3", host), ENOENT, "%s", out);
	cr_expect_eq(ic_test_sh(NULL, 0, 10, "test -z \"$(ls -A %s)\"", host), 0,
		     "the host directory was written to");
	/* /proc/self inside the container must not lead to the daemon's root either. */
	cr_expect_neq(ct("mknod /proc/self/root/tmp/x c 1 3"), 0, "%s", out);
}

Test(mknod, relative_paths_and_dirfds_resolve_like_the_kernels)
{
	/* ictool's cwd in the container is / */
	cr_expect_eq(ct("mknod w/rel c 1 3"), 0, "%s", out);
	cr_expect(host_exists("w/rel"));
	cr_expect_eq(ct("mknodat /w at c 1 5"), 0, "%s", out);
	cr_expect(S_ISCHR(host_stat("w/at").st_mode));
	cr_expect_eq(ct("mknodat /w /w/abs-ignores-dirfd c 1 5"), 0, "%s", out);
	cr_expect(host_exists("w/abs-ignores-dirfd"));
	cr_expect_eq(ct("mknodat-badfd rel2"), EBADF, "%s", out);
	cr_expect_eq(ct("mknodat-filefd /bin/ictool rel3"), ENOTDIR, "%s", out);
}

Test(mknod, workers_take_back_their_own_identity)
{
	char status[4096];
	int r;

	cr_expect_eq(ct("-G 7 mknod /w/ident c 1 3"), 0, "%s", out);
	/* Every thread of the daemon: fs ids 0, no supplementary groups, all its capabilities,
	 * once its workers are idle (a busy one keeps the caller's context for the next call). */
	for (int i = 0; i < 40; i++) {
		/* The serving process is the keeper's child. */
		r = ic_test_sh(status, sizeof(status), 10,
			       "P=%d; for t in $(for p in $P $(cat /proc/$P/task/*/children); do "
			       "echo /proc/$p/task/*; done); do "
			       "grep -E '^(Uid|Gid|Groups|CapEff):' $t/status | tr -s '\t' ' ' | "
			       "tr '\n' ' '; readlink $t/root; done | sort | uniq -c",
			       (int)d.pid);
		cr_assert_eq(r, 0);
		if (strchr(status, '\n') && strchr(status, '\n')[1] == 0)
			break;
		usleep(50000);
	}
	cr_expect(strstr(status, "Uid: 0 0 0 0 Gid: 0 0 0 0 Groups: "), "%s", status);
	cr_expect(!strstr(status, "Groups: 7") && !strstr(status, " 7 ") &&
		      !strstr(status, "100000"),
		  "a worker kept the caller's identity: %s", status);
	/* One line: every thread alike, in the same root. */
	cr_expect(strchr(status, '\n') && strchr(status, '\n')[1] == 0, "threads differ: %s",
		  status);
}

Test(mknod, non_leader_thread_is_served)
{
	cr_expect_eq(ct("-t mknod /w/thread c 1 9"), 0, "%s", out);
	cr_expect(S_ISCHR(host_stat("w/thread").st_mode));
}

Test(mknod, caller_without_cap_mknod_gets_the_kernels_refusal)
{
	/* A directory it may write to, or the kernel's EACCES would come first. */
	cr_assert_eq(ic_test_sh(NULL, 0, 10, "mkdir -m 1777 %s/w/open", root), 0);
	cr_expect_eq(ct("-i 1000:1000 mknod /w/open/nocap c 1 3"), EPERM, "%s", out);
	cr_expect(!host_exists("w/open/nocap"));
	cr_expect_eq(ct("-i 1000:1000 mknod /w/nocap c 1 3"), EACCES, "%s", out);
}

Test(mknod, node_on_a_user_namespace_tmpfs_is_usable)
{
	int r = ic_test_sh(out, sizeof(out), 60,
			   "%s -c %s -s %s --userns --rootfs %s -- /bin/ictool mount-tmpfs /dev "
			   "mknod /dev/null c 1 3 write /dev/null",
			   ic_test_bin("intercept-run"), d.conf, d.oci, root);

	cr_assert_eq(r, 0, "%s", out);
	cr_expect(strstr(out, "step=mount ret=0"), "%s", out);
	cr_expect(strstr(out, "step=mknod ret=0"), "%s", out);
	cr_expect(strstr(out, "step=write ret=2"), "writing to the new /dev/null failed: %s", out);
}

Test(mknod, image_layers_with_whiteout_and_opaque_directory_work_as_overlayfs)
{
	int r;

	/* Lower layer: /etc/a, /etc/b, /opq/old. Upper layer, made in the container through the
	 * intercepted calls: a whiteout for /etc/a and /opq marked opaque with /opq/new. */
	r = ic_test_sh(out, sizeof(out), 30,
		       "set -e; L=%s/w/lower; U=%s/w/upper; mkdir -p $L/etc $L/opq $U/etc $U/opq "
		       "%s/w/work %s/w/merged; echo a > $L/etc/a; echo b > $L/etc/b; "
		       "echo old > $L/opq/old; echo new > $U/opq/new; chown -R %d:%d %s/w",
		       root, root, root, root, CT_ROOT, CT_ROOT, root);
	cr_assert_eq(r, 0, "%s", out);
	cr_expect_eq(ct("mknod /w/upper/etc/a c 0 0"), 0, "whiteout: %s", out);
	cr_expect_eq(ct("setxattr /w/upper/opq trusted.overlay.opaque y"), 0, "opaque: %s", out);
	r = ic_test_sh(
	    out, sizeof(out), 30,
	    "set -e; W=%s/w; mount -t overlay overlay -o lowerdir=$W/lower,upperdir=$W/upper,"
	    "workdir=$W/work $W/merged; ls $W/merged/etc; echo --; ls $W/merged/opq; "
	    "umount $W/merged",
	    root);
	cr_assert_eq(r, 0, "overlay: %s", out);
	cr_expect(!strstr(out, "a\nb") && strstr(out, "b\n--"),
		  "the whiteout did not hide etc/a: %s", out);
	cr_expect(strstr(out, "--\nnew") && !strstr(out, "old"),
		  "the opaque directory did not hide opq/old: %s", out);
}

Test(setxattr, opaque_marker_is_set_with_cap_sys_admin)
{
	char path[256], v[8] = "";

	cr_expect_eq(ct("setxattr /w trusted.overlay.opaque y"), 0, "%s", out);
	snprintf(path, sizeof(path), "%s/w", root);
	cr_expect_eq(getxattr(path, "trusted.overlay.opaque", v, sizeof(v)), 1);
	cr_expect_eq(v[0], 'y');
	cr_expect(ic_test_stat_reaches(&d, "answers.emulated", 1, 5000));
}

Test(setxattr, only_on_what_the_container_owns)
{
	char path[256], v[8] = "";

	/* Owned by the host's root, which the container's namespace does not map. */
	cr_expect_eq(ct("setxattr /hostdir trusted.overlay.opaque y"), EPERM, "%s", out);
	cr_expect_eq(ct("lsetxattr /hostdir trusted.overlay.opaque y"), EPERM, "%s", out);
	cr_expect_eq(ct("fsetxattr /hostdir trusted.overlay.opaque y"), EPERM, "%s", out);
	snprintf(path, sizeof(path), "%s/hostdir", root);
	cr_expect_lt(getxattr(path, "trusted.overlay.opaque", v, sizeof(v)), 0);
	/* A trailing slash must not follow a /proc magic link to the daemon. */
	cr_expect_neq(ct("lsetxattr /proc/self/cwd/ trusted.overlay.opaque y"), 0, "%s", out);
}

Test(setxattr, lsetxattr_and_fsetxattr)
{
	char path[256], v[8] = "";

	cr_assert_eq(
	    ic_test_sh(NULL, 0, 10,
		       "mkdir %s/w/d && ln -s d %s/w/link && chown -h %d:%d %s/w/d %s/w/link", root,
		       root, CT_ROOT, CT_ROOT, root, root),
	    0);
	cr_expect_eq(ct("lsetxattr /w/link trusted.overlay.opaque y"), 0, "%s", out);
	snprintf(path, sizeof(path), "%s/w/link", root);
	cr_expect_eq(lgetxattr(path, "trusted.overlay.opaque", v, sizeof(v)), 1, "not on the link");
	snprintf(path, sizeof(path), "%s/w/d", root);
	cr_expect_lt(getxattr(path, "trusted.overlay.opaque", v, sizeof(v)), 0,
		     "lsetxattr followed the link");
	cr_expect_eq(ct("fsetxattr /w/d trusted.overlay.opaque y"), 0, "%s", out);
	cr_expect_eq(getxattr(path, "trusted.overlay.opaque", v, sizeof(v)), 1);
}

Test(setxattr, without_cap_sys_admin_the_kernel_refuses)
{
	cr_expect_eq(ct("-i 0:0 setxattr /w trusted.overlay.opaque y"), 0, "%s", out);
	cr_expect_eq(ct("-i 1000:1000 setxattr /w trusted.overlay.opaque y"), EPERM, "%s", out);
}

Test(setxattr, other_names_are_the_kernels)
{
	char path[256], v[8] = "";

	cr_expect_eq(ct("setxattr /w trusted.other y"), EPERM, "%s", out);
	cr_expect_eq(ct("setxattr /w user.note y"), 0, "%s", out);
	snprintf(path, sizeof(path), "%s/w", root);
	cr_expect_eq(getxattr(path, "user.note", v, sizeof(v)), 1);
	cr_expect_lt(getxattr(path, "trusted.other", v, sizeof(v)), 0);
}

Test(setxattr, flags_are_honoured)
{
	cr_expect_eq(ct("setxattr /w trusted.overlay.opaque y 2"), ENODATA, "XATTR_REPLACE: %s",
		     out);
	cr_expect_eq(ct("setxattr /w trusted.overlay.opaque y 1"), 0, "XATTR_CREATE: %s", out);
	cr_expect_eq(ct("setxattr /w trusted.overlay.opaque y 1"), EEXIST, "XATTR_CREATE: %s", out);
	cr_expect_eq(ct("setxattr /w trusted.overlay.opaque y 2"), 0, "XATTR_REPLACE: %s", out);
	cr_expect_eq(ct("fault-setxattr /w"), EFAULT, "%s", out);
}

Test(setxattr, fifo_target_does_not_hang_the_worker)
{
	cr_assert_eq(ic_test_sh(NULL, 0, 10, "mkfifo %s/w/fifo && chown %d:%d %s/w/fifo", root,
				CT_ROOT, CT_ROOT, root),
		     0);
	/* Whatever the filesystem says about xattrs on a FIFO, the call returns, and so do others.
	 */
	ct("setxattr /w/fifo trusted.overlay.opaque y");
	cr_expect(strstr(out, "ret="), "%s", out);
	cr_expect_eq(ct("mknod /w/after c 1 3"), 0, "%s", out);
}

/* One container making 100,000 mknod calls: each call's info line counts against the
 * container's log budget (log.ratelimit.*, by default 100 lines per 5 s), so the log stays
 * bounded, and every call is either logged or counted as suppressed, in the log's summary lines
 * and in the metrics. */
/* The steps of ictool's "steps" in one task of a --userns container; the errno of step i is
 * ic_test_kv(out, "e<i>"). */
#define STEPS(...) ct("steps " __VA_ARGS__)

static long long step_errno(int i)
{
	char key[16];

	snprintf(key, sizeof(key), "e%d", i);
	return ic_test_kv(out, key);
}

Test(callerctx, a_chroot_is_honoured_on_the_very_next_call)
{
	STEPS("mknod:/w/r0 chroot:/w/sub mknod:/r1 setxattr:/xd");
	cr_expect_eq(step_errno(1), 0, "%s", out);
	cr_expect_eq(step_errno(2), 0, "%s", out);
	cr_expect_eq(step_errno(3), 0, "mknod after chroot: %s", out);
	cr_expect_eq(step_errno(4), 0, "setxattr after chroot: %s", out);
	cr_expect(host_exists("w/r0"));
	cr_expect(host_exists("w/sub/r1"), "the node was not made in the new root");
	cr_expect(!host_exists("r1"), "the node was made in the old root");
	cr_expect(!host_exists("xd"));
}

Test(callerctx, a_parked_worker_sets_the_attribute_through_the_hosts_proc)
{
	char path[256], v[8] = "";

	/* After a call that parks the worker in the container's root, fsetxattr and setxattr
	 * set the attribute through our /proc, not the container's. */
	STEPS("mknod:/w/p0 fsetxattr:/w/d1 setxattr:/w/d2");
	for (int i = 1; i <= 3; i++)
		cr_expect_eq(step_errno(i), 0, "step %d: %s", i, out);
	for (int i = 1; i <= 2; i++) {
		snprintf(path, sizeof(path), "%s/w/d%d", root, i);
		cr_expect_eq(getxattr(path, "trusted.overlay.opaque", v, sizeof(v)), 1, "%s", path);
	}
}

Test(callerctx, a_chdir_is_honoured_on_the_very_next_call)
{
	STEPS("chdir:/w/d1 mknod:c1 chdir:/w/d2 mknod:c2 chdir:/w mknod:d1/c3");
	for (int i = 1; i <= 6; i++)
		cr_expect_eq(step_errno(i), 0, "step %d: %s", i, out);
	cr_expect(host_exists("w/d1/c1"));
	cr_expect(host_exists("w/d2/c2"), "c2 not made in the new cwd");
	cr_expect(!host_exists("w/d1/c2"), "c2 made in the old cwd");
	cr_expect(host_exists("w/d1/c3"));
}

Test(callerctx, a_umask_is_honoured_on_the_very_next_call)
{
	STEPS("umask:022 mknod:/w/u1:0666 umask:077 mknod:/w/u2:0666 umask:0 mknod:/w/u3:0666");
	for (int i = 1; i <= 6; i++)
		cr_expect_eq(step_errno(i), 0, "step %d: %s", i, out);
	cr_expect_eq(host_stat("w/u1").st_mode & 07777, 0644);
	cr_expect_eq(host_stat("w/u2").st_mode & 07777, 0600);
	cr_expect_eq(host_stat("w/u3").st_mode & 07777, 0666);
}

Test(callerctx, fsuid_and_fsgid_are_honoured_on_the_very_next_call)
{
	/* A new fsuid drops the fs capabilities; the caller raises CAP_MKNOD (27) again. */
	STEPS("mknod:/w/open/i0 fsgid:5 mknod:/w/open/g5 fsuid:7 raisecap:27 mknod:/w/open/u7 "
	      "fsuid:0 fsgid:0 mknod:/w/open/i00");
	for (int i = 1; i <= 9; i++)
		cr_expect_eq(step_errno(i), 0, "step %d: %s", i, out);
	cr_expect_eq(host_stat("w/open/i0").st_uid, CT_ROOT);
	cr_expect_eq(host_stat("w/open/i0").st_gid, CT_ROOT);
	cr_expect_eq(host_stat("w/open/g5").st_uid, CT_ROOT);
	cr_expect_eq(host_stat("w/open/g5").st_gid, CT_ROOT + 5, "fsgid ignored");
	cr_expect_eq(host_stat("w/open/u7").st_uid, CT_ROOT + 7, "fsuid ignored");
	cr_expect_eq(host_stat("w/open/u7").st_gid, CT_ROOT + 5);
	cr_expect_eq(host_stat("w/open/i00").st_uid, CT_ROOT);
	cr_expect_eq(host_stat("w/open/i00").st_gid, CT_ROOT);
}

Test(callerctx, groups_are_honoured_on_the_very_next_call)
{
	/* gdir: only group 100007 may write, and its owner is not mapped, so no DAC override:
	 * the kernel's answer turns on the groups alone. */
	STEPS("groups: mknod:/gdir/a groups:7 mknod:/gdir/b groups: mknod:/gdir/c groups:3,7 "
	      "mknod:/gdir/d");
	cr_expect_eq(step_errno(2), EACCES, "without group 7: %s", out);
	cr_expect_eq(step_errno(4), 0, "with group 7: %s", out);
	cr_expect_eq(step_errno(6), EACCES, "group 7 dropped: %s", out);
	cr_expect_eq(step_errno(8), 0, "groups 3, 7: %s", out);
	cr_expect(!host_exists("gdir/a") && host_exists("gdir/b") && !host_exists("gdir/c") &&
		  host_exists("gdir/d"));
}

Test(callerctx, dropped_capabilities_are_honoured_on_the_very_next_call)
{
	/* CAP_MKNOD is 27, CAP_SYS_ADMIN 21: without them the kernel's EPERM. */
	STEPS("mknod:/w/k0 dropcap:27 mknod:/w/k1 raisecap:27 mknod:/w/k2 dropcap:21 "
	      "setxattr:/w/sub/xd");
	cr_expect_eq(step_errno(1), 0, "%s", out);
	cr_expect_eq(step_errno(3), EPERM, "CAP_MKNOD dropped: %s", out);
	cr_expect_eq(step_errno(5), 0, "CAP_MKNOD back: %s", out);
	cr_expect_eq(step_errno(7), EPERM, "CAP_SYS_ADMIN dropped: %s", out);
	cr_expect(host_exists("w/k0") && !host_exists("w/k1") && host_exists("w/k2"));
}

Test(callerctx, setuid_is_honoured_on_the_very_next_call)
{
	STEPS("mknod:/w/open/s0 uid:1000 mknod:/w/open/s1");
	cr_expect_eq(step_errno(1), 0, "%s", out);
	cr_expect_eq(step_errno(2), 0, "%s", out);
	cr_expect_eq(step_errno(3), EPERM, "after setuid: %s", out);
	cr_expect(!host_exists("w/open/s1"));
}

Test(callerctx, a_new_mount_namespace_is_honoured_on_the_very_next_call)
{
	/* The tmpfs exists only in the caller's new namespace: a node made there is not on the
	 * host's directory under it. */
	STEPS("mknod:/w/m/a unshare-mnt tmpfs:/w/m mknod:/w/m/b stat:/w/m/b");
	for (int i = 1; i <= 5; i++)
		cr_expect_eq(step_errno(i), 0, "step %d: %s", i, out);
	cr_expect_eq(ic_test_kv(out, "chr5"), 1, "%s", out);
	cr_expect(host_exists("w/m/a"));
	cr_expect(!host_exists("w/m/b"), "the node was made in the old mount namespace");
}

Test(callerctx, another_container_never_finds_the_first_ones_context)
{
	char other[160];
	int r;

	/* A second root filesystem, the same ids: only its root tells it apart. Both containers
	 * make and remove a node in their own /w at once, so that the one worker goes from one
	 * to the other: a node made in the wrong root fails its own container's unlink. */
	snprintf(other, sizeof(other), "%s/rootfs2", d.dir);
	r = ic_test_sh(out, sizeof(out), 30,
		       "set -e; mkdir -p %s/bin %s/proc %s/w; cp %s/bin/ictool %s/bin/; "
		       "chown %d:%d %s/w; chmod 755 %s",
		       other, other, other, root, other, CT_ROOT, CT_ROOT, other, other);
	cr_assert_eq(r, 0, "%s", out);
	r = ic_test_sh(out, sizeof(out), 90,
		       "R=\"%s -c %s -s %s --userns --rootfs\"; "
		       "$R %s -- /bin/ictool mknod-flood /w/n 300 > %s/a.out & "
		       "$R %s -- /bin/ictool mknod-flood /w/n 300 > %s/b.out; wait; "
		       "cat %s/a.out %s/b.out",
		       ic_test_bin("intercept-run"), d.conf, d.oci, root, d.dir, other, d.dir,
		       d.dir, d.dir);
	cr_assert_eq(r, 0, "%s", out);
	cr_expect(strstr(out, "made=300 failed=0\nmade=300 failed=0"),
		  "a node went to the other container's root: %s", out);
	cr_expect(!host_exists("w/n"));
	snprintf(other + strlen(other), sizeof(other) - strlen(other), "/w/n");
	cr_expect(access(other, F_OK) < 0, "a node went to the other container's root");
}

Test(mknod, a_flood_of_calls_writes_a_bounded_number_of_log_lines)
{
	enum { CALLS = 100000, BURST = 100, INTERVAL_S = 5 };
	static const char metric[] = "\ninterceptd_log_lines_suppressed_total ";
	long long done = -1, suppressed = -1, elapsed_s;
	struct timespec t0, t1;
	const char *m;
	char count[512];
	int r;

	snprintf(count, sizeof(count),
		 "printf 'done=%%s suppressed=%%s\\n' "
		 "$(grep -c 'container flood: pid .* mknod /w/f c 1:3: done' %s) "
		 "$(grep -o 'container flood: [0-9]* log lines suppressed' %s | "
		 "awk '{s += $3} END {print s + 0}')",
		 d.log, d.log);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = ic_test_sh(out, sizeof(out), 600,
		       "%s -c %s -s %s --id flood --userns --rootfs %s -- /bin/ictool mknod-flood "
		       "/w/f %d",
		       ic_test_bin("intercept-run"), d.conf, d.oci, root, CALLS);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	cr_assert_eq(r, 0, "%s", out);
	cr_assert_eq(ic_test_kv(out, "made"), CALLS, "%s", out);
	elapsed_s = t1.tv_sec - t0.tv_sec + 1;
	/* The last interval's count is told once it is over, or when the container goes. */
	for (int i = 0; i < 20 * (INTERVAL_S + 5); i++) {
		ic_test_sh(out, sizeof(out), 30, "%s", count);
		done = ic_test_kv(out, "done");
		suppressed = ic_test_kv(out, "suppressed");
		if (done + suppressed >= CALLS)
			break;
		usleep(50000);
	}
	cr_expect_eq(done + suppressed, CALLS, "%s", out);
	cr_expect_leq(done, (elapsed_s / INTERVAL_S + 2) * BURST, "%s after %llds", out, elapsed_s);
	cr_expect_gt(suppressed, CALLS / 2, "%s", out);
	cr_expect_eq(ic_test_ctl(&d, out, sizeof(out), "metrics"), 0);
	m = strstr(out, metric);
	cr_assert(m, "%s", out);
	cr_expect_eq(atoll(m + strlen(metric)), suppressed, "%s", m);
}

Test(callerctx, fsetxattr_acts_with_its_own_callers_ids_not_the_parked_ones)
{
	char img[256], mnt[256], path[300], v[8] = "";
	int r;

	/* fuse2fs judges a setxattr by the ids the request carries: the owner (the container's
	 * root, 100000) may, 100007 may not. The mknod parks fsuid 7; the fsetxattr after it is
	 * the caller's as fsuid 0 again, which is what the filesystem must see. */
	snprintf(img, sizeof(img), "%s/fz.img", d.dir);
	snprintf(mnt, sizeof(mnt), "%s/w/fz", root);
	r = ic_test_sh(out, sizeof(out), 60,
		       "set -e; command -v fuse2fs >/dev/null || exit 77; truncate -s 8M %s; "
		       "mkfs.ext4 -q -F %s; mkdir -p %s; fuse2fs %s %s -o allow_other; "
		       "mkdir %s/d; chown %d:%d %s/d",
		       img, img, mnt, img, mnt, mnt, CT_ROOT, CT_ROOT, mnt);
	if (r == 77)
		cr_skip_test("no fuse2fs");
	cr_assert_eq(r, 0, "fuse2fs: %s", out);
	STEPS("fsuid:7 raisecap:27 mknod:/w/open/f7 fsuid:0 fsetxattr:/w/fz/d");
	for (int i = 1; i <= 4; i++)
		cr_expect_eq(step_errno(i), 0, "step %d: %s", i, out);
	cr_expect_eq(host_stat("w/open/f7").st_uid, CT_ROOT + 7);
	cr_expect_eq(step_errno(5), 0, "fsetxattr as the parked fsuid 7: %s", out);
	snprintf(path, sizeof(path), "%s/d", mnt);
	cr_expect_eq(getxattr(path, "trusted.overlay.opaque", v, sizeof(v)), 1, "%s", path);
	ic_test_sh(NULL, 0, 30, "umount %s || umount -l %s", mnt, mnt);
}

/* Whether, while a container keeps the one worker busy with requests that never use the
 * parked context (mknod of a device no handler serves), every thread of the serving process
 * is back in the host's root with fsuid 0 within a second of a mknod that parked it (far
 * above the IC_FSCTX_PARKED_MAX_MS it takes: the samples are slow under load; a daemon built
 * to be slow gets IC_TEST_SERVE_AGAIN_MS). The flood lasts three seconds more than that.
 * first: the steps of the container that parks, ending in the flood's "early" step; flood:
 * the steps of the one that floods (in the first when NULL). */
static void back_to_host_while_busy(const char *first, const char *flood)
{
	const unsigned within_ms = ic_test_serve_again_ms(1000), flood_ms = within_ms + 3000;
	int r;

	r = ic_test_sh(
	    out, sizeof(out), 90,
	    "RUN=\"%s -c %s -s %s --userns --rootfs %s -- /bin/ictool steps\"; "
	    "H=$(stat -L -c %%d:%%i /); S=%d; ok=0; "
	    "nice -n -10 $RUN %s:%u > %s/flood.out & F=$!; %s "
	    "for i in $(seq 200); do [ -e %s/w/p0 ] && break; sleep 0.05; done; "
	    "T=$(( $(date +%%s%%N) / 1000000 + %d )); "
	    "while kill -0 $F 2>/dev/null && [ $(( $(date +%%s%%N) / 1000000 )) -lt $T ]; do "
	    "R=$(stat -L -c %%d:%%i /proc/$S/task/*/root | sort -u); "
	    "U=$(awk '/^Uid:/ {print $5}' /proc/$S/task/*/status | sort -u); "
	    "if [ \"$R\" = $H ] && [ \"$U\" = 0 ] && kill -0 $F 2>/dev/null; then ok=1; break; fi; "
	    "sleep 0.02; done; "
	    "echo ok=$ok; wait; cat %s/flood.out",
	    ic_test_bin("intercept-run"), d.conf, d.oci, root, (int)ic_test_server_pid(&d),
	    flood ? flood : first, flood_ms, d.dir, flood ? "sleep 0.3; $RUN mknod:/w/p0;" : "",
	    root, within_ms, d.dir);
	cr_assert_eq(r, 0, "%s", out);
	cr_expect_eq(ic_test_kv(out, "ok"), 1, "the worker kept the container's context: %s", out);
	cr_expect(ic_test_kv(out, "n2") > 0 || ic_test_kv(out, "n1") > 0, "%s", out);
}

Test(callerctx, a_context_no_request_uses_is_dropped_while_the_worker_stays_busy)
{
	back_to_host_while_busy("mknod:/w/p0 early", NULL);
}

Test(callerctx, a_context_is_dropped_when_another_containers_requests_keep_the_worker_busy)
{
	back_to_host_while_busy(NULL, "early");
}
