/* SPDX-License-Identifier: Apache-2.0 */
/* Device-cgroup eBPF programs, for the bpf handler's tests (static, runs in containers).
 *   bpfprobe scenario CG      load deny-1:3, attach to CG/child, try /dev/null there and here,
 *                             detach, and the refusals; prints key=value lines
 *   bpfprobe allowall CG      attach an allow-all program to CG/child; can CG/child open
 *                             /dev/zero?
 *   bpfprobe attach-to DIR    attach an allow-all program to DIR (outside=errno)
 *   bpfprobe host-deny CG MAJ MIN   (on the host) attach a deny program to CG itself */
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define INSN(c, d, s, o, i)                                                                        \
	((struct bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)})

static long bpf(int cmd, union bpf_attr *a)
{
	return syscall(SYS_bpf, cmd, a, sizeof(*a));
}

/* deny char MAJ:MIN (or nothing when allow_all), allow everything else */
static int load(unsigned maj, unsigned min, int allow_all, unsigned cnt_override, int bad_ptr)
{
	struct bpf_insn p[] = {
	    INSN(BPF_LDX | BPF_MEM | BPF_W, 2, 1, 0, 0),	/* r2 = ctx->access_type */
	    INSN(BPF_ALU64 | BPF_AND | BPF_K, 2, 0, 0, 0xffff), /* r2 &= 0xffff (type) */
	    INSN(BPF_JMP | BPF_JNE | BPF_K, 2, 0, 6, BPF_DEVCG_DEV_CHAR), /* to allow */
	    INSN(BPF_LDX | BPF_MEM | BPF_W, 3, 1, 4, 0),		  /* r3 = major */
	    INSN(BPF_JMP | BPF_JNE | BPF_K, 3, 0, 4, (int)maj),
	    INSN(BPF_LDX | BPF_MEM | BPF_W, 4, 1, 8, 0), /* r4 = minor */
	    INSN(BPF_JMP | BPF_JNE | BPF_K, 4, 0, 2, (int)min),
	    INSN(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, allow_all ? 1 : 0),
	    INSN(BPF_JMP | BPF_JA, 0, 0, 1, 0),
	    INSN(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 1), /* allow: */
	    INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
	};
	char log[4096] = "";
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	a.insns = bad_ptr ? 16 : (unsigned long)p;
	a.insn_cnt = cnt_override ? cnt_override : sizeof(p) / sizeof(p[0]);
	a.license = (unsigned long)"GPL";
	a.log_buf = (unsigned long)log;
	a.log_size = sizeof(log);
	a.log_level = 1;
	return (int)bpf(BPF_PROG_LOAD, &a);
}

static int attach(int cmd, int cg, int prog, unsigned flags)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.target_fd = (unsigned)cg;
	a.attach_bpf_fd = (unsigned)prog;
	a.attach_type = BPF_CGROUP_DEVICE;
	a.attach_flags = flags;
	return (int)bpf(cmd, &a);
}

/* In a child moved into dir: can it open dev? Prints key=errno (0: it could). */
static void try_open_in(const char *key, const char *dir, const char *dev)
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		char procs[4096], me[32];
		int fd = -1;

		if (dir) {
			snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
			snprintf(me, sizeof(me), "%d", (int)getpid());
			fd = open(procs, O_WRONLY);
			if (fd < 0 || write(fd, me, strlen(me)) < 0)
				_exit(200);
		}
		fd = open(dev, O_RDWR);
		_exit(fd < 0 ? errno : 0);
	}
	waitpid(pid, &status, 0);
	printf("%s=%d\n", key, WIFEXITED(status) ? WEXITSTATUS(status) : 255);
}

static int open_child(const char *cg, char *child, size_t len)
{
	snprintf(child, len, "%s/child", cg);
	mkdir(child, 0755);
	return open(child, O_RDONLY | O_DIRECTORY);
}

int main(int argc, char **argv)
{
	char child[4096];
	int prog, cg, r;

	if (argc >= 3 && !strcmp(argv[1], "scenario")) {
		prog = load(1, 3, 0, 0, 0);
		printf("load=%d errno=%d\n", prog < 0 ? -1 : 0, prog < 0 ? errno : 0);
		printf("cloexec=%d\n", prog >= 0 && (fcntl(prog, F_GETFD) & FD_CLOEXEC) ? 1 : 0);
		cg = open_child(argv[2], child, sizeof(child));
		r = attach(BPF_PROG_ATTACH, cg, prog, 0);
		printf("nomulti=%d\n", r < 0 ? errno : 0);
		r = attach(BPF_PROG_ATTACH, cg, prog, BPF_F_ALLOW_MULTI);
		printf("attach=%d\n", r < 0 ? errno : 0);
		try_open_in("child_null", child, "/dev/null");
		try_open_in("child_zero", child, "/dev/zero");
		try_open_in("here_null", NULL, "/dev/null");
		r = attach(BPF_PROG_DETACH, cg, prog, 0);
		printf("detach=%d\n", r < 0 ? errno : 0);
		try_open_in("after_null", child, "/dev/null");
		r = load(1, 3, 0, 100000, 0);
		printf("huge=%d\n", r < 0 ? errno : 0);
		r = load(1, 3, 0, 0, 1);
		printf("badptr=%d\n", r < 0 ? errno : 0);
		{
			union bpf_attr a;
			struct bpf_insn ret0[] = {INSN(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0),
						  INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)};

			memset(&a, 0, sizeof(a));
			a.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
			a.insns = (unsigned long)ret0;
			a.insn_cnt = 2;
			a.license = (unsigned long)"GPL";
			r = (int)bpf(BPF_PROG_LOAD, &a);
			printf("socketfilter=%d\n", r < 0 ? errno : 0);
		}
		return 0;
	}
	if (argc >= 3 && !strcmp(argv[1], "allowall")) {
		prog = load(0, 0, 1, 0, 0);
		cg = open_child(argv[2], child, sizeof(child));
		r = attach(BPF_PROG_ATTACH, cg, prog, BPF_F_ALLOW_MULTI);
		printf("attach=%d\n", r < 0 ? errno : 0);
		try_open_in("child_zero", child, "/dev/zero");
		try_open_in("child_null", child, "/dev/null");
		return 0;
	}
	if (argc >= 3 && !strcmp(argv[1], "attach-to")) {
		prog = load(0, 0, 1, 0, 0);
		cg = open(argv[2], O_RDONLY | O_DIRECTORY);
		r = attach(BPF_PROG_ATTACH, cg, prog, BPF_F_ALLOW_MULTI);
		printf("outside=%d\n", r < 0 ? errno : 0);
		return 0;
	}
	if (argc >= 5 && !strcmp(argv[1], "host-deny")) {
		prog = load((unsigned)atoi(argv[3]), (unsigned)atoi(argv[4]), 0, 0, 0);
		cg = open(argv[2], O_RDONLY | O_DIRECTORY);
		r = attach(BPF_PROG_ATTACH, cg, prog, BPF_F_ALLOW_MULTI);
		printf("hostattach=%d load=%d\n", r < 0 ? errno : 0, prog < 0 ? errno : 0);
		return r < 0 || prog < 0;
	}
	fprintf(stderr, "usage: bpfprobe scenario|allowall CG | host-deny CG MAJ MIN\n");
	return 2;
}
