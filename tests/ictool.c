/* SPDX-License-Identifier: Apache-2.0 */
/* Runs inside containers (static): one filesystem syscall as asked, its result printed as
 * "ret=R errno=E", and stat output as key=value. Options before the command:
 *   -u MASK   umask first        -i UID:GID  setresgid/setresuid first (keeps no capabilities)
 *   -t        make the call from a second thread (not the thread-group leader)
 *   -G GID    supplementary groups = { GID }, keeping every capability
 * Commands:
 *   mknod PATH c|b|p MAJ MIN [MODE]     mknodat DIR NAME c|b|p MAJ MIN [MODE]
 *   setxattr|lsetxattr|fsetxattr PATH NAME VALUE [FLAGS]    getxattr|lgetxattr PATH NAME
 *   stat PATH   lstat PATH   write PATH   cat PATH   fault-mknod   fault-setxattr PATH
 *   mount SRC TGT FSTYPE [FLAGS [DATA]]   vmsplice-badfd
 *   mknod-flood PATH N: N times mknod PATH c 1 3 and unlink it; prints made=M failed=F
 *   setxattr-flood PATH N: N times setxattr PATH trusted.overlay.opaque y; prints made=M failed=F
 *   steps STEP...: the steps in order, in this one thread; step I prints "eI=ERRNO" (0: done):
 *     mknod:PATH[:MODE] (c 1 3)  chroot:DIR  chdir:DIR  umask:OCTAL  fsuid:ID  fsgid:ID
 *     groups:[GID[,GID...]]  uid:ID (setresuid)  dropcap:CAP (from the effective set)
 *     raisecap:CAP (permitted into effective)  unshare-mnt  tmpfs:DIR  setxattr:PATH
 *     fsetxattr:DIR  stat:PATH (prints uI= gI= pI= chrI= of the node)
 *     early:MS[:THREADS]: for MS ms, mknod /w/early c 7 250 (EPERM; prints nI=CALLS) */
#include <errno.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/fsuid.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <grp.h>
#include <time.h>
#include <unistd.h>

static int g_argc;
static char **g_argv;
static long g_ret;
static int g_errno;

static mode_t type_of(const char *t)
{
	return t[0] == 'c' ? S_IFCHR : t[0] == 'b' ? S_IFBLK : t[0] == 'p' ? S_IFIFO : S_IFREG;
}

static void print_stat(const char *path, int follow)
{
	struct stat st;

	if ((follow ? stat(path, &st) : lstat(path, &st)) < 0) {
		printf("ret=-1 errno=%d\n", errno);
		return;
	}
	printf(
	    "ret=0 errno=0\nmode=%o\nperm=%o\nuid=%u\ngid=%u\nmajor=%u\nminor=%u\nchr=%d\nreg=%d\n",
	    st.st_mode, st.st_mode & 07777, st.st_uid, st.st_gid, major(st.st_rdev),
	    minor(st.st_rdev), S_ISCHR(st.st_mode), S_ISREG(st.st_mode));
}

static int caps(int cap, int raise)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d) < 0)
		return -1;
	if (raise)
		d[cap / 32].effective |= d[cap / 32].permitted & (1U << (cap % 32));
	else
		d[cap / 32].effective &= ~(1U << (cap % 32));
	return (int)syscall(SYS_capset, &h, d);
}

/* For ms milliseconds, mknod of a device no handler serves: the daemon looks at each and the
 * kernel answers EPERM, without the daemon using its parked context. The calls made, -1 on
 * another answer. */
static long early_loop(long ms)
{
	struct timespec t0, t;
	long n = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		if (mknod("/w/early", S_IFCHR | 0600, makedev(7, 250)) == 0 || errno != EPERM)
			return -1;
		n++;
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < ms);
	return n;
}

static void *early_thread(void *ms)
{
	return (void *)early_loop(*(long *)ms);
}

/* One step of "steps": its return value, errno set on failure. Raw syscalls for the ids, so
 * that only this thread changes (it is the only one). */
