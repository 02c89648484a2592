/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <linux/bpf.h>
#include <sched.h>
#include <string.h>
#include <sys/uio.h>

#include "common/control-proto.h"
#include "handlers/decode.h"

/* The argument decoders against a target whose memory is a buffer of ours: this file's
 * process_vm_readv stands in for libc's (as in fuzz/fake-mem.c), so partial reads, bad pointers
 * and a target that dies half way through are all at hand. */

#define BASE 0x10000ULL
#define PID  4242

static unsigned char mem[3 * 4096];
/* Bytes at and above it belong to a target that exited meanwhile: ESRCH. */
static uint64_t gone_at = UINT64_MAX;

ssize_t process_vm_readv(pid_t pid, const struct iovec *local, unsigned long nl,
			 const struct iovec *remote, unsigned long nr, unsigned long flags)
{
	uint64_t a = (uint64_t)(uintptr_t)remote->iov_base;
	size_t n = remote->iov_len;

	if (pid != PID || nl != 1 || nr != 1 || a >= gone_at) {
		errno = ESRCH;
		return -1;
	}
	if (a < BASE || a >= BASE + sizeof(mem)) {
		errno = EFAULT;
		return -1;
	}
	if (n > BASE + sizeof(mem) - a)
		n = BASE + sizeof(mem) - a;
	memcpy(local->iov_base, mem + (a - BASE), n);
	return (ssize_t)n;
}

static uint64_t put(size_t off, const void *p, size_t len)
{
	memcpy(mem + off, p, len);
	return BASE + off;
}

static void setup(void)
{
	memset(mem, 0, sizeof(mem));
	gone_at = UINT64_MAX;
}

TestSuite(decode, .init = setup);

static struct ic_mount_args m;

Test(decode, mount_reads_its_five_arguments)
{
	__u64 a[6] = {put(0, "/dev/vdb", 9), put(16, "/mnt", 5), put(32, "ext4", 5), 1,
		      put(48, "ro,errors=remount-ro", 21)};

	cr_assert_eq(ic_mount_read_fstype(PID, a, &m), 0);
	cr_expect_str_eq(m.fstype, "ext4");
	cr_expect_eq(m.flags, 1);
	cr_assert_eq(ic_mount_read_rest(PID, a, &m), 0);
	cr_expect_str_eq(m.source, "/dev/vdb");
	cr_expect_str_eq(m.target, "/mnt");
	cr_expect_str_eq(m.data, "ro,errors=remount-ro");
}

Test(decode, mount_options_longer_than_a_page_are_cut_as_the_kernel_cuts_them)
{
	__u64 a[6] = {put(0, "none", 5), put(16, "/mnt", 5), put(32, "tmpfs", 6), 0, BASE + 4096};

	memset(mem + 4096, 'o', 2 * 4096);
	cr_assert_eq(ic_mount_read_fstype(PID, a, &m), 0);
	cr_assert_eq(ic_mount_read_rest(PID, a, &m), 0);
	cr_expect_eq(strlen(m.data), IC_MOUNT_DATA_MAX - 1);
}

/* Before, the handler went on with a buffer half read, its tail bytes never written. */
Test(decode, mount_target_gone_while_its_options_are_read_is_gone)
{
	__u64 a[6] = {put(0, "none", 5), put(16, "/mnt", 5), put(32, "tmpfs", 6), 0, BASE + 4000};

	memset(mem + 4000, 'o', 4096);
	gone_at = BASE + 4096; /* the options' second page */
	memset(m.data, 'X', sizeof(m.data));
	cr_assert_eq(ic_mount_read_fstype(PID, a, &m), 0);
	cr_expect_eq(ic_mount_read_rest(PID, a, &m), -ESRCH);
	cr_expect_eq(m.data[0], 0, "no half-read options are left: %.16s", m.data);
}

Test(decode, mount_null_source_and_bad_target_are_efault)
{
	__u64 a[6] = {0, put(16, "/mnt", 5), put(32, "ext4", 5), 0, 0};

	cr_assert_eq(ic_mount_read_fstype(PID, a, &m), 0);
	cr_expect_eq(ic_mount_read_rest(PID, a, &m), -EFAULT);
	a[0] = put(0, "/dev/vdb", 9);
	a[1] = 8;
	cr_expect_eq(ic_mount_read_rest(PID, a, &m), -EFAULT);
	a[2] = 0;
	cr_expect_eq(ic_mount_read_fstype(PID, a, &m), -EFAULT);
}

