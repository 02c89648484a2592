/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/conf.h"
#include "common/ref.h"
#include "common/log.h"
#include "common/macros.h"
#include "common/parse.h"

enum ic_conf_type {
	IC_CT_THREADS = 0, /* "auto" or a number */
	IC_CT_UINT = 1,
	IC_CT_U64 = 2,
	IC_CT_BOOL = 3,
	IC_CT_PATH = 4,
	IC_CT_LOGLEVEL = 5,
	IC_CT_LOGTARGET = 6,
	IC_CT_FSLIST = 7,  /* comma list of filesystem type names */
	IC_CT_FUSEMAP = 8, /* comma list of fstype=helper */
	IC_CT_FAILURE = 9, /* "continue" or an errno name */
	_IC_CT_MAX
};

/* One row per option: parsing, validation, defaults, --check-config and the docs come from here. */
struct ic_conf_key {
	const char *name;
	enum ic_conf_type type;
	const char *def;
	uint64_t min, max;
	size_t offset;
	bool live;
	const char *doc;
	/* The value tools/interceptd.conf.example shows in [policy default], when not def. */
	const char *example;
};

#define SRV(f) offsetof(struct ic_server_conf, f)
#define POL(f) offsetof(struct ic_policy, f)

static const struct ic_conf_key server_keys[] = {
    {"acceptors", IC_CT_THREADS, "auto", 1, IC_ACCEPTORS_MAX, SRV(acceptors), true,
     "acceptor threads (auto: one per CPU, pinned beside that CPU's worker)"},
    {"workers", IC_CT_THREADS, "auto", 1, IC_WORKERS_MAX, SRV(workers), true,
     "worker threads (auto: one per CPU)"},
    {"queue.capacity", IC_CT_U64, "65536", 1, 1u << 24, SRV(queue_capacity), true,
     "requests queued per CPU; beyond it the policy's failure answer"},
    {"request.deadline_ms", IC_CT_UINT, "5000", 1, IC_DEADLINE_MS_MAX, SRV(deadline_ms), true,
     "a request not answered by then gets the policy's failure answer"},
    {"oci.socket", IC_CT_PATH, "/run/interceptd/oci.sock", 0, 0, SRV(oci_socket), false,
     "OCI seccomp agent socket (runc, crun, intercept-run)"},
    {"lxc.socket", IC_CT_PATH, "/run/interceptd/lxc.sock", 0, 0, SRV(lxc_socket), false,
     "LXC seccomp proxy socket"},
    {"control.socket", IC_CT_PATH, "/run/interceptd/control.sock", 0, 0, SRV(control_socket), false,
     "interceptctl socket (mode 0600)"},
    {"acceptors.run_to_completion", IC_CT_BOOL, "true", 0, 0, SRV(inline_fast), true,
     "an acceptor answers sysinfo and unknown syscalls itself while its CPU's queue is empty"},
    {"lxc.allow_unknown_cookie", IC_CT_BOOL, "false", 0, 0, SRV(lxc_allow_unknown_cookie), true,
     "an LXC cookie naming no policy gets the default policy (else refused)"},
    {"log.level", IC_CT_LOGLEVEL, "info", 0, 0, SRV(log_level), true, "error|warn|info|debug"},
    {"log.target", IC_CT_LOGTARGET, "stderr", 0, 0, SRV(log_target), true, "stderr|syslog|journal"},
    {"log.ratelimit.burst", IC_CT_UINT, "100", 0, 1000000, SRV(log_ratelimit_burst), true,
     "lines one container's requests may log per interval, the rest counted (0: no limit)"},
    {"log.ratelimit.interval_ms", IC_CT_UINT, "5000", 100, 3600000, SRV(log_ratelimit_interval_ms),
     true, "the interval of log.ratelimit.burst"},
};

