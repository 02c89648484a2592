/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "tests/harness.h"

/* Integration: mount(2) of listed filesystems through the real daemon, in --userns containers
 * pivoted into a scratch rootfs holding an ext4 image made here. */

static struct ic_test_daemon d;
static char out[1 << 16];
static char root[128];

static void setup(void)
{
	int r;

	ic_test_daemon_start(&d, NULL,
			     "[policy default]\nsecurity.syscalls.intercept.mount = true\n"
			     "security.syscalls.intercept.mount.allowed = ext4\n"
			     "[policy shifted]\nsecurity.syscalls.intercept.mount = true\n"
			     "security.syscalls.intercept.mount.allowed = ext4\n"
			     "security.syscalls.intercept.mount.shift = true\n"
			     "[policy fuse]\nsecurity.syscalls.intercept.mount = true\n"
			     "security.syscalls.intercept.mount.fuse = ext4=fuse2fs\n"
			     "[policy nohelper]\nsecurity.syscalls.intercept.mount = true\n"
			     "security.syscalls.intercept.mount.fuse = ext4=no-such-fuse-helper\n");
	snprintf(root, sizeof(root), "%s/rootfs", d.dir);
	/* The container's image with a file owned by the host's root, a corrupt one, and an image
	 * the container may only read (the host's). */
	r = ic_test_sh(
	    out, sizeof(out), 60,
	    "set -e; R=%s; mkdir -p $R/bin $R/proc $R/m $R/dev; cp %s $R/bin/ictool; "
	    "chmod 755 %s $R; chown 100000:100000 $R/m; truncate -s 16M $R/img; "
	    "mkfs.ext4 -q -F $R/img; debugfs -w -R 'mkdir d' $R/img >/dev/null 2>&1; "
	    "printf hello > %s/hello; debugfs -w -R 'write %s/hello file' $R/img >/dev/null 2>&1; "
	    "head -c 16M /dev/urandom > $R/bad; ln -s %s/outside $R/escape; mkdir -p %s/outside; "
	    "cp $R/img $R/hostimg; chown 100000:100000 $R/img $R/bad",
	    root, ic_test_bin("tests/ictool"), d.dir, d.dir, d.dir, d.dir, d.dir);
	cr_assert_eq(r, 0, "rootfs: %s", out);
}

static void teardown(void)
{
	/* A device node's tmpfs (not nodev, wherever the test directory is), if a test failed
	 * before it went. */
	ic_test_sh(NULL, 0, 30, "umount -q %s/devs 2>/dev/null; true", d.dir);
	ic_test_daemon_stop(&d);
}

TestSuite(mount, .init = setup, .fini = teardown, .timeout = 120);

static int loops(void)
{
	char n[32] = "";

	ic_test_sh(n, sizeof(n), 10, "losetup -a | grep -c %s || true", d.dir);
	return atoi(n);
}