Test(decode, mount_options_split_into_keys_and_values)
{
	char data[] = ",,ro,,subvol=@home,=x,mode=0755,";
	const char *want[][2] = {{"ro", NULL}, {"subvol", "@home"}, {"", "x"}, {"mode", "0755"}};
	char *cursor = data, *key, *value;
	size_t n = 0;

	while ((key = ic_mount_option_next(&cursor, &value))) {
		cr_assert_lt(n, 4, "one key too many: %s", key);
		cr_expect_str_eq(key, want[n][0]);
		if (want[n][1])
			cr_expect_str_eq(value, want[n][1]);
		else
			cr_expect_null(value);
		n++;
	}
	cr_expect_eq(n, 4);
}

Test(decode, mount_policy_lists_and_fuse_helpers)
{
	char helper[16];

	cr_expect(ic_mount_list_has("ext4, xfs ,btrfs", "xfs"));
	cr_expect(ic_mount_list_has("ext4=fuse2fs", "ext4"));
	cr_expect_not(ic_mount_list_has("ext4, xfs", "ext"));
	cr_expect_not(ic_mount_list_has("ext4, xfs", "ext4x"));
	cr_expect(ic_mount_fuse_helper("ext4=fuse2fs , squashfs=squashfuse", "squashfs", helper,
				       sizeof(helper)));
	cr_expect_str_eq(helper, "squashfuse");
	cr_expect_not(ic_mount_fuse_helper("ntfs=", "ntfs", helper, sizeof(helper)));
	cr_expect_not(
	    ic_mount_fuse_helper("x=a-helper-too-long-for-it", "x", helper, sizeof(helper)));
}

static union bpf_attr attr;
static struct ic_bpf_prog prog;

static void bpf_done(void)
{
	ic_bpf_prog_done(&prog);
}

static uint64_t load_attr(uint32_t insn_cnt, const char *license)
{
	union bpf_attr at = {0};

	at.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	at.insn_cnt = insn_cnt;
	at.insns = BASE + 1024;
	at.license = put(4096 - 4, license, strlen(license) + 1); /* across a page */
	return put(0, &at, sizeof(at));
}

Test(decode, bpf_load_copies_the_program_and_its_license, .fini = bpf_done)
{
	uint64_t addr = load_attr(2, "GPL");

	cr_assert_eq(ic_bpf_attr_read(PID, addr, sizeof(attr), &attr), 0);
	cr_assert_eq(ic_bpf_prog_read(PID, &attr, &prog), 0);
	cr_expect_str_eq(prog.license, "GPL");
	cr_expect_eq(attr.insns, (uintptr_t)prog.insns);
	cr_expect_eq(attr.license, (uintptr_t)prog.license);
}

