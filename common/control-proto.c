/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/control-proto.h"
#include "common/log.h"
#include "common/macros.h"

static const char *const cmd_names[_IC_CTL_CMD_MAX] = {
    [IC_CTL_STATUS] = "status",	  [IC_CTL_STATS] = "stats",   [IC_CTL_CONTAINERS] = "containers",
    [IC_CTL_METRICS] = "metrics", [IC_CTL_RELOAD] = "reload", [IC_CTL_UPGRADE] = "upgrade",
};

int ic_ctl_decode(const char *data, size_t len, struct ic_ctl_req *req, char *err, size_t errlen)
{
	char line[IC_CTL_LINE_MAX + 1], cmd[32] = "", opt[32] = "";
	int c;

	len = IC_MIN(len, sizeof(line) - 1);
	memcpy(line, data, len);
	line[len] = 0;
	line[strcspn(line, "\n")] = 0;
	if (sscanf(line, "%31s %31s", cmd, opt) < 1)
		return ic_errbuf(err, errlen, EINVAL, "empty request");
	for (c = 0; c < _IC_CTL_CMD_MAX && strcmp(cmd, cmd_names[c]) != 0; c++)
		;
	if (strcmp(opt, "--json") == 0)
		req->format = IC_CTL_JSON;
	else if (strcmp(opt, "--openmetrics") == 0 && c == IC_CTL_METRICS)
		req->format = IC_CTL_OPENMETRICS;
	else if (*opt)
		return ic_errbuf(err, errlen, EINVAL, "unknown option '%s'", opt);
	else
		req->format = IC_CTL_TEXT;
	if (c == _IC_CTL_CMD_MAX)
		return ic_errbuf(err, errlen, EINVAL,
				 "unknown command '%s' (status, stats, containers, reload, "
				 "upgrade, metrics)",
				 cmd);
	if (c == IC_CTL_METRICS && req->format == IC_CTL_JSON)
		return ic_errbuf(err, errlen, EINVAL,
				 "metrics has no --json; --openmetrics for OpenMetrics");
	req->cmd = (enum ic_ctl_cmd)c;
	return 0;
}