/* sh-less: each ictool run is one container; steps joined with the tool's own commands. */
static void ct(const char *policy, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ct(const char *policy, const char *fmt, ...)
{
	char args[1024];
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	r = ic_test_sh(out, sizeof(out), 60, "%s -c %s -s %s -p %s --userns --rootfs %s -- %s",
		       ic_test_bin("intercept-run"), d.conf, d.oci, policy, root, args);
	cr_assert_eq(r, 0, "%s: %s", args, out);
}

Test(mount, allowed_filesystem_is_mounted_nodev_nosuid_in_the_container)
{
	ct("default", "/bin/ictool mount-and-look /img /m ext4");
	cr_expect(strstr(out, "mount ret=0 errno=0"), "%s", out);
	cr_expect(strstr(out, "content=hello"), "file not readable: %s", out);
	cr_expect(strstr(out, "nodev") && strstr(out, "nosuid"), "not nodev,nosuid: %s", out);
	/* Owned by the host's root, which the namespace does not map. */
	cr_expect(strstr(out, "file uid=65534"), "%s", out);
	cr_expect(ic_test_log_has(&d, "mount /img on /m type ext4 (allowed): done"));
	cr_expect_eq(loops(), 0, "a loop device outlived the container");
}

Test(mount, shifted_mount_shows_host_root_as_container_root)
{
	ct("shifted", "/bin/ictool mount-and-look /img /m ext4");
	cr_expect(strstr(out, "mount ret=0 errno=0"), "%s", out);
	cr_expect(strstr(out, "file uid=0"), "not idmapped: %s", out);
	cr_expect(strstr(out, "write ret=2"), "the container's root cannot write: %s", out);
	cr_expect(ic_test_log_has(&d, "(shift): done"));
}

Test(mount, unlisted_filesystem_is_the_kernels_refusal)
{
	ct("default", "/bin/ictool mount /img /m ext2");
	cr_expect(strstr(out, "errno=1"), "%s", out);
	cr_expect_eq(ic_test_stat(&d, "answers.emulated"), 0);
}

Test(mount, corrupt_image_is_the_kernels_error_and_leaks_no_loop_device)
{
	ct("default", "/bin/ictool mount /bad /m ext4");
	cr_expect(strstr(out, "ret=-1 errno=22"), "%s", out);
	cr_expect_eq(loops(), 0, "a loop device leaked");
}

Test(mount, target_behind_a_symlink_never_reaches_the_host)
{
	char host[256];

	/* /escape points at a host directory by its absolute path: in the container that path
	 * does not exist. */
	ct("default", "/bin/ictool mount /img /escape ext4");
	cr_expect(strstr(out, "errno=2"), "%s", out);
	snprintf(host, sizeof(host), "%s/outside", d.dir);
	cr_expect_neq(ic_test_sh(NULL, 0, 10, "grep -q ' %s ' /proc/self/mountinfo", host), 0,
		      "mounted on the host");
}

Test(mount, propagation_changes_are_the_kernels)
{
	ct("default", "/bin/ictool mount none / none 0x44000"); /* MS_REC | MS_PRIVATE */
	cr_expect(strstr(out, "ret=0 errno=0"), "%s", out);
	ct("default", "/bin/ictool mount none / none 0x84000"); /* MS_REC | MS_SLAVE */
	cr_expect(strstr(out, "ret=0 errno=0"), "%s", out);
	cr_expect_eq(ic_test_stat(&d, "received"), 0, "the filter passed a propagation change");
}

Test(mount, nothing_is_left_when_the_container_exits)
{
	ct("default", "/bin/ictool mount-and-look /img /m ext4");
	cr_expect(strstr(out, "mount ret=0"), "%s", out);
	cr_expect_eq(loops(), 0);
	cr_expect_neq(ic_test_sh(NULL, 0, 10, "grep -q ' %s/m ' /proc/self/mountinfo", root), 0);
}

/* A --userns container on the host's paths (no --rootfs) runs script with D set to the test
 * directory and T to ictool; the container's root reaches D. */
static void host_ct(const char *policy, const char *script)
{
	char path[256];
	FILE *f;
	int r;

	snprintf(path, sizeof(path), "%s/script", d.dir);
	f = fopen(path, "we");
	cr_assert(f);
	fprintf(f, "D=%s\nT=%s\n%s\n", d.dir, ic_test_bin("tests/ictool"), script);
	fclose(f);
	r = ic_test_sh(out, sizeof(out), 60,
		       "chmod 755 %s %s && %s -c %s -s %s -p %s --userns -- /bin/sh %s", d.dir,
		       path, ic_test_bin("intercept-run"), d.conf, d.oci, policy, path);
	cr_assert_eq(r, 0, "%s", out);
}

/* FUSE runs in the container, and a /dev/fuse it may open is bound over the host's 0600 one in
 * its namespace. */
static void fuse_ct(const char *policy, const char *script)
{
	char full[2048];
	int r;

	r = ic_test_sh(out, sizeof(out), 30,
		       "set -e; D=%s; mkdir -p $D/fm; cp $D/rootfs/img $D/fimg; "
		       "[ -e $D/fuse ] || mknod -m 666 $D/fuse c 10 229; "
		       "chown 100000:100000 $D/fm $D/fimg",
		       d.dir);
	cr_assert_eq(r, 0, "%s", out);
	snprintf(full, sizeof(full), "mount --bind $D/fuse /dev/fuse || exit 1\n%s", script);
	host_ct(policy, full);
}

Test(mount, fuse_helper_runs_in_the_container_and_ends_with_it)
{
	cr_assert_eq(ic_test_sh(NULL, 0, 10, "command -v fuse2fs"), 0, "fuse2fs is not installed");
	fuse_ct(
	    "fuse",
	    "$T mount $D/fimg $D/fm ext4\n"
	    "grep \" $D/fm \" /proc/self/mountinfo\n"
	    "cat $D/fm/file; echo\n"
	    "p=$(pgrep -x fuse2fs); echo fusepid=$p\n"
	    "[ \"$(cat /proc/$p/cgroup)\" = \"$(cat /proc/1/cgroup)\" ] && echo samecgroup=1\n");
	cr_expect(strstr(out, "ret=0 errno=0"), "%s", out);
	cr_expect(strstr(out, "fuse.ext4"), "not a FUSE mount: %s", out);
	cr_expect(strstr(out, "hello"), "file not readable: %s", out);
	/* A small pid: the container's pid namespace, not the host's. */
	cr_expect(ic_test_kv(out, "fusepid") > 0 && ic_test_kv(out, "fusepid") < 100,
		  "the FUSE daemon is not in the container's pid namespace: %s", out);
	cr_expect(strstr(out, "samecgroup=1"),
		  "the FUSE daemon is not in the container's cgroup: %s", out);
	cr_expect(ic_test_log_has(&d, "(fuse: fuse2fs): done"));
	/* Gone with the container. */
	cr_expect_neq(ic_test_sh(NULL, 0, 10, "pgrep -f '^fuse2fs %s/fimg'", d.dir), 0,
		      "a FUSE daemon outlived its container");
	cr_expect_neq(ic_test_sh(NULL, 0, 10, "grep -q ' %s/fm ' /proc/self/mountinfo", d.dir), 0);
}

Test(mount, missing_fuse_helper_is_enodev)
{
	fuse_ct("nohelper", "$T mount $D/fimg $D/fm ext4\n");
	cr_expect(strstr(out, "errno=19"), "%s", out);
}

Test(mount, image_the_container_may_only_read_is_not_mounted_read_write)
{
	ct("default", "/bin/ictool mount /hostimg /m ext4");
	cr_expect(strstr(out, "ret=-1 errno=13"), "a read-only image was mounted read-write: %s",
		  out);
	ct("default", "/bin/ictool mount /hostimg /m ext4 1"); /* MS_RDONLY */
	cr_expect(strstr(out, "ret=0 errno=0"), "%s", out);
	cr_expect_eq(loops(), 0);
}

/* util-linux's mount, findmnt and umount (and busybox's) on a block device node of the
 * container's, on a tmpfs that honours devices wherever the test directory is: the mount
 * reads as the container named it, so umount by device works, and mounting it again where it
 * already is fails as mount(2) does (EBUSY: "already mounted"), rather than stacking. */
Test(mount, block_device_mount_reads_as_the_container_named_it)
{
	char loop[64] = "";
	int r;

	r = ic_test_sh(loop, sizeof(loop), 30, "losetup -f --show %s/hostimg", root);
	cr_assert_eq(r, 0, "losetup: %s", loop);
	loop[strcspn(loop, "\n")] = 0;
	r = ic_test_sh(
	    out, sizeof(out), 30,
	    "set -e; D=%s; mkdir -p $D/bm $D/devs; mount -t tmpfs -o dev,size=64k,mode=755 "
	    "tmpfs $D/devs; mknod $D/devs/blk b $(stat -c '0x%%t 0x%%T' %s); "
	    "chown 100000:100000 $D/bm $D/devs/blk",
	    d.dir, loop);
	cr_assert_eq(r, 0, "%s", out);
	host_ct("default", "mount -t ext4 $D/devs/blk $D/bm; echo first=$?\n"
			   "echo source=$(findmnt -n -o SOURCE $D/bm)\n"
			   "df $D/bm | tail -n 1\n"
			   "mount -t ext4 $D/devs/blk $D/bm; echo again=$?\n"
			   "echo mounts=$(grep -c \" $D/bm \" /proc/self/mountinfo)\n"
			   "umount $D/devs/blk; echo umount=$?\n"
			   "findmnt $D/bm >/dev/null; echo findmnt=$?\n"
			   "busybox mount -t ext4 $D/devs/blk $D/bm; echo bbmount=$?\n"
			   "busybox umount $D/devs/blk; echo bbumount=$?\n"
			   "findmnt $D/bm >/dev/null; echo bbfindmnt=$?\n");
	ic_test_sh(NULL, 0, 30, "losetup -d %s; umount %s/devs", loop, d.dir);
	cr_expect_eq(ic_test_kv(out, "first"), 0, "%s", out);
	cr_expect(strstr(out, "source=") && strstr(strstr(out, "source="), "/blk\n"),
		  "findmnt does not show the device as named: %s", out);
	cr_expect_null(strstr(out, "/proc/self/fd"), "%s", out);
	cr_expect_eq(ic_test_kv(out, "again"), 32, "%s", out);
	cr_expect(strstr(out, "already mounted"), "%s", out);
	cr_expect_eq(ic_test_kv(out, "mounts"), 1, "a second mount was stacked: %s", out);
	cr_expect_eq(ic_test_kv(out, "umount"), 0, "%s", out);
	cr_expect_eq(ic_test_kv(out, "findmnt"), 1, "still mounted: %s", out);
	cr_expect_eq(ic_test_kv(out, "bbmount"), 0, "%s", out);
	cr_expect_eq(ic_test_kv(out, "bbumount"), 0, "busybox umount by device: %s", out);
	cr_expect_eq(ic_test_kv(out, "bbfindmnt"), 1, "still mounted: %s", out);
}

/* An image file with util-linux's and busybox's mount: they set a loop device up themselves
 * through /dev/loop-control before mount(2), which a container is not given (it would reach
 * every loop device of the host). Each fails with its own message (util-linux's names the loop
 * device; busybox's asks whether you are root), nothing is mounted and no loop device attached; the
 * way the README gives instead (attach it on the host, mount the node) is
 * block_device_mount_reads_as_the_container_named_it's. */
Test(mount, mount_of_an_image_file_by_mount8_fails_and_attaches_nothing)
{
	int before = loops();

	cr_assert_eq(ic_test_sh(out, sizeof(out), 10, "mkdir -p %s/lm && chown 100000:100000 %s/lm",
				d.dir, d.dir),
		     0, "%s", out);
	host_ct("default", "mount -o loop $D/rootfs/img $D/lm 2>&1; echo loopopt=$?\n"
			   "mount -t ext4 $D/rootfs/img $D/lm 2>&1; echo plain=$?\n"
			   "busybox mount -o loop $D/rootfs/img $D/lm 2>&1; echo bbloop=$?\n"
			   "busybox mount -t ext4 $D/rootfs/img $D/lm 2>&1; echo bbplain=$?\n"
			   "findmnt $D/lm >/dev/null; echo findmnt=$?\n");
	cr_expect_neq(ic_test_kv(out, "loopopt"), 0, "%s", out);
	cr_expect_neq(ic_test_kv(out, "plain"), 0, "%s", out);
	cr_expect_neq(ic_test_kv(out, "bbloop"), 0, "%s", out);
	cr_expect_neq(ic_test_kv(out, "bbplain"), 0, "%s", out);
	cr_expect(strstr(out, "failed to setup loop device"), "util-linux: %s", out);
	/* busybox opens the host's /dev/loop-control, which the container's root may not. */
	cr_expect(strstr(out, "mount: permission denied (are you root?)"), "busybox: %s", out);
	cr_expect_eq(ic_test_kv(out, "findmnt"), 1, "something was mounted: %s", out);
	cr_expect_eq(loops(), before, "a loop device was attached");
}
