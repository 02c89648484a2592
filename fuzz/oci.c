/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>

#include "common/oci.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The container process state a runtime sends on the OCI socket. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ic_oci_state st;
	char err[160];

	if (ic_oci_parse((const char *)data, size, &st, err, sizeof(err)) == 0)
		ic_oci_state_done(&st);
	return 0;
}