static const struct ic_conf_key policy_keys[] = {
    {"security.syscalls.intercept.mknod", IC_CT_BOOL, "false", 0, 0, POL(mknod), true,
     "mknod, mknodat of the safe character devices", "true"},
    {"security.syscalls.intercept.setxattr", IC_CT_BOOL, "false", 0, 0, POL(setxattr), true,
     "trusted.overlay.opaque", "true"},
    {"security.syscalls.intercept.sysinfo", IC_CT_BOOL, "false", 0, 0, POL(sysinfo), true,
     "sysinfo from the container's cgroups", "true"},
    {"security.syscalls.intercept.mount", IC_CT_BOOL, "false", 0, 0, POL(mount), true, "mount"},
    {"security.syscalls.intercept.mount.allowed", IC_CT_FSLIST, "", 0, 0, POL(mount_allowed), true,
     "filesystem types mounted with host privilege", "ext4,xfs"},
    {"security.syscalls.intercept.mount.fuse", IC_CT_FUSEMAP, "", 0, 0, POL(mount_fuse), true,
     "fstype=fusehelper pairs", "ext2=fuse2fs"},
    {"security.syscalls.intercept.mount.shift", IC_CT_BOOL, "false", 0, 0, POL(mount_shift), true,
     "idmapped mounts"},
    {"mount.allow_dev_suid", IC_CT_BOOL, "false", 0, 0, POL(mount_allow_dev_suid), true,
     "mounts made for a container honour device nodes and setuid bits (else nodev,nosuid)"},
    {"security.syscalls.intercept.bpf", IC_CT_BOOL, "false", 0, 0, POL(bpf), true, "bpf"},
    {"security.syscalls.intercept.bpf.devices", IC_CT_BOOL, "false", 0, 0, POL(bpf_devices), true,
     "device cgroup programs"},
    {"security.syscalls.intercept.sched_setscheduler", IC_CT_BOOL, "false", 0, 0,
     POL(sched_setscheduler), true, "sched_setscheduler"},
    {"sched.max_rt_priority", IC_CT_UINT, "0", 0, 99, POL(sched_max_rt_priority), true,
     "highest real-time priority granted (0: none)"},
    {"inflight.max", IC_CT_UINT, "64", 0, 1u << 20, POL(inflight_max), true,
     "one container's requests received and not yet answered at once (0: no cap): beyond it "
     "its listeners wait, so a flood cannot crowd others out"},
    {"sysinfo.cache_ms", IC_CT_UINT, "200", 0, 10000, POL(sysinfo_cache_ms), true,
     "how long a sysinfo reading of a cgroup is reused, by every container in it (0: none)"},
    {"failure.answer", IC_CT_FAILURE, "continue", 0, 0, POL(failure), true,
     "answer past the deadline or on a full queue: continue or an errno name (EPERM...)"},
};

static const struct {
	const char *name;
	int err;
} failure_errnos[] = {
    {"EPERM", EPERM}, {"EACCES", EACCES}, {"ENOSYS", ENOSYS}, {"EAGAIN", EAGAIN},
    {"EBUSY", EBUSY}, {"EINVAL", EINVAL}, {"ENOMEM", ENOMEM}, {"EINTR", EINTR},
};

static bool fstype_name_ok(const char *s, size_t n)
{
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
			return false;
	return true;
}

/* A list of NAME or NAME=HELPER items, comma separated, spaces around items ignored. */
static int check_list(const char *v, bool pairs)
{
	const char *p = v;

	while (*p) {
		const char *end = strchrnul(p, ',');
		const char *a = p, *b = end;

		while (a < b && isspace((unsigned char)*a))
			a++;
		while (b > a && isspace((unsigned char)b[-1]))
			b--;
		if (pairs) {
			const char *eq = memchr(a, '=', b - a);

			if (!eq || !fstype_name_ok(a, eq - a) ||
			    !fstype_name_ok(eq + 1, b - eq - 1))
				return -EINVAL;
		} else if (!fstype_name_ok(a, b - a)) {
			return -EINVAL;
		}
		if (!*end)
			break;
		p = end + 1;
		if (!*p)
			return -EINVAL; /* "ext4," ends in an empty item */
	}
	return 0;
}

