/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macros.h"
#include "common/oci.h"

#ifndef IC_TOP_SRCDIR
#error "IC_TOP_SRCDIR must name the source directory"
#endif

#define RUNC_LEN 223
#define CRUN_LEN 316

/* A minimal valid message, and the pieces the bad ones are built from. */
#define FDS   "\"fds\":[\"seccompFd\"]"
#define PID   "\"pid\":42"
#define STATE "\"state\":{\"id\":\"c1\",\"status\":\"creating\",\"pid\":41}"
#define VALID "{" FDS "," PID "," STATE "}"

static char *load_sample(const char *name, size_t *len)
{
	char path[4096];
	char *buf;
	FILE *f;

	snprintf(path, sizeof(path), "%s/tests/data/%s", IC_TOP_SRCDIR, name);
	f = fopen(path, "re");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	buf = malloc(IC_OCI_MSG_MAX + 1);
	cr_assert_not_null(buf);
	*len = fread(buf, 1, IC_OCI_MSG_MAX + 1, f);
	cr_assert_eq(ferror(f), 0);
	fclose(f);
	return buf;
}

static int parse(const char *buf, size_t len, struct ic_oci_state *st, char *err, size_t errlen)
{
	err[0] = 0;
	return ic_oci_parse(buf, len, st, err, errlen);
}

static void expect_rejected(const char *buf, size_t len, const char *what)
{
	struct ic_oci_state st;
	char err[256];
	int r = parse(buf, len, &st, err, sizeof(err));

	cr_expect_eq(r, -EINVAL, "%s: r=%d", what, r);
	cr_expect_neq(err[0], 0, "%s: empty err", what);
	cr_expect_null(st.metadata, "%s", what);
	cr_expect_null(st.policy_annotation, "%s", what);
	if (r == 0)
		ic_oci_state_done(&st);
}

Test(oci, runc_sample_is_the_exact_compact_message)
{
	size_t len;
	char *buf = load_sample("runc-state.json", &len);

	cr_expect_eq(len, RUNC_LEN);
	cr_expect_eq(buf[0], '{');
	cr_expect_eq(buf[len - 1], '}');
	cr_expect_null(memchr(buf, '\n', len));
	free(buf);
}

Test(oci, crun_sample_is_the_exact_pretty_message)
{
	size_t len;
	char *buf = load_sample("crun-state.json", &len);

	cr_expect_eq(len, CRUN_LEN);
	cr_expect_eq(memcmp(buf, "{\n    \"ociVersion\": \"0.2.0\",\n", 29), 0);
	cr_expect_eq(memcmp(buf + len - 3, "\n}\n", 3), 0);
	free(buf);
}

