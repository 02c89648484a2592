/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "common/conf.h"
#include "common/log.h"
#include "common/macros.h"
#include "tools/lxd-policy.h"

#define LXD_PREFIX   "security.syscalls.intercept."
#define LXD_LINE_MAX 4096

/* A YAML scalar as `lxc config show` writes one: plain, "double-quoted" or 'single-quoted'.
 * Rewrites v in place; false for what no intercept key holds (a block scalar, a bad quote). */
static bool yaml_scalar(char *v)
{
	size_t n = strlen(v);
	char *w = v;

	while (n && (v[n - 1] == '\n' || v[n - 1] == ' ' || v[n - 1] == '\r'))
		v[--n] = 0;
	if (v[0] == '"') {
		for (char *r = v + 1; *r; r++) {
			if (*r == '"')
				return *w = 0, r[1] == 0;
			if (*r == '\\' && r[1])
				r++;
			*w++ = *r;
		}
		return false;
	}
	if (v[0] == '\'') {
		for (char *r = v + 1; *r; r++) {
			if (*r == '\'' && r[1] == '\'')
				r++;
			else if (*r == '\'')
				return *w = 0, r[1] == 0;
			*w++ = *r;
		}
		return false;
	}
	if (v[0] == '|' || v[0] == '>' || v[0] == '&' || v[0] == '*' || v[0] == '{' || v[0] == '[')
		return false;
	{
		char *hash = strstr(v, " #");

		if (hash)
			*hash = 0;
	}
	n = strlen(v);
	while (n && v[n - 1] == ' ')
		v[--n] = 0;
	return true;
}

int ic_lxd_policy(FILE *in, FILE *out, const char *name, unsigned *skipped,
		  char err[IC_CONF_ERR_MAX])
{
	struct ic_policy scratch = {0};
	char line[LXD_LINE_MAX];
	bool in_config = false;
	unsigned n = 0;
	int lineno = 0, r = 0;

	*skipped = 0;
	fprintf(out, "[policy %s]\n", name);
	while (fgets(line, sizeof(line), in)) {
		char *key = line + 2, *colon, *value;

		lineno++;
		if (line[0] != ' ' && line[0] != '\n') {
			in_config = strncmp(line, "config:", 7) == 0;
			continue;
		}
		/* Only the config mapping's own keys: two spaces in. Deeper lines belong to other
		 * keys' block values. */
		if (!in_config || strncmp(line, "  ", 2) != 0 || line[2] == ' ' ||
		    strncmp(key, LXD_PREFIX, strlen(LXD_PREFIX)) != 0)
			continue;
		colon = strstr(key, ": ");
		if (!colon) {
			r = ic_errbuf(err, IC_CONF_ERR_MAX, EINVAL, "line %d: no value for '%.*s'",
				      lineno, (int)strcspn(key, ":\n"), key);
			break;
		}
		*colon = 0;
		value = colon + 2;
		if (!yaml_scalar(value)) {
			r = ic_errbuf(err, IC_CONF_ERR_MAX, EINVAL,
				      "line %d: '%s' has a value this converter does not read",
				      lineno, key);
			break;
		}
		if (!ic_policy_key_known(key)) {
			fprintf(out, "; %s = %s: LXD's, not interceptd's\n", key, value);
			(*skipped)++;
			continue;
		}
		r = ic_policy_set(&scratch, key, value, err);
		if (r < 0) {
			char why[IC_CONF_ERR_MAX];

			snprintf(why, sizeof(why), "%s", err);
			r = ic_errbuf(err, IC_CONF_ERR_MAX, r, "line %d: %s", lineno, why);
			break;
		}
		fprintf(out, "%s = %s\n", key, value);
		n++;
	}
	ic_policy_done(&scratch);
	if (r == 0 && n == 0 && *skipped == 0)
		fprintf(out, "; no " LXD_PREFIX "* key: this policy intercepts nothing\n");
	return r;
}