static int set_value(const struct ic_conf_key *k, void *base, const char *v)
{
	char *field = (char *)base + k->offset;
	uint64_t u;
	bool b;
	int r;

	switch (k->type) {
	case IC_CT_THREADS:
		if (strcmp(v, "auto") == 0) {
			*(unsigned *)field = IC_THREADS_AUTO;
			return 0;
		}
		/* fall through */
	case IC_CT_UINT:
		r = ic_parse_u64(v, k->min, k->max, &u);
		if (r < 0)
			return r;
		*(unsigned *)field = (unsigned)u;
		return 0;
	case IC_CT_U64:
		r = ic_parse_u64(v, k->min, k->max, &u);
		if (r < 0)
			return r;
		*(uint64_t *)field = u;
		return 0;
	case IC_CT_BOOL:
		r = ic_parse_bool(v, &b);
		if (r < 0)
			return r;
		*(bool *)field = b;
		return 0;
	case IC_CT_PATH: {
		char *s;

		if (v[0] != '/' || strlen(v) >= 108) /* sun_path */
			return -EINVAL;
		s = strdup(v);
		if (!s)
			return -ENOMEM;
		free(*(char **)field);
		*(char **)field = s;
		return 0;
	}
	case IC_CT_LOGLEVEL:
		r = ic_log_level_from_string(v);
		if (r < 0)
			return r;
		*(int *)field = r;
		return 0;
	case IC_CT_LOGTARGET:
		if (strcmp(v, "stderr") == 0)
			*(int *)field = IC_LOG_STDERR;
		else if (strcmp(v, "syslog") == 0)
			*(int *)field = IC_LOG_SYSLOG;
#if HAVE_LIBSYSTEMD
		else if (strcmp(v, "journal") == 0)
			*(int *)field = IC_LOG_JOURNAL;
#endif
		else
			return -EINVAL;
		return 0;
	case IC_CT_FSLIST:
	case IC_CT_FUSEMAP: {
		char *s;

		r = check_list(v, k->type == IC_CT_FUSEMAP);
		if (r < 0)
			return r;
		s = strdup(v);
		if (!s)
			return -ENOMEM;
		free(*(char **)field);
		*(char **)field = s;
		return 0;
	}
	case IC_CT_FAILURE: {
		struct ic_failure *f = (struct ic_failure *)field;

		if (strcasecmp(v, "continue") == 0) {
			*f = (struct ic_failure){.kind = IC_FAILURE_CONTINUE};
			return 0;
		}
		for (size_t i = 0; i < ARRAY_SIZE(failure_errnos); i++)
			if (strcasecmp(v, failure_errnos[i].name) == 0) {
				*f = (struct ic_failure){IC_FAILURE_ERRNO, failure_errnos[i].err};
				return 0;
			}
		return -EINVAL;
	}
	case _IC_CT_MAX:
		break;
	}
	return -EINVAL;
}