Test(oci, parses_runc_message)
{
	struct ic_oci_state st;
	char err[256];
	size_t len;
	char *buf = load_sample("runc-state.json", &len);

	cr_assert_eq(parse(buf, len, &st, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(st.id, "notify-demo-runc-6297");
	cr_expect_str_eq(st.status, "creating");
	cr_expect_eq(st.pid, 6340);
	cr_expect_eq(st.init_pid, 6340);
	cr_expect_eq(st.n_fds, 1);
	cr_expect_eq(st.seccomp_fd_index, 0);
	cr_assert_not_null(st.metadata);
	cr_expect_str_eq(st.metadata, "demo-metadata-runc");
	cr_expect_null(st.policy_annotation);
	ic_oci_state_done(&st);
	cr_expect_null(st.metadata);
	free(buf);
}

Test(oci, parses_crun_pretty_message_with_trailing_newline)
{
	struct ic_oci_state st;
	char err[256];
	size_t len;
	char *buf = load_sample("crun-state.json", &len);

	cr_assert_eq(parse(buf, len, &st, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(st.id, "notify-demo-crun-7512");
	cr_expect_str_eq(st.status, "creating");
	cr_expect_eq(st.pid, 7542);
	cr_expect_eq(st.init_pid, 7542);
	cr_expect_eq(st.n_fds, 1);
	cr_expect_eq(st.seccomp_fd_index, 0);
	cr_assert_not_null(st.metadata);
	cr_expect_str_eq(st.metadata, "demo-metadata-crun");
	cr_expect_null(st.policy_annotation);
	ic_oci_state_done(&st);
	free(buf);
}

/* A message may arrive split over several reads: every cut before the closing brace must ask for
 * more bytes, never succeed and never fail (the text so far is a valid prefix). */
static void expect_every_prefix_incomplete(const char *name, size_t complete)
{
	size_t len;
	char *buf = load_sample(name, &len);

	cr_assert_leq(complete, len);
	for (size_t n = 0; n < complete; n++) {
		/* A private copy, so a read past n would show under ASan/valgrind. */
		char *part = malloc(n ? n : 1);
		struct ic_oci_state st;
		char err[256];
		int r;

		cr_assert_not_null(part);
		memcpy(part, buf, n);
		r = parse(part, n, &st, err, sizeof(err));
		cr_expect(r == -EAGAIN || r == -EINVAL, "%s[0..%zu): r=%d", name, n, r);
		cr_expect_eq(r, -EAGAIN, "%s[0..%zu): a valid prefix gave %d (%s)", name, n, r,
			     err);
		cr_expect_null(st.metadata);
		if (r == 0)
			ic_oci_state_done(&st);
		free(part);
	}
	free(buf);
}

Test(oci, every_runc_prefix_asks_for_more)
{
	expect_every_prefix_incomplete("runc-state.json", RUNC_LEN);
}

Test(oci, every_crun_prefix_asks_for_more)
{
	/* The last byte is crun's trailing "\n": without it the object is already complete. */
	expect_every_prefix_incomplete("crun-state.json", CRUN_LEN - 1);
}

Test(oci, crun_message_is_complete_at_its_closing_brace)
{
	struct ic_oci_state st;
	char err[256];
	size_t len;
	char *buf = load_sample("crun-state.json", &len);

	cr_assert_eq(parse(buf, len - 1, &st, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(st.id, "notify-demo-crun-7512");
	ic_oci_state_done(&st);
	free(buf);
}

Test(oci, trailing_whitespace_is_accepted)
{
	static const char msg[] = VALID " \t\r\n\n";
	struct ic_oci_state st;
	char err[256];

	cr_assert_eq(parse(msg, sizeof(msg) - 1, &st, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(st.id, "c1");
	cr_expect_eq(st.pid, 42);
	cr_expect_eq(st.init_pid, 41);
	cr_expect_null(st.metadata);
	ic_oci_state_done(&st);
}

Test(oci, trailing_garbage_after_the_object_is_rejected)
{
	static const char *const msgs[] = {
	    VALID "x", VALID "\n{}", VALID VALID, VALID " 1", VALID "]",
	};

	for (size_t i = 0; i < ARRAY_SIZE(msgs); i++)
		expect_rejected(msgs[i], strlen(msgs[i]), msgs[i]);
}

Test(oci, garbage_is_rejected)
{
	static const struct {
		const char *buf;
		size_t len;
	} cases[] = {
	    {"hello", 5},
	    {"\x00\x01", 2},
	    {"[]", 2},
	    {"123 456", 7},
	    {"}", 1},
	    {"null ", 5},
	    {"\"s\" ", 4},
	    {"{}", 2},
	    {"{\"a\" 1}", 7},
	    {VALID "\0", sizeof(VALID)}, /* NUL after the object */
	    {"{\"fds\"\0:[]}", 11},	 /* NUL inside */
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char what[32];

		snprintf(what, sizeof(what), "case %zu", i);
		expect_rejected(cases[i].buf, cases[i].len, what);
	}
}

Test(oci, oversized_message_is_rejected)
{
	size_t len = IC_OCI_MSG_MAX + 1;
	char *buf = malloc(len);

	cr_assert_not_null(buf);
	/* A valid message padded with whitespace: only the size is wrong. */
	memset(buf, ' ', len);
	memcpy(buf, VALID, strlen(VALID));
	expect_rejected(buf, len, "64 KiB + 1");
	free(buf);
}

Test(oci, message_of_exactly_64_kib_is_accepted)
{
	size_t len = IC_OCI_MSG_MAX;
	char *buf = malloc(len);
	struct ic_oci_state st;
	char err[256];

	cr_assert_not_null(buf);
	memset(buf, ' ', len);
	memcpy(buf, VALID, strlen(VALID));
	cr_expect_eq(parse(buf, len, &st, err, sizeof(err)), 0, "%s", err);
	ic_oci_state_done(&st);
	free(buf);
}

Test(oci, deep_nesting_is_rejected_without_crashing)
{
	/* 100000 is over the size limit; the others reach the tokener's depth limit. */
	static const size_t depths[] = {100000, 60000, 1000, 33};
	static const char obj[] = "{\"a\":";
	size_t n = 12000 * (sizeof(obj) - 1);
	char *buf = malloc(100000);

	cr_assert_not_null(buf);
	for (size_t i = 0; i < ARRAY_SIZE(depths); i++) {
		char what[32];

		memset(buf, '[', depths[i]);
		snprintf(what, sizeof(what), "%zu x '['", depths[i]);
		expect_rejected(buf, depths[i], what);
	}
	for (size_t k = 0; k < n; k += sizeof(obj) - 1)
		memcpy(buf + k, obj, sizeof(obj) - 1);
	expect_rejected(buf, n, "12000 x '{\"a\":'");
	free(buf);
}

Test(oci, short_err_buffer_is_truncated_not_overrun)
{
	struct ic_oci_state st;
	char err[8];

	memset(err, 'Z', sizeof(err));
	cr_expect_eq(ic_oci_parse("hello", 5, &st, err, 4), -EINVAL);
	cr_expect_eq(strlen(err), 3);
	cr_expect_eq(err[4], 'Z');
}

Test(oci, policy_annotation_is_extracted)
{
	static const char msg[] =
	    "{" FDS "," PID ",\"state\":{\"id\":\"c1\",\"status\":\"running\",\"pid\":41,"
	    "\"bundle\":\"/b\",\"annotations\":{\"io.kubernetes.pod\":\"x\","
	    "\"org.interceptd.policy\":\"strict\"}}}";
	struct ic_oci_state st;
	char err[256];

	cr_assert_eq(parse(msg, sizeof(msg) - 1, &st, err, sizeof(err)), 0, "%s", err);
	cr_assert_not_null(st.policy_annotation);
	cr_expect_str_eq(st.policy_annotation, "strict");
	cr_expect_str_eq(st.status, "running");
	cr_expect_null(st.metadata);
	ic_oci_state_done(&st);
	cr_expect_null(st.policy_annotation);
}

Test(oci, other_annotations_give_no_policy)
{
	static const char *const msgs[] = {
	    "{" FDS "," PID ",\"state\":{\"id\":\"c1\",\"pid\":41,\"annotations\":{\"a\":\"b\"}}}",
	    "{" FDS "," PID ",\"state\":{\"id\":\"c1\",\"pid\":41,\"annotations\":{}}}",
	    "{" FDS "," PID ",\"annotations\":{\"org.interceptd.policy\":\"strict\"},"
	    "\"state\":{\"id\":\"c1\",\"pid\":41}}",
	};

	for (size_t i = 0; i < ARRAY_SIZE(msgs); i++) {
		struct ic_oci_state st;
		char err[256];

		cr_assert_eq(parse(msgs[i], strlen(msgs[i]), &st, err, sizeof(err)), 0, "%s: %s",
			     msgs[i], err);
		cr_expect_null(st.policy_annotation, "%s", msgs[i]);
		ic_oci_state_done(&st);
	}
}

Test(oci, metadata_is_extracted)
{
	static const char msg[] = "{" FDS "," PID ",\"metadata\":\"policy=strict\"," STATE "}";
	struct ic_oci_state st;
	char err[256];

	cr_assert_eq(parse(msg, sizeof(msg) - 1, &st, err, sizeof(err)), 0, "%s", err);
	cr_assert_not_null(st.metadata);
	cr_expect_str_eq(st.metadata, "policy=strict");
	ic_oci_state_done(&st);
}

Test(oci, empty_metadata_counts_as_absent)
{
	static const char msg[] = "{" FDS "," PID ",\"metadata\":\"\"," STATE "}";
	struct ic_oci_state st;
	char err[256];

	cr_assert_eq(parse(msg, sizeof(msg) - 1, &st, err, sizeof(err)), 0, "%s", err);
	cr_expect_null(st.metadata);
	ic_oci_state_done(&st);
}

Test(oci, seccomp_fd_is_found_among_other_fds)
{
	static const char msg[] =
	    "{\"fds\":[\"a\",\"b\",\"seccompFd\",\"c\",\"d\",\"e\",\"f\",\"g\"]," PID "," STATE "}";
	struct ic_oci_state st;
	char err[256];

	cr_assert_eq(parse(msg, sizeof(msg) - 1, &st, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(st.n_fds, IC_OCI_FDS_MAX);
	cr_expect_eq(st.seccomp_fd_index, 2);
	ic_oci_state_done(&st);
}

Test(oci, longest_id_is_accepted)
{
	char msg[1024];
	char id[IC_OCI_ID_MAX];
	struct ic_oci_state st;
	char err[256];

	memset(id, 'i', sizeof(id) - 1);
	id[sizeof(id) - 1] = 0;
	snprintf(msg, sizeof(msg), "{" FDS "," PID ",\"state\":{\"id\":\"%s\",\"pid\":41}}", id);
	cr_assert_eq(parse(msg, strlen(msg), &st, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(st.id, id);
	cr_expect_str_eq(st.status, "");
	ic_oci_state_done(&st);

	/* One byte more does not fit. */
	snprintf(msg, sizeof(msg), "{" FDS "," PID ",\"state\":{\"id\":\"%sj\",\"pid\":41}}", id);
	expect_rejected(msg, strlen(msg), "id of IC_OCI_ID_MAX bytes");
}

Test(oci, format_round_trips_through_parse)
{
	static const struct {
		const char *id, *status, *metadata;
		pid_t pid, init_pid;
	} cases[] = {
	    {"ctr-1", "running", "policy=strict", 1234, 1200},
	    {"ctr-2", "creating", NULL, 1, 1},
	    {"we\"ird/id\\with \xc3\xa9", "creating", "a=b\nc=d,e=f", 2147483647, 99},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *msg = ic_oci_format(cases[i].id, cases[i].pid, cases[i].init_pid,
					  cases[i].status, cases[i].metadata);
		struct ic_oci_state st;
		char err[256];

		cr_assert_not_null(msg);
		cr_assert_eq(parse(msg, strlen(msg), &st, err, sizeof(err)), 0, "%s: %s", msg, err);
		cr_expect_str_eq(st.id, cases[i].id);
		cr_expect_str_eq(st.status, cases[i].status);
		cr_expect_eq(st.pid, cases[i].pid);
		cr_expect_eq(st.init_pid, cases[i].init_pid);
		cr_expect_eq(st.n_fds, 1);
		cr_expect_eq(st.seccomp_fd_index, 0);
		if (cases[i].metadata) {
			cr_assert_not_null(st.metadata, "%s", msg);
			cr_expect_str_eq(st.metadata, cases[i].metadata);
		} else {
			cr_expect_null(st.metadata, "%s", msg);
		}
		cr_expect_null(st.policy_annotation);
		ic_oci_state_done(&st);
		free(msg);
	}
}

/* One rejected message. Arrays, not pointers: Criterion copies the parameters to the process
 * that runs the test. */
struct bad_msg {
	char json[512];
	char msg[64]; /* substring of the reason */
};

ParameterizedTestParameters(oci, rejects_bad_message_with_a_reason)
{
	static struct bad_msg cases[] = {
	    /* pid */
	    {"{" FDS ",\"pid\":\"42\"," STATE "}", "\"pid\""},
	    {"{" FDS ",\"pid\":0," STATE "}", "\"pid\""},
	    {"{" FDS ",\"pid\":-42," STATE "}", "\"pid\""},
	    {"{" FDS ",\"pid\":1099511627776," STATE "}", "\"pid\""},
	    {"{" FDS ",\"pid\":2147483648," STATE "}", "\"pid\""},
	    {"{" FDS ",\"pid\":18446744073709551615," STATE "}", "\"pid\""},
	    {"{" FDS ",\"pid\":42.0," STATE "}", "\"pid\""},
	    {"{" FDS ",\"pid\":4.2e1," STATE "}", "\"pid\""},
	    {"{" FDS ",\"pid\":true," STATE "}", "\"pid\""},
	    {"{" FDS ",\"pid\":null," STATE "}", "\"pid\""},
	    {"{" FDS "," STATE "}", "\"pid\""},
	    {"{" FDS "," PID ",\"state\":{\"id\":\"c1\",\"pid\":\"41\"}}", "\"state.pid\""},
	    {"{" FDS "," PID ",\"state\":{\"id\":\"c1\",\"pid\":0}}", "\"state.pid\""},
	    {"{" FDS "," PID ",\"state\":{\"id\":\"c1\"}}", "\"state.pid\""},
	    /* state and its id */
	    {"{" FDS "," PID "}", "\"state\""},
	    {"{" FDS "," PID ",\"state\":\"c1\"}", "\"state\""},
	    {"{" FDS "," PID ",\"state\":[]}", "\"state\""},
	    {"{" FDS "," PID ",\"state\":{\"status\":\"creating\",\"pid\":41}}", "\"state.id\""},
	    {"{" FDS "," PID ",\"state\":{\"id\":7,\"pid\":41}}", "\"state.id\""},
	    {"{" FDS "," PID ",\"state\":{\"id\":\"\",\"pid\":41}}", "\"state.id\""},
	    {"{" FDS "," PID ",\"state\":{\"id\":\"c\\u0001d\",\"pid\":41}}", "\"state.id\""},
	    {"{" FDS "," PID ",\"state\":{\"id\":\"c\\nd\",\"pid\":41}}", "\"state.id\""},
	    {"{" FDS "," PID ",\"state\":{\"id\":\"c\\td\",\"pid\":41}}", "\"state.id\""},
	    {"{" FDS "," PID ",\"state\":{\"id\":\"c\\u007f\",\"pid\":41}}", "\"state.id\""},
	    {"{" FDS "," PID ",\"state\":{\"id\":\"c\\u0000d\",\"pid\":41}}", "\"state.id\""},
	    {"{" FDS "," PID ",\"state\":{\"id\":\"c1\",\"status\":\"\",\"pid\":41}}",
	     "\"state.status\""},
	    {"{" FDS "," PID
	     ",\"state\":{\"id\":\"c1\",\"status\":\"creatingcreatingcreatingcreating\","
	     "\"pid\":41}}",
	     "\"state.status\""},
	    /* fds */
	    {"{" PID "," STATE "}", "\"fds\""},
	    {"{\"fds\":\"seccompFd\"," PID "," STATE "}", "\"fds\""},
	    {"{\"fds\":{\"seccompFd\":0}," PID "," STATE "}", "\"fds\""},
	    {"{\"fds\":[\"seccompFd\",3]," PID "," STATE "}", "\"fds\"[1] is not a string"},
	    {"{\"fds\":[null]," PID "," STATE "}", "\"fds\"[0] is not a string"},
	    {"{\"fds\":[]," PID "," STATE "}", "no \"seccompFd\""},
	    {"{\"fds\":[\"otherFd\"]," PID "," STATE "}", "no \"seccompFd\""},
	    {"{\"fds\":[\"seccompfd\"]," PID "," STATE "}", "no \"seccompFd\""},
	    {"{\"fds\":[\"seccompFd\",\"seccompFd\"]," PID "," STATE "}", "named twice"},
	    {"{\"fds\":[\"seccompFd\",\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\"]," PID
	     "," STATE "}",
	     "9 fds"},
	    /* not an object, not JSON */
	    {"hello", "bad JSON"},
	    {"[]", "not a JSON object"},
	    {"123 456", "trailing data"},
	    {"[" VALID "]", "not a JSON object"},
	    {VALID "x", "trailing data"},
	    {"{" FDS "," PID "," STATE "}}", "trailing data"},
	};

	return cr_make_param_array(struct bad_msg, cases, ARRAY_SIZE(cases));
}

ParameterizedTest(struct bad_msg *c, oci, rejects_bad_message_with_a_reason)
{
	struct ic_oci_state st;
	char err[256];
	int r = parse(c->json, strlen(c->json), &st, err, sizeof(err));

	cr_expect_eq(r, -EINVAL, "r=%d for %s", r, c->json);
	cr_expect_neq(err[0], 0, "empty err for %s", c->json);
	cr_expect(strstr(err, c->msg) != NULL, "err '%s' lacks '%s' for %s", err, c->msg, c->json);
	cr_expect_null(st.metadata);
	cr_expect_null(st.policy_annotation);
	if (r == 0)
		ic_oci_state_done(&st);
}