Test(decode, bpf_refuses_what_it_cannot_carry_out, .fini = bpf_done)
{
	char longer[200];

	cr_assert_eq(ic_bpf_attr_read(PID, load_attr(0, "GPL"), sizeof(attr), &attr), 0);
	cr_expect_eq(ic_bpf_prog_read(PID, &attr, &prog), -EINVAL);
	ic_bpf_prog_done(&prog);
	cr_assert_eq(
	    ic_bpf_attr_read(PID, load_attr(IC_BPF_INSNS_MAX + 1, "GPL"), sizeof(attr), &attr), 0);
	cr_expect_eq(ic_bpf_prog_read(PID, &attr, &prog), -E2BIG);
	ic_bpf_prog_done(&prog);
	memset(longer, 'L', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = 0;
	cr_assert_eq(ic_bpf_attr_read(PID, load_attr(2, longer), sizeof(attr), &attr), 0);
	cr_expect_eq(ic_bpf_prog_read(PID, &attr, &prog), -EINVAL, "license too long");
	ic_bpf_prog_done(&prog);
	cr_assert_eq(ic_bpf_attr_read(PID, load_attr(2, "GPL"), sizeof(attr), &attr), 0);
	attr.prog_btf_fd = 3;
	cr_expect_eq(ic_bpf_prog_read(PID, &attr, &prog), -EINVAL, "an fd field");
}

Test(decode, bpf_attr_larger_than_ours_must_end_in_zeros)
{
	uint64_t addr = load_attr(2, "GPL");

	cr_expect_eq(ic_bpf_attr_read(PID, addr, 512, &attr), 0);
	mem[300] = 1;
	cr_expect_eq(ic_bpf_attr_read(PID, addr, 512, &attr), -E2BIG);
	cr_expect_eq(ic_bpf_attr_read(PID, addr, IC_BPF_ATTR_MAX + 1, &attr), -E2BIG);
	cr_expect_eq(ic_bpf_attr_read(PID, BASE + sizeof(mem) - 16, sizeof(attr), &attr), -EFAULT);
}

Test(decode, bpf_attach_needs_allow_multi)
{
	cr_expect(ic_bpf_attach_flags_ok(BPF_PROG_ATTACH, BPF_F_ALLOW_MULTI));
	cr_expect(ic_bpf_attach_flags_ok(BPF_PROG_ATTACH, BPF_F_ALLOW_MULTI | BPF_F_REPLACE));
	cr_expect_not(ic_bpf_attach_flags_ok(BPF_PROG_ATTACH, 0));
	cr_expect_not(ic_bpf_attach_flags_ok(BPF_PROG_ATTACH, BPF_F_ALLOW_MULTI | 8));
	cr_expect(ic_bpf_attach_flags_ok(BPF_PROG_DETACH, 0));
}

Test(decode, sched_param_within_the_policy_and_its_bound)
{
	struct sched_param p;
	int prio = 10;
	uint64_t addr = put(0, &prio, sizeof(prio));

	cr_expect_eq(ic_sched_param_read(PID, addr, SCHED_FIFO, 99, &p), 0);
	cr_expect_eq(p.sched_priority, 10);
	cr_expect_eq(ic_sched_param_read(PID, addr, SCHED_RR, 9, &p), -EPERM);
	cr_expect_eq(ic_sched_param_read(PID, 0, SCHED_RR, 99, &p), -EINVAL);
	prio = 100;
	addr = put(0, &prio, sizeof(prio));
	cr_expect_eq(ic_sched_param_read(PID, addr, SCHED_FIFO, 200, &p), -EINVAL);
	cr_expect_eq(ic_sched_param_read(PID, BASE + sizeof(mem) - 2, SCHED_FIFO, 99, &p), -EFAULT);
	gone_at = BASE;
	cr_expect_eq(ic_sched_param_read(PID, addr, SCHED_FIFO, 99, &p), -ESRCH);
}

Test(decode, control_requests_as_interceptctl_sends_them)
{
	static const struct {
		const char *line;
		int r;
		enum ic_ctl_cmd cmd;
		enum ic_ctl_format format;
		const char *err;
	} cases[] = {
	    {"status\n", 0, IC_CTL_STATUS, IC_CTL_TEXT, NULL},
	    {"stats --json\n", 0, IC_CTL_STATS, IC_CTL_JSON, NULL},
	    {"containers --json", 0, IC_CTL_CONTAINERS, IC_CTL_JSON, NULL},
	    {"metrics --openmetrics\n", 0, IC_CTL_METRICS, IC_CTL_OPENMETRICS, NULL},
	    {"reload\nstatus\n", 0, IC_CTL_RELOAD, IC_CTL_TEXT, NULL},
	    {"stats --json and more\n", 0, IC_CTL_STATS, IC_CTL_JSON, NULL},
	    {"upgrade now\n", -EINVAL, 0, 0, "unknown option 'now'"},
	    {"\n", -EINVAL, 0, 0, "empty request"},
	    {"metrics --json\n", -EINVAL, 0, 0, "metrics has no --json"},
	    {"stats --openmetrics\n", -EINVAL, 0, 0, "unknown option '--openmetrics'"},
	    {"shutdown\n", -EINVAL, 0, 0, "unknown command 'shutdown'"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ic_ctl_req req = {0};
		char err[IC_CTL_LINE_MAX + 128] = "";
		int r = ic_ctl_decode(cases[i].line, strlen(cases[i].line), &req, err, sizeof(err));

		cr_expect_eq(r, cases[i].r, "%s", cases[i].line);
		if (r == 0) {
			cr_expect_eq(req.cmd, cases[i].cmd, "%s", cases[i].line);
			cr_expect_eq(req.format, cases[i].format, "%s", cases[i].line);
		} else {
			cr_expect(strstr(err, cases[i].err), "%s: %s", cases[i].line, err);
		}
	}
}

Test(decode, control_request_longer_than_a_line_is_cut)
{
	char line[2 * IC_CTL_LINE_MAX];
	struct ic_ctl_req req;
	char err[IC_CTL_LINE_MAX + 128] = "";

	memset(line, ' ', sizeof(line));
	memcpy(line + IC_CTL_LINE_MAX - 4, "stats", 5);
	cr_expect_eq(ic_ctl_decode(line, sizeof(line), &req, err, sizeof(err)), -EINVAL);
	/* What the daemon reads of a request, IC_CTL_LINE_MAX bytes, ends in the middle. */
	cr_expect(strstr(err, "unknown command 'stat'"), "%s", err);
}