static const struct ic_conf_key *find_key(const struct ic_conf_key *keys, size_t n,
					  const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static int apply_defaults(const struct ic_conf_key *keys, size_t n, void *base)
{
	for (size_t i = 0; i < n; i++) {
		int r = set_value(&keys[i], base, keys[i].def);

		if (r < 0)
			return r;
	}
	return 0;
}

void ic_policy_done(struct ic_policy *p)
{
	if (!p)
		return;
	free(p->mount_allowed);
	free(p->mount_fuse);
	p->mount_allowed = p->mount_fuse = NULL;
}

int ic_policy_copy(struct ic_policy *dst, const struct ic_policy *src)
{
	*dst = *src;
	dst->mount_allowed = strdup(src->mount_allowed ? src->mount_allowed : "");
	dst->mount_fuse = strdup(src->mount_fuse ? src->mount_fuse : "");
	if (!dst->mount_allowed || !dst->mount_fuse) {
		ic_policy_done(dst);
		return -ENOMEM;
	}
	return 0;
}

static const char *value_problem(int r)
{
	return r == -ERANGE ? "out of range" : r == -ENOMEM ? "out of memory" : "invalid value";
}

bool ic_policy_key_known(const char *key)
{
	return find_key(policy_keys, ARRAY_SIZE(policy_keys), key) != NULL;
}

int ic_policy_set(struct ic_policy *p, const char *key, const char *value,
		  char err[IC_CONF_ERR_MAX])
{
	const struct ic_conf_key *k = find_key(policy_keys, ARRAY_SIZE(policy_keys), key);
	int r;

	if (!k)
		return ic_errbuf(err, IC_CONF_ERR_MAX, EINVAL, "unknown policy key '%s'", key);
	r = set_value(k, p, value);
	if (r < 0)
		return ic_errbuf(err, IC_CONF_ERR_MAX, r, "%s for policy key '%s': '%s'",
				 value_problem(r), key, value);
	return 0;
}

struct conf_parse {
	struct ic_conf *conf;
	const char *path;
	FILE *f;
	int line; /* line the reader handed to inih last */
	int section_line;
	struct ic_policy *cur; /* policy of the current section, NULL in [server] */
	bool in_server;
	bool server_seen;
	uint64_t seen_keys[(ARRAY_SIZE(policy_keys) + 63) / 64 + 1];
	int r;
	char *err;
};

static int section_begin(struct conf_parse *cp, char *name)
{
	memset(cp->seen_keys, 0, sizeof(cp->seen_keys));
	cp->cur = NULL;
	cp->in_server = false;
	cp->section_line = cp->line;

	if (strcmp(name, "server") == 0) {
		if (cp->server_seen)
			return ic_errbuf(cp->err, IC_CONF_ERR_MAX, EINVAL,
					 "%s:%d: duplicate section [server]", cp->path, cp->line);
		cp->server_seen = true;
		cp->in_server = true;
		return 0;
	}
	if (strncmp(name, "policy ", 7) == 0) {
		const char *pname = name + 7;
		struct ic_policy *np;

		while (*pname == ' ')
			pname++;
		if (!*pname || strlen(pname) >= IC_POLICY_NAME_MAX || strpbrk(pname, " \t,=\n"))
			return ic_errbuf(cp->err, IC_CONF_ERR_MAX, EINVAL,
					 "%s:%d: bad policy name in [%s]", cp->path, cp->line,
					 name);
		if (ic_conf_policy(cp->conf, pname))
			return ic_errbuf(cp->err, IC_CONF_ERR_MAX, EINVAL,
					 "%s:%d: duplicate section [policy %s]", cp->path, cp->line,
					 pname);
		np = realloc(cp->conf->policies, (cp->conf->n_policies + 1) * sizeof(*np));
		if (!np)
			return ic_errbuf(cp->err, IC_CONF_ERR_MAX, ENOMEM, "out of memory");
		cp->conf->policies = np;
		cp->cur = &np[cp->conf->n_policies];
		memset(cp->cur, 0, sizeof(*cp->cur));
		if (apply_defaults(policy_keys, ARRAY_SIZE(policy_keys), cp->cur) < 0) {
			ic_policy_done(cp->cur);
			return ic_errbuf(cp->err, IC_CONF_ERR_MAX, ENOMEM, "out of memory");
		}
		strcpy(cp->cur->name, pname);
		cp->conf->n_policies++;
		return 0;
	}
	return ic_errbuf(cp->err, IC_CONF_ERR_MAX, EINVAL, "%s:%d: unknown section [%s]", cp->path,
			 cp->line, name);
}

/* inih has no section callback and no line numbers here, so the reader does both. */
static char *conf_reader(char *str, int num, void *stream)
{
	struct conf_parse *cp = stream;
	char *s, *end;

	if (cp->r < 0 || !fgets(str, num, cp->f))
		return NULL;
	cp->line++;
	/* inih skips a UTF-8 byte-order mark on its own, but our line checks see it first. */
	if (cp->line == 1 && strncmp(str, "\xef\xbb\xbf", 3) == 0)
		memmove(str, str + 3, strlen(str + 3) + 1);
	if (!strchr(str, '\n') && !feof(cp->f)) {
		cp->r = ic_errbuf(cp->err, IC_CONF_ERR_MAX, EINVAL, "%s:%d: line too long",
				  cp->path, cp->line);
		return NULL;
	}
	s = str;
	while (isspace((unsigned char)*s))
		s++;
	if (*s == '[') {
		end = strchr(s, ']');
		if (!end) {
			cp->r = ic_errbuf(cp->err, IC_CONF_ERR_MAX, EINVAL,
					  "%s:%d: unterminated section header", cp->path, cp->line);
			return NULL;
		}
		*end = 0;
		cp->r = section_begin(cp, s + 1);
		*end = ']';
		if (cp->r < 0)
			return NULL;
	} else if (*s && *s != ';' && *s != '#' && !strchr(s, '=')) {
		cp->r = ic_errbuf(cp->err, IC_CONF_ERR_MAX, EINVAL, "%s:%d: expected 'key = value'",
				  cp->path, cp->line);
		return NULL;
	}
	return str;
}

static int conf_handler(void *user, const char *section, const char *name, const char *value)
{
	struct conf_parse *cp = user;
	const struct ic_conf_key *keys = cp->in_server ? server_keys : policy_keys;
	size_t n = cp->in_server ? ARRAY_SIZE(server_keys) : ARRAY_SIZE(policy_keys);
	const struct ic_conf_key *k;
	size_t idx;
	int r;

	if (cp->r < 0)
		return 0;
	if (!cp->in_server && !cp->cur) {
		cp->r = ic_errbuf(cp->err, IC_CONF_ERR_MAX, EINVAL,
				  "%s:%d: key '%s' outside any section", cp->path, cp->line, name);
		return 0;
	}
	k = find_key(keys, n, name);
	if (!k) {
		cp->r =
		    ic_errbuf(cp->err, IC_CONF_ERR_MAX, EINVAL, "%s:%d: unknown key '%s' in [%s]",
			      cp->path, cp->line, name, section);
		return 0;
	}
	idx = k - keys;
	if (cp->seen_keys[idx / 64] & (1ULL << (idx % 64))) {
		cp->r =
		    ic_errbuf(cp->err, IC_CONF_ERR_MAX, EINVAL, "%s:%d: duplicate key '%s' in [%s]",
			      cp->path, cp->line, name, section);
		return 0;
	}
	cp->seen_keys[idx / 64] |= 1ULL << (idx % 64);
	r = set_value(k, cp->in_server ? (void *)&cp->conf->server : (void *)cp->cur, value);
	if (r < 0) {
		cp->r = ic_errbuf(cp->err, IC_CONF_ERR_MAX, r, "%s:%d: %s for key '%s': '%s'",
				  cp->path, cp->line, value_problem(r), name, value);
		return 0;
	}
	return 1;
}

static int add_default_policy(struct ic_conf *conf)
{
	struct ic_policy *np;

	if (ic_conf_policy(conf, "default"))
		return 0;
	np = realloc(conf->policies, (conf->n_policies + 1) * sizeof(*np));
	if (!np)
		return -ENOMEM;
	conf->policies = np;
	np = &np[conf->n_policies];
	memset(np, 0, sizeof(*np));
	if (apply_defaults(policy_keys, ARRAY_SIZE(policy_keys), np) < 0) {
		ic_policy_done(np);
		return -ENOMEM;
	}
	/* With no file, the default policy serves what LXD's defaults plus sysinfo would. */
	np->sysinfo = true;
	strcpy(np->name, "default");
	conf->n_policies++;
	return 0;
}

/* An fstype both mounted directly and redirected to FUSE would be ambiguous: refused at load. */
static int check_mount_lists(const struct ic_policy *p, const char *path, char *err)
{
	for (const char *a = p->mount_allowed; a && *a;) {
		const char *end = strchrnul(a, ',');
		const char *name = a + strspn(a, " ");
		size_t n = (size_t)(end - name);

		while (n && name[n - 1] == ' ')
			n--;
		for (const char *f = p->mount_fuse; f && *f;) {
			const char *fend = strchrnul(f, ','), *fname = f + strspn(f, " ");

			if (strncmp(fname, name, n) == 0 && fname[n] == '=')
				return ic_errbuf(err, IC_CONF_ERR_MAX, EINVAL,
						 "%s: [policy %s]: fstype '%.*s' is in both "
						 "mount.allowed and mount.fuse",
						 path ? path : "(defaults)", p->name, (int)n, name);
			f = *fend ? fend + 1 : fend;
		}
		a = *end ? end + 1 : end;
	}
	return 0;
}

struct ic_conf *ic_conf_free(struct ic_conf *conf)
{
	if (!conf)
		return NULL;
	for (size_t i = 0; i < conf->n_policies; i++)
		ic_policy_done(&conf->policies[i]);
	free(conf->policies);
	free(conf->server.oci_socket);
	free(conf->server.lxc_socket);
	free(conf->server.control_socket);
	free(conf->path);
	free(conf);
	return NULL;
}

void ic_conf_ref(struct ic_conf *conf)
{
	ic_ref_inc(&conf->refs);
}

void ic_conf_unref(struct ic_conf *conf)
{
	if (conf && ic_ref_dec(&conf->refs))
		ic_conf_free(conf);
}

static void conf_freep(struct ic_conf **c)
{
	ic_conf_free(*c);
}

int ic_conf_load(const char *path, bool must_exist, struct ic_conf **ret, char err[IC_CONF_ERR_MAX])
{
	_cleanup_(conf_freep) struct ic_conf *conf = calloc(1, sizeof(*conf));
	int r;

	err[0] = 0;
	if (!conf)
		return ic_errbuf(err, IC_CONF_ERR_MAX, ENOMEM, "out of memory");
	if (apply_defaults(server_keys, ARRAY_SIZE(server_keys), &conf->server) < 0)
		return ic_errbuf(err, IC_CONF_ERR_MAX, ENOMEM, "out of memory");

	if (path) {
		struct conf_parse cp = {.conf = conf, .path = path, .err = err};

		conf->path = strdup(path);
		if (!conf->path)
			return ic_errbuf(err, IC_CONF_ERR_MAX, ENOMEM, "out of memory");
		cp.f = fopen(path, "re");
		if (!cp.f) {
			if (errno != ENOENT || must_exist)
				return ic_errbuf(err, IC_CONF_ERR_MAX, errno, "%s: cannot open: %s",
						 path, strerror(errno));
		} else {
			ini_allow_multiline = false;
			ini_allow_inline_comments = true;
			ini_stop_on_first_error = true;
			r = ini_parse_stream(conf_reader, &cp, conf_handler, &cp);
			if (cp.r == 0 && ferror(cp.f))
				cp.r = ic_errbuf(err, IC_CONF_ERR_MAX, errno ? errno : EIO,
						 "%s: cannot read: %s", path,
						 strerror(errno ? errno : EIO));
			fclose(cp.f);
			if (cp.r < 0)
				return cp.r;
			if (r != 0)
				return ic_errbuf(err, IC_CONF_ERR_MAX, EINVAL,
						 "%s:%d: syntax error", path, r > 0 ? r : cp.line);
		}
	}
	r = add_default_policy(conf);
	if (r < 0)
		return ic_errbuf(err, IC_CONF_ERR_MAX, r, "out of memory");
	for (size_t i = 0; i < conf->n_policies; i++) {
		r = check_mount_lists(&conf->policies[i], path, err);
		if (r < 0)
			return r;
	}
	conf->refs = 1;
	*ret = TAKE_PTR(conf);
	return 0;
}

const struct ic_policy *ic_conf_policy(const struct ic_conf *conf, const char *name)
{
	for (size_t i = 0; i < conf->n_policies; i++)
		if (strcmp(conf->policies[i].name, name) == 0)
			return &conf->policies[i];
	return NULL;
}

/* What a value may be, for the example's comments; "" when the doc already says it. */
static void key_range(const struct ic_conf_key *k, char *buf, size_t len)
{
	buf[0] = 0;
	if (k->type == IC_CT_THREADS)
		snprintf(buf, len, " (auto or %" PRIu64 "..%" PRIu64 ")", k->min, k->max);
	else if (k->type == IC_CT_UINT || k->type == IC_CT_U64)
		snprintf(buf, len, " (%" PRIu64 "..%" PRIu64 ")", k->min, k->max);
	else if (k->type == IC_CT_BOOL)
		snprintf(buf, len, " (true|false)");
}

static void example_keys(FILE *f, const struct ic_conf_key *keys, size_t n, bool policy)
{
	for (size_t i = 0; i < n; i++) {
		const struct ic_conf_key *k = &keys[i];
		const char *v = policy && k->example ? k->example : k->def;
		char range[64];

		key_range(k, range, sizeof(range));
		fprintf(f, "; %s%s%s", k->doc, range, k->live ? "" : "; restart to change");
		if (v != k->def)
			fprintf(f, "; default %s", k->def[0] ? k->def : "empty");
		fprintf(f, "\n%s = %s\n", k->name, v);
	}
}

void ic_conf_dump_example(FILE *f)
{
	fprintf(f, "; interceptd example configuration, generated by `interceptd --print-example` "
		   "from the\n"
		   "; key table in common/conf.c: every key with its default, but for the policy "
		   "switches the\n"
		   "; default policy turns on here. Every key is optional.\n\n[server]\n");
	example_keys(f, server_keys, ARRAY_SIZE(server_keys), false);
	fprintf(f, "\n[policy default]\n");
	example_keys(f, policy_keys, ARRAY_SIZE(policy_keys), true);
	fprintf(f, "\n; A policy names only what differs from the key defaults.\n"
		   "[policy sysinfo-only]\nsecurity.syscalls.intercept.sysinfo = true\n");
}

unsigned ic_conf_effective_threads(unsigned configured, unsigned ncpu)
{
	return configured == IC_THREADS_AUTO ? (ncpu ? ncpu : 1) : configured;
}

void ic_conf_dump_keys(FILE *f)
{
	fprintf(f, "[server]\n");
	for (size_t i = 0; i < ARRAY_SIZE(server_keys); i++)
		fprintf(f, "%-45s = %-28s ; %s%s\n", server_keys[i].name, server_keys[i].def,
			server_keys[i].doc, server_keys[i].live ? "" : " (restart to change)");
	fprintf(f, "\n[policy NAME]\n");
	for (size_t i = 0; i < ARRAY_SIZE(policy_keys); i++)
		fprintf(f, "%-45s = %-28s ; %s\n", policy_keys[i].name, policy_keys[i].def,
			policy_keys[i].doc);
}
