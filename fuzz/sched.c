/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>

#include "fuzz/fake-mem.h"
#include "handlers/decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* sched_setscheduler(pid, policy, param) as the sched handler decodes it: the common
 * header (fake-mem.h), param address (2), policy (1: FIFO or RR), sched.max_rt_priority (1); the
 * rest is the target's memory. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fake_input in = fake_begin(data, size);
	uint16_t addr = (uint16_t)fake_take(&in, 2);
	int base = fake_take(&in, 1) & 1 ? SCHED_RR : SCHED_FIFO;
	unsigned max = (unsigned)fake_take(&in, 1);
	struct sched_param param;
	pid_t pid;
	int r;

	pid = fake_mem_map(&in);
	r = ic_sched_param_read(pid, fake_addr(addr), base, max, &param);
	if (r == 0 && (param.sched_priority < sched_get_priority_min(base) ||
		       param.sched_priority > sched_get_priority_max(base) ||
		       (unsigned)param.sched_priority > max))
		__builtin_trap();
	if (r < 0 && r != -EINVAL && r != -EPERM && r != -EFAULT && r != -ESRCH)
		__builtin_trap();
	return 0;
}
