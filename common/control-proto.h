/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_COMMON_CONTROL_PROTO_H
#define IC_COMMON_CONTROL_PROTO_H

#include <stddef.h>

/* The control socket's request: one line, "COMMAND [OPTION]\n", as interceptctl sends it. */

/* What the daemon reads of one request, the newline included. */
#define IC_CTL_LINE_MAX 256

enum ic_ctl_cmd {
	IC_CTL_STATUS = 0,
	IC_CTL_STATS = 1,
	IC_CTL_CONTAINERS = 2,
	IC_CTL_METRICS = 3,
	IC_CTL_RELOAD = 4,
	IC_CTL_UPGRADE = 5,
	_IC_CTL_CMD_MAX
};

enum ic_ctl_format {
	IC_CTL_TEXT = 0,
	IC_CTL_JSON = 1,	/* --json */
	IC_CTL_OPENMETRICS = 2, /* --openmetrics, metrics only */
	_IC_CTL_FORMAT_MAX
};

struct ic_ctl_req {
	enum ic_ctl_cmd cmd;
	enum ic_ctl_format format;
};

/* Decode the len bytes read from a control connection (not NUL-terminated; what follows the
 * first newline or NUL is ignored, as is a third word). 0, or -EINVAL with the reply for the
 * client in err. Pure: any thread. */
int ic_ctl_decode(const char *data, size_t len, struct ic_ctl_req *req, char *err, size_t errlen);

#endif
