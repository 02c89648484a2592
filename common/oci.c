/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/macros.h"
#include "common/oci.h"

#define OCI_POLICY_ANNOTATION "org.interceptd.policy"

static struct json_object *get(struct json_object *o, const char *key, enum json_type type)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, type))
		return NULL;
	return v;
}

/* A pid must be a JSON integer in 1..INT_MAX: not a string, not a float, not 2^40. */
static int get_pid(struct json_object *o, const char *key, pid_t *ret)
{
	struct json_object *v = get(o, key, json_type_int);
	int64_t n;

	if (!v)
		return -EINVAL;
	errno = 0;
	n = json_object_get_int64(v);
	if (errno || n <= 0 || n > INT_MAX)
		return -ERANGE;
	*ret = (pid_t)n;
	return 0;
}

static int copy_str(struct json_object *o, const char *key, char *dst, size_t dstlen, bool required)
{
	struct json_object *v = get(o, key, json_type_string);
	const char *s;
	size_t n;

	if (!v)
		return required ? -EINVAL : 0;
	s = json_object_get_string(v);
	n = (size_t)json_object_get_string_len(v);
	if (n == 0 || n >= dstlen || memchr(s, 0, n))
		return -EINVAL;
	memcpy(dst, s, n + 1);
	return 0;
}