static long step(int i, char *s)
{
	char *arg = strchr(s, ':');
	struct stat st;

	if (arg)
		*arg++ = 0;
	if (!strcmp(s, "mknod") && arg) {
		char *m = strchr(arg, ':');
		mode_t mode = 0666;

		if (m) {
			*m++ = 0;
			mode = (mode_t)strtoul(m, NULL, 8);
		}
		return mknod(arg, S_IFCHR | mode, makedev(1, 3));
	}
	if (!strcmp(s, "chroot") && arg)
		return chroot(arg);
	if (!strcmp(s, "chdir") && arg)
		return chdir(arg);
	if (!strcmp(s, "umask") && arg)
		return umask((mode_t)strtoul(arg, NULL, 8)), 0;
	if (!strcmp(s, "fsuid") && arg) {
		syscall(SYS_setfsuid, atoi(arg));
		return syscall(SYS_setfsuid, -1) == atoi(arg) ? 0 : (errno = EPERM, -1);
	}
	if (!strcmp(s, "fsgid") && arg) {
		syscall(SYS_setfsgid, atoi(arg));
		return syscall(SYS_setfsgid, -1) == atoi(arg) ? 0 : (errno = EPERM, -1);
	}
	if (!strcmp(s, "groups") && arg) {
		gid_t g[16];
		size_t n = 0;

		for (char *t = strtok(arg, ","); t && n < 16; t = strtok(NULL, ","))
			g[n++] = (gid_t)atoi(t);
		return syscall(SYS_setgroups, n, g);
	}
	if (!strcmp(s, "uid") && arg)
		return syscall(SYS_setresuid, atoi(arg), atoi(arg), atoi(arg));
	if (!strcmp(s, "dropcap") && arg)
		return caps(atoi(arg), 0);
	if (!strcmp(s, "raisecap") && arg)
		return caps(atoi(arg), 1);
	if (!strcmp(s, "unshare-mnt"))
		return unshare(CLONE_NEWNS);
	if (!strcmp(s, "tmpfs") && arg)
		return mount("none", arg, "tmpfs", 0, "mode=0777");
	if (!strcmp(s, "setxattr") && arg)
		return setxattr(arg, "trusted.overlay.opaque", "y", 1, 0);
	if (!strcmp(s, "fsetxattr") && arg) {
		int fd = open(arg, O_RDONLY | O_DIRECTORY);
		long r = fd < 0 ? -1 : fsetxattr(fd, "trusted.overlay.opaque", "y", 1, 0);

		if (fd >= 0)
			close(fd);
		return r;
	}
	if (!strcmp(s, "early") && arg) {
		char *t = strchr(arg, ':');
		int n = t ? atoi(t + 1) : 1;
		pthread_t th[8];
		long ms = atol(arg), calls = early_loop(ms);

		/* More threads keep the daemon's queue from ever running empty. */
		for (int k = 1; k < n && k < 8; k++)
			pthread_create(&th[k], NULL, early_thread, &ms);
		for (int k = 1; k < n && k < 8; k++) {
			void *c;

			pthread_join(th[k], &c);
			calls += (long)c;
		}
		printf("n%d=%ld\n", i, calls);
		return calls > 0 ? 0 : -1;
	}
	if (!strcmp(s, "stat") && arg) {
		if (lstat(arg, &st) < 0)
			return -1;
		printf("u%d=%u\ng%d=%u\np%d=%o\nchr%d=%d\n", i, st.st_uid, i, st.st_gid, i,
		       st.st_mode & 07777, i, S_ISCHR(st.st_mode));
		return 0;
	}
	fprintf(stderr, "ictool: bad step %s\n", s);
	exit(2);
}

