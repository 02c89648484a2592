/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/lxc-proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An LXC datagram as it reaches the daemon; the first byte is the fd count it came with. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ic_lxc_msg msg;
	char why[128];

	if (size < 1 || size > IC_LXC_MSG_MAX + 1)
		return -1;
	if (ic_lxc_decode(data + 1, size - 1, data[0] % 5, &msg, why, sizeof(why)) == 0 &&
	    strlen(msg.cookie) != msg.hdr.cookie_len)
		__builtin_trap();
	return 0;
}