static bool id_ok(const char *id)
{
	for (const char *p = id; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

static void put_object(struct json_object **o)
{
	if (*o)
		json_object_put(*o);
}

static void free_tokener(struct json_tokener **t)
{
	if (*t)
		json_tokener_free(*t);
}

int ic_oci_parse(const char *buf, size_t len, struct ic_oci_state *st, char *err, size_t errlen)
{
	_cleanup_(free_tokener) struct json_tokener *tok = NULL;
	_cleanup_(put_object) struct json_object *root = NULL;
	struct json_object *state, *fds, *v;
	enum json_tokener_error jerr;
	size_t used;

	memset(st, 0, sizeof(*st));
	st->seccomp_fd_index = -1;
	if (len > IC_OCI_MSG_MAX)
		return ic_errbuf(err, errlen, EINVAL, "message larger than %d bytes",
				 IC_OCI_MSG_MAX);
	if (memchr(buf, 0, len))
		return ic_errbuf(err, errlen, EINVAL, "NUL byte in message");

	tok = json_tokener_new_ex(32);
	if (!tok)
		return -ENOMEM;
	root = json_tokener_parse_ex(tok, buf, (int)len);
	jerr = json_tokener_get_error(tok);
	if (jerr == json_tokener_continue)
		return -EAGAIN;
	if (jerr != json_tokener_success)
		return ic_errbuf(err, errlen, EINVAL, "bad JSON at byte %zu: %s",
				 (size_t)json_tokener_get_parse_end(tok),
				 json_tokener_error_desc(jerr));
	used = json_tokener_get_parse_end(tok);
	for (; used < len; used++)
		if (!strchr(" \t\r\n", buf[used]))
			return ic_errbuf(err, errlen, EINVAL,
					 "trailing data after the JSON object");
	if (!json_object_is_type(root, json_type_object))
		return ic_errbuf(err, errlen, EINVAL, "not a JSON object");

	state = get(root, "state", json_type_object);
	if (!state)
		return ic_errbuf(err, errlen, EINVAL, "no \"state\" object");
	if (copy_str(state, "id", st->id, sizeof(st->id), true) < 0 || !id_ok(st->id))
		return ic_errbuf(err, errlen, EINVAL, "missing or bad \"state.id\"");
	if ((json_object_object_get_ex(state, "status", &v) &&
	     !json_object_is_type(v, json_type_string)) ||
	    copy_str(state, "status", st->status, sizeof(st->status), false) < 0)
		return ic_errbuf(err, errlen, EINVAL, "bad \"state.status\"");
	if (get_pid(state, "pid", &st->init_pid) < 0)
		return ic_errbuf(err, errlen, EINVAL, "missing or bad \"state.pid\"");
	if (get_pid(root, "pid", &st->pid) < 0)
		return ic_errbuf(err, errlen, EINVAL, "missing or bad \"pid\"");

	fds = get(root, "fds", json_type_array);
	if (!fds)
		return ic_errbuf(err, errlen, EINVAL, "no \"fds\" array");
	st->n_fds = (int)json_object_array_length(fds);
	if (st->n_fds > IC_OCI_FDS_MAX)
		return ic_errbuf(err, errlen, EINVAL, "%d fds named, at most %d", st->n_fds,
				 IC_OCI_FDS_MAX);
	for (int i = 0; i < st->n_fds; i++) {
		v = json_object_array_get_idx(fds, i);
		if (!json_object_is_type(v, json_type_string))
			return ic_errbuf(err, errlen, EINVAL, "\"fds\"[%d] is not a string", i);
		if (json_object_get_string_len(v) == 9 &&
		    memcmp(json_object_get_string(v), "seccompFd", 9) == 0) {
			if (st->seccomp_fd_index >= 0)
				return ic_errbuf(err, errlen, EINVAL, "\"seccompFd\" named twice");
			st->seccomp_fd_index = i;
		}
	}
	if (st->seccomp_fd_index < 0)
		return ic_errbuf(err, errlen, EINVAL, "no \"seccompFd\" in \"fds\"");

	if (json_object_object_get_ex(root, "metadata", &v) &&
	    !json_object_is_type(v, json_type_string))
		return ic_errbuf(err, errlen, EINVAL, "\"metadata\" is not a string");
	v = get(root, "metadata", json_type_string);
	if (v && memchr(json_object_get_string(v), 0, (size_t)json_object_get_string_len(v)))
		return ic_errbuf(err, errlen, EINVAL, "NUL in \"metadata\"");
	if (v && json_object_get_string_len(v) > 0) {
		st->metadata = strdup(json_object_get_string(v));
		if (!st->metadata)
			return -ENOMEM;
	}
	v = get(state, "annotations", json_type_object);
	if (v && (v = get(v, OCI_POLICY_ANNOTATION, json_type_string))) {
		st->policy_annotation = strdup(json_object_get_string(v));
		if (!st->policy_annotation) {
			ic_oci_state_done(st);
			return -ENOMEM;
		}
	}
	return 0;
}

void ic_oci_state_done(struct ic_oci_state *st)
{
	free(st->metadata);
	free(st->policy_annotation);
	st->metadata = st->policy_annotation = NULL;
}

char *ic_oci_format_state(const struct ic_oci_state *st)
{
	_cleanup_(put_object) struct json_object *root = json_object_new_object();
	struct json_object *state = json_object_new_object();
	struct json_object *fds = json_object_new_array();
	struct json_object *notes = st->policy_annotation ? json_object_new_object() : NULL;

	if (!root || !state || !fds || (st->policy_annotation && !notes)) {
		json_object_put(state);
		json_object_put(fds);
		json_object_put(notes);
		return NULL;
	}
	json_object_object_add(root, "ociVersion", json_object_new_string("1.0.2"));
	json_object_array_add(fds, json_object_new_string("seccompFd"));
	json_object_object_add(root, "fds", fds);
	json_object_object_add(root, "pid", json_object_new_int(st->pid));
	if (st->metadata)
		json_object_object_add(root, "metadata", json_object_new_string(st->metadata));
	json_object_object_add(state, "ociVersion", json_object_new_string("1.0.2"));
	json_object_object_add(state, "id", json_object_new_string(st->id));
	json_object_object_add(state, "status", json_object_new_string(st->status));
	json_object_object_add(state, "pid", json_object_new_int(st->init_pid));
	json_object_object_add(state, "bundle", json_object_new_string(""));
	if (notes) {
		json_object_object_add(notes, OCI_POLICY_ANNOTATION,
				       json_object_new_string(st->policy_annotation));
		json_object_object_add(state, "annotations", notes);
	}
	json_object_object_add(root, "state", state);
	return strdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
}

char *ic_oci_format(const char *id, pid_t pid, pid_t init_pid, const char *status,
		    const char *metadata)
{
	struct ic_oci_state st = {.pid = pid, .init_pid = init_pid, .metadata = (char *)metadata};

	snprintf(st.id, sizeof(st.id), "%s", id);
	snprintf(st.status, sizeof(st.status), "%s", status);
	return ic_oci_format_state(&st);
}