static void *run(void *unused)
{
	char **a = g_argv;
	const char *cmd = a[0];

	(void)unused;
	errno = 0;
	if (!strcmp(cmd, "mknod") && g_argc >= 5) {
		mode_t mode = a[5] ? (mode_t)strtoul(a[5], NULL, 8) : 0666;

		g_ret = mknod(a[1], type_of(a[2]) | mode, makedev(atoi(a[3]), atoi(a[4])));
	} else if (!strcmp(cmd, "mknodat") && g_argc >= 6) {
		int dfd = open(a[1], O_PATH | O_DIRECTORY);
		mode_t mode = a[6] ? (mode_t)strtoul(a[6], NULL, 8) : 0666;

		g_ret = syscall(SYS_mknodat, dfd, a[2], type_of(a[3]) | mode,
				makedev(atoi(a[4]), atoi(a[5])));
	} else if (!strcmp(cmd, "mknodat-badfd") && g_argc >= 2) {
		g_ret = syscall(SYS_mknodat, 999, a[1], S_IFCHR | 0666, makedev(1, 3));
	} else if (!strcmp(cmd, "mknodat-filefd") && g_argc >= 3) {
		int fd = open(a[1], O_RDONLY);

		g_ret = syscall(SYS_mknodat, fd, a[2], S_IFCHR | 0666, makedev(1, 3));
	} else if (!strcmp(cmd, "fault-mknod")) {
		g_ret = syscall(SYS_mknod, (void *)16, S_IFCHR | 0666, makedev(1, 3));
	} else if ((!strcmp(cmd, "setxattr") || !strcmp(cmd, "lsetxattr") ||
		    !strcmp(cmd, "fsetxattr")) &&
		   g_argc >= 4) {
		int flags = a[4] ? atoi(a[4]) : 0;
		size_t len = strlen(a[3]);

		if (cmd[0] == 's')
			g_ret = setxattr(a[1], a[2], a[3], len, flags);
		else if (cmd[0] == 'l')
			g_ret = lsetxattr(a[1], a[2], a[3], len, flags);
		else {
			int fd = open(a[1], O_RDONLY | O_NONBLOCK);

			g_ret = fd < 0 ? -1 : fsetxattr(fd, a[2], a[3], len, flags);
		}
	} else if ((!strcmp(cmd, "getxattr") || !strcmp(cmd, "lgetxattr")) && g_argc >= 3) {
		char v[64] = "";

		g_ret = cmd[0] == 'g' ? getxattr(a[1], a[2], v, sizeof(v) - 1)
				      : lgetxattr(a[1], a[2], v, sizeof(v) - 1);
		printf("value=%s\n", v);
	} else if (!strcmp(cmd, "fault-setxattr") && g_argc >= 2) {
		g_ret = syscall(SYS_setxattr, a[1], "trusted.overlay.opaque", (void *)16, 1, 0);
	} else if (!strcmp(cmd, "mount") && g_argc >= 4) {
		/* mount SRC TGT FSTYPE [FLAGS [DATA]]: mount(2) itself, no loop set-up of ours */
		unsigned long flags = g_argc >= 5 ? strtoul(a[4], NULL, 0) : 0;

		g_ret = mount(a[1], a[2], a[3], flags, g_argc >= 6 ? a[5] : NULL);
	} else if (!strcmp(cmd, "vmsplice-badfd")) {
		/* The kernel: EBADF. A profile that lists no vmsplice (podman's): its errno. */
		g_ret = syscall(SYS_vmsplice, -1, NULL, 0, 0);
	} else if (!strcmp(cmd, "cat") && g_argc >= 2) {
		char buf[256] = "";
		int fd = open(a[1], O_RDONLY);

		g_ret = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
		if (g_ret > 0)
			printf("content=%s", buf);
	} else if (!strcmp(cmd, "write") && g_argc >= 2) {
		int fd = open(a[1], O_WRONLY);

		g_ret = fd < 0 ? -1 : write(fd, "x\n", 2);
	} else {
		fprintf(stderr, "ictool: bad command\n");
		exit(2);
	}
	g_errno = g_ret < 0 ? errno : 0;
	return NULL;
}

