/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>

#include "common/control-proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What a client of the control socket sends (interceptctl: "stats --json\n"). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ic_ctl_req req;
	char err[IC_CTL_LINE_MAX + 128] = "";

	if (ic_ctl_decode((const char *)data, size, &req, err, sizeof(err)) == 0) {
		if (req.cmd >= _IC_CTL_CMD_MAX || req.format >= _IC_CTL_FORMAT_MAX ||
		    (req.format == IC_CTL_OPENMETRICS && req.cmd != IC_CTL_METRICS))
			__builtin_trap();
	} else if (!err[0]) {
		__builtin_trap(); /* every refusal tells the client why */
	}
	return 0;
}
