/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <linux/bpf.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz/fake-mem.h"
#include "handlers/decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* bpf(cmd, attr, size) as the bpf handler decodes it: the common header (fake-mem.h), attr
 * address (2), attr size (3); the rest is the target's memory, where the attr's own pointers
 * (insns, license, log_buf) point as raw addresses (FAKE_BASE and up is mapped). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fake_input in = fake_begin(data, size);
	uint16_t addr = (uint16_t)fake_take(&in, 2);
	uint64_t attr_size = fake_take(&in, 3);
	struct ic_bpf_prog p;
	union bpf_attr attr;
	pid_t pid;
	int r;

	pid = fake_mem_map(&in);
	r = ic_bpf_attr_read(pid, fake_addr(addr), attr_size, &attr);
	if (r == 0 && attr_size > IC_BPF_ATTR_MAX)
		__builtin_trap();
	if (r < 0)
		return 0;
	(void)ic_bpf_attach_flags_ok(BPF_PROG_ATTACH, attr.attach_flags);
	(void)ic_bpf_attach_flags_ok(BPF_PROG_DETACH, attr.attach_flags);
	r = ic_bpf_prog_read(pid, &attr, &p);
	if (r == 0) {
		/* What the kernel is given: our copies, bounded, a terminated license. */
		if (attr.insns != (uintptr_t)p.insns || attr.license != (uintptr_t)p.license ||
		    attr.insn_cnt == 0 || attr.insn_cnt > IC_BPF_INSNS_MAX ||
		    p.log_size > IC_BPF_LOG_MAX || !memchr(p.license, 0, sizeof(p.license)))
			__builtin_trap();
		/* Touch every byte we hand over, so that ASan checks their sizes. */
		for (uint32_t i = 0; i < attr.insn_cnt; i++)
			((volatile uint8_t *)p.insns)[i * 8 + 7] = 0;
		if (p.log_size)
			((volatile char *)p.log)[p.log_size - 1] = 0;
	} else if (r != -EINVAL && r != -E2BIG && r != -EFAULT) {
		__builtin_trap();
	}
	ic_bpf_prog_done(&p);
	return 0;
}