int main(int argc, char **argv)
{
	int c, threaded = 0;

	while ((c = getopt(argc, argv, "+u:i:tG:")) != -1) {
		switch (c) {
		case 'u':
			umask((mode_t)strtoul(optarg, NULL, 8));
			break;
		case 'i': {
			unsigned uid, gid;

			if (sscanf(optarg, "%u:%u", &uid, &gid) != 2 || setgroups(0, NULL) < 0 ||
			    setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0) {
				perror("ictool: -i");
				return 2;
			}
			break;
		}
		case 't':
			threaded = 1;
			break;
		case 'G': {
			gid_t g = (gid_t)atoi(optarg);

			if (setgroups(1, &g) < 0) {
				perror("ictool: -G");
				return 2;
			}
			break;
		}
		default:
			return 2;
		}
	}
	g_argc = argc - optind;
	g_argv = argv + optind;
	if (g_argc < 1)
		return 2;
	if (!strcmp(g_argv[0], "mount-tmpfs") && g_argc >= 9) {
		/* mount-tmpfs DIR mknod PATH c MAJ MIN write PATH: a user-namespace /dev, as
		 * unprivileged runtimes make it, then a node in it, then a write to the node. */
		int fd;

		g_ret = mount("tmpfs", g_argv[1], "tmpfs", 0, "mode=755");
		printf("step=mount ret=%ld errno=%d\n", g_ret, g_ret < 0 ? errno : 0);
		g_ret = mknod(g_argv[3], S_IFCHR | 0666, makedev(atoi(g_argv[5]), atoi(g_argv[6])));
		printf("step=mknod ret=%ld errno=%d\n", g_ret, g_ret < 0 ? errno : 0);
		fd = open(g_argv[8], O_WRONLY);
		g_ret = fd < 0 ? -1 : write(fd, "x\n", 2);
		printf("step=write ret=%ld errno=%d\n", g_ret, g_ret < 0 ? errno : 0);
		return 0;
	}
	if (!strcmp(g_argv[0], "mknod-flood") && g_argc >= 3) {
		long n = atol(g_argv[2]), made = 0, failed = 0;

		for (long i = 0; i < n; i++) {
			if (mknod(g_argv[1], S_IFCHR | 0666, makedev(1, 3)) == 0 &&
			    unlink(g_argv[1]) == 0)
				made++;
			else
				failed++;
		}
		printf("made=%ld failed=%ld\n", made, failed);
		return 0;
	}
	if (!strcmp(g_argv[0], "setxattr-flood") && g_argc >= 3) {
		long n = atol(g_argv[2]), made = 0, failed = 0;

		for (long i = 0; i < n; i++) {
			if (setxattr(g_argv[1], "trusted.overlay.opaque", "y", 1, 0) == 0)
				made++;
			else
				failed++;
		}
		printf("made=%ld failed=%ld\n", made, failed);
		return 0;
	}
	if (!strcmp(g_argv[0], "steps")) {
		for (int i = 1; i < g_argc; i++) {
			errno = 0;
			printf("e%d=%d\n", i, step(i, g_argv[i]) < 0 ? errno : 0);
		}
		return 0;
	}
	if (!strcmp(g_argv[0], "mknod-stat-write") && g_argc >= 5) {
		/* mknod-stat-write PATH c MAJ MIN: all in this one mount namespace, where a bound
		 * host node lives. */
		struct stat st;
		int fd;

		g_ret = mknod(g_argv[1], S_IFCHR | 0666, makedev(atoi(g_argv[3]), atoi(g_argv[4])));
		printf("step=mknod ret=%ld errno=%d\n", g_ret, g_ret < 0 ? errno : 0);
		if (stat(g_argv[1], &st) == 0)
			printf("chr=%d major=%u minor=%u uid=%u\n", S_ISCHR(st.st_mode),
			       major(st.st_rdev), minor(st.st_rdev), st.st_uid);
		fd = open(g_argv[1], O_WRONLY);
		g_ret = fd < 0 ? -1 : write(fd, "x\n", 2);
		printf("step=write ret=%ld errno=%d\n", g_ret, g_ret < 0 ? errno : 0);
		return 0;
	}
	if (!strcmp(g_argv[0], "mount-and-look") && g_argc >= 4) {
		/* mount-and-look SRC TGT FSTYPE: mount(2), then what the container sees: the mount
		 * line, TGT/file's owner and content, and a write to it. */
		char path[4096], line[1024], buf[64] = "";
		struct stat st;
		FILE *f;
		int fd;

		g_ret = mount(g_argv[1], g_argv[2], g_argv[3], 0, NULL);
		printf("mount ret=%ld errno=%d\n", g_ret, g_ret < 0 ? errno : 0);
		f = fopen("/proc/self/mountinfo", "r");
		while (f && fgets(line, sizeof(line), f))
			if (strstr(line, g_argv[2]))
				printf("mountinfo=%s", line);
		if (f)
			fclose(f);
		snprintf(path, sizeof(path), "%s/file", g_argv[2]);
		if (stat(path, &st) == 0)
			printf("file uid=%u gid=%u\n", st.st_uid, st.st_gid);
		fd = open(path, O_RDONLY);
		if (fd >= 0 && read(fd, buf, sizeof(buf) - 1) > 0)
			printf("content=%s\n", buf);
		if (fd >= 0)
			close(fd);
		fd = open(path, O_WRONLY | O_APPEND);
		g_ret = fd < 0 ? -1 : write(fd, "x\n", 2);
		printf("write ret=%ld errno=%d\n", g_ret, g_ret < 0 ? errno : 0);
		return 0;
	}
	if (!strcmp(g_argv[0], "stat") || !strcmp(g_argv[0], "lstat")) {
		print_stat(g_argv[1], g_argv[0][0] == 's');
		return 0;
	}
	if (threaded) {
		pthread_t t;

		pthread_create(&t, NULL, run, NULL);
		pthread_join(t, NULL);
	} else {
		run(NULL);
	}
	printf("ret=%ld errno=%d\n", g_ret, g_errno);
	return 0;
}
