/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <urcu.h>

#include "common/control-proto.h"
#include "common/log.h"
#include "common/macros.h"
#include "common/proc.h"
#include "common/sock.h"
#include "server/control.h"
#include "server/metrics.h"
#include "server/registry.h"
#include "server/server.h"
#include "server/stats.h"

/* The control socket: one request line per connection ("stats --json\n"), one reply, close.
 * Served by one thread, one client at a time, each bounded by a 2 s timeout. */

#define CTL_TIMEOUT_MS 2000
/* Of every --json reply; raised when a field changes meaning or goes away (doc/control-json.md). */
#define CTL_JSON_FORMAT_VERSION 1

static struct {
	int sock;
	int stop_pipe[2];
	pthread_t thread;
	bool started;
} ctl = {.sock = -1, .stop_pipe = {-1, -1}};

static struct json_object *json_u64(uint64_t v)
{
	return json_object_new_int64((int64_t)v);
}

static struct json_object *stats_json(void)
{
	struct ic_stats *st = calloc(1, sizeof(*st));
	struct json_object *o = json_object_new_object(), *sys = json_object_new_object();
	struct json_object *ans = json_object_new_object(), *queues = json_object_new_array();
	struct ic_hist all = {0};
	struct ic_server_status ss;
	uint64_t depth, full;

	if (!st)
		return o;
	ic_server_stats(st);
	ic_server_status(&ss);
	json_object_object_add(o, "uptime_s",
			       json_u64((ic_now_ns() - ss.started_ns) / 1000000000ULL));
	json_object_object_add(o, "received", json_u64(st->received));
	json_object_object_add(o, "recv_gone", json_u64(st->recv_gone));
	json_object_object_add(o, "queue_full", json_u64(st->queue_full));
	json_object_object_add(o, "unvalidated", json_u64(st->unvalidated));
	json_object_object_add(o, "deadline_missed", json_u64(st->deadline_missed));
	for (int a = 0; a < _IC_ANSWER_MAX; a++)
		json_object_object_add(ans, ic_answer_name(a), json_u64(st->answers[a]));
	json_object_object_add(o, "answers", ans);
	for (int i = 0; i < IC_STATS_SYS; i++) {
		struct json_object *s;

		ic_hist_merge(&all, &st->latency[i]);
		if (!st->by_sys[i])
			continue;
		s = json_object_new_object();
		json_object_object_add(s, "count", json_u64(st->by_sys[i]));
		json_object_object_add(s, "p50_ns",
				       json_u64(ic_hist_quantile(&st->latency[i], 0.50)));
		json_object_object_add(s, "p99_ns",
				       json_u64(ic_hist_quantile(&st->latency[i], 0.99)));
		json_object_object_add(s, "p999_ns",
				       json_u64(ic_hist_quantile(&st->latency[i], 0.999)));
		json_object_object_add(
		    sys, i < IC_SYS_MAX ? ic_syscall_name(&ic_syscalls[i]) : "other", s);
	}
	json_object_object_add(o, "syscalls", sys);
	json_object_object_add(o, "p50_ns", json_u64(ic_hist_quantile(&all, 0.50)));
	json_object_object_add(o, "p99_ns", json_u64(ic_hist_quantile(&all, 0.99)));
	json_object_object_add(o, "p999_ns", json_u64(ic_hist_quantile(&all, 0.999)));
	for (unsigned q = 0; ic_server_queue_info(q, &depth, &full); q++) {
		struct json_object *qo = json_object_new_object();

		json_object_object_add(qo, "depth", json_u64(depth));
		json_object_object_add(qo, "full", json_u64(full));
		json_object_array_add(queues, qo);
	}
	json_object_object_add(o, "queues", queues);
	free(st);
	return o;
}

static void add_container(struct ic_container *ct, void *data)
{
	struct json_object *arr = data, *c = json_object_new_object();

	json_object_object_add(c, "id", json_object_new_string(ct->info.id));
	json_object_object_add(c, "policy", json_object_new_string(ct->policy_name));
	json_object_object_add(c, "metadata_policy",
			       json_object_new_boolean(ct->own_policy != NULL));
	json_object_object_add(c, "init_pid", json_object_new_int(ct->info.init_pid));
	json_object_object_add(
	    c, "listeners",
	    json_object_new_int(__atomic_load_n(&ct->n_listeners, __ATOMIC_RELAXED)));
	json_object_object_add(c, "requests",
			       json_u64(__atomic_load_n(&ct->requests, __ATOMIC_RELAXED)));
	json_object_object_add(c, "age_s",
			       json_u64((ic_now_ns() - ct->created_ns) / 1000000000ULL));
	json_object_object_add(
	    c, "log_suppressed",
	    json_u64(__atomic_load_n(&ct->info.log_rl.suppressed_total, __ATOMIC_RELAXED)));
	json_object_object_add(c, "memory_cgroup",
			       json_object_new_string(ct->info.cgroup.memory ?: ""));
	/* Under the caller's rcu_read_lock. */
	json_object_object_add(c, "warning",
			       json_object_new_string(ic_container_policy(ct, ic_server_conf())
							  ? ""
							  : "unknown policy: the kernel answers"));
	json_object_array_add(arr, c);
}

static struct json_object *containers_json(void)
{
	struct json_object *arr = json_object_new_array();

	rcu_read_lock();
	ic_registry_foreach(add_container, arr);
	rcu_read_unlock();
	return arr;
}

static struct json_object *status_json(void)
{
	struct json_object *o = json_object_new_object();
	struct ic_server_status ss;
	struct ic_conf *conf;

	ic_server_status(&ss);
	json_object_object_add(o, "version", json_object_new_string(PACKAGE_VERSION));
	json_object_object_add(o, "pid", json_object_new_int(getpid()));
	json_object_object_add(o, "uptime_s",
			       json_u64((ic_now_ns() - ss.started_ns) / 1000000000ULL));
	json_object_object_add(o, "cpus", json_object_new_int((int)ss.ncpu));
	json_object_object_add(o, "acceptors", json_object_new_int((int)ss.acceptors));
	json_object_object_add(o, "workers", json_object_new_int((int)ss.workers));
	json_object_object_add(o, "containers", json_u64(ic_registry_count()));
	json_object_object_add(o, "reloads", json_u64(ss.reloads));
	json_object_object_add(o, "keeper_pid", json_object_new_int((int)ss.keeper));
	json_object_object_add(o, "server_restarts", json_object_new_int((int)ss.generation));
	rcu_read_lock();
	conf = ic_server_conf();
	json_object_object_add(o, "config",
			       json_object_new_string(conf->path ? conf->path : "(defaults)"));
	json_object_object_add(o, "deadline_ms",
			       json_object_new_int((int)conf->server.deadline_ms));
	json_object_object_add(o, "queue_capacity", json_u64(conf->server.queue_capacity));
	rcu_read_unlock();
	return o;
}

static void print_us(FILE *f, struct json_object *o, const char *key)
{
	fprintf(f, " %9.1f",
		(double)json_object_get_int64(json_object_object_get(o, key)) / 1000.0);
}

static void stats_text(FILE *f)
{
	struct json_object *s = stats_json(), *q;

	fprintf(f,
		"received %lld, target gone at receive %lld, queue full %lld, past deadline %lld\n",
		(long long)json_object_get_int64(json_object_object_get(s, "received")),
		(long long)json_object_get_int64(json_object_object_get(s, "recv_gone")),
		(long long)json_object_get_int64(json_object_object_get(s, "queue_full")),
		(long long)json_object_get_int64(json_object_object_get(s, "deadline_missed")));
	fprintf(f, "answers:");
	json_object_object_foreach (json_object_object_get(s, "answers"), k, a)
		fprintf(f, " %s %lld", k, (long long)json_object_get_int64(a));
	fprintf(f, "\n%-20s %10s %9s %9s %9s\n", "syscall", "count", "p50_us", "p99_us",
		"p99.9_us");
	json_object_object_foreach (json_object_object_get(s, "syscalls"), name, o) {
		fprintf(f, "%-20s %10lld", name,
			(long long)json_object_get_int64(json_object_object_get(o, "count")));
		print_us(f, o, "p50_ns");
		print_us(f, o, "p99_ns");
		print_us(f, o, "p999_ns");
		fprintf(f, "\n");
	}
	fprintf(f, "%-20s %10s", "all", "");
	print_us(f, s, "p50_ns");
	print_us(f, s, "p99_ns");
	print_us(f, s, "p999_ns");
	fprintf(f, "\nqueues:");
	q = json_object_object_get(s, "queues");
	for (size_t i = 0; i < json_object_array_length(q); i++)
		fprintf(f, " cpu%zu depth %lld full %lld;", i,
			(long long)json_object_get_int64(
			    json_object_object_get(json_object_array_get_idx(q, i), "depth")),
			(long long)json_object_get_int64(
			    json_object_object_get(json_object_array_get_idx(q, i), "full")));
	fprintf(f, "\n");
	json_object_put(s);
}

static void containers_text(FILE *f)
{
	struct json_object *a = containers_json();

	fprintf(f, "%-32s %-12s %9s %10s %9s %8s %s\n", "id", "policy", "init_pid", "requests",
		"listeners", "age_s", "warning");
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		struct json_object *c = json_object_array_get_idx(a, i);

		fprintf(f, "%-32s %-12s %9d %10lld %9d %8lld %s\n",
			json_object_get_string(json_object_object_get(c, "id")),
			json_object_get_string(json_object_object_get(c, "policy")),
			json_object_get_int(json_object_object_get(c, "init_pid")),
			(long long)json_object_get_int64(json_object_object_get(c, "requests")),
			json_object_get_int(json_object_object_get(c, "listeners")),
			(long long)json_object_get_int64(json_object_object_get(c, "age_s")),
			json_object_get_string(json_object_object_get(c, "warning")));
	}
	json_object_put(a);
}

static void put_json(FILE *f, struct json_object *o)
{
	struct json_object *top = json_object_new_object();

	/* First, so that a reader sees which schema follows. */
	json_object_object_add(top, "format_version", json_object_new_int(CTL_JSON_FORMAT_VERSION));
	json_object_object_foreach (o, k, v)
		json_object_object_add(top, k, json_object_get(v));
	json_object_put(o);
	o = top;
	fprintf(f, "%s\n",
		json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						      JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

/* Returns the exit code interceptctl should give: 0 ok, 1 the command failed, 2 bad request. */
static int ctl_execute(const struct ic_ctl_req *req, FILE *f)
{
	bool json = req->format == IC_CTL_JSON;

	switch (req->cmd) {
	case IC_CTL_STATUS: {
		struct json_object *o = status_json();

		if (json)
			put_json(f, o);
		else {
			json_object_object_foreach (o, k, v)
				fprintf(f, "%-15s %s\n", k, json_object_get_string(v));
			json_object_put(o);
		}
		return 0;
	}
	case IC_CTL_STATS:
		if (json)
			put_json(f, stats_json());
		else
			stats_text(f);
		return 0;
	case IC_CTL_CONTAINERS:
		if (json) {
			struct json_object *o = json_object_new_object();

			json_object_object_add(o, "containers", containers_json());
			put_json(f, o);
		} else
			containers_text(f);
		return 0;
	case IC_CTL_METRICS:
		ic_metrics_write(f, req->format == IC_CTL_OPENMETRICS);
		return 0;
	case IC_CTL_RELOAD: {
		char err[IC_CONF_ERR_MAX] = "";
		int r = ic_server_reload(err, sizeof(err));

		if (json) {
			struct json_object *o = json_object_new_object();

			json_object_object_add(o, "ok", json_object_new_boolean(r == 0));
			if (r < 0)
				json_object_object_add(o, "error", json_object_new_string(err));
			put_json(f, o);
		} else if (r < 0) {
			fprintf(f, "reload failed: %s\n", err);
		} else {
			fprintf(f, "reloaded\n");
		}
		return r < 0 ? 1 : 0;
	}
	case IC_CTL_UPGRADE: {
		struct ic_server_status ss;

		ic_server_status(&ss);
		if (!ss.keeper || kill(ss.keeper, SIGUSR2) < 0) {
			fprintf(f, "no keeper to hand over (%s)\n",
				ss.keeper ? strerror(errno) : "none");
			return 1;
		}
		fprintf(f,
			"upgrading: the keeper (pid %d) hands over to the binary now installed; "
			"status shows the next server\n",
			(int)ss.keeper);
		return 0;
	}
	case _IC_CTL_CMD_MAX:
		break;
	}
	return 2;
}

static void ctl_serve(int fd)
{
	char line[IC_CTL_LINE_MAX], err[IC_CTL_LINE_MAX + 128];
	struct ic_ctl_req req;
	size_t len = 0;
	char *buf = NULL;
	size_t buflen = 0;
	FILE *f;
	uint64_t deadline = ic_now_ns() + CTL_TIMEOUT_MS * 1000000ULL;
	int code;

	/* Read one line, bounded in size and time. */
	while (len < sizeof(line)) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		uint64_t now = ic_now_ns();
		ssize_t n;

		if (now >= deadline || poll(&p, 1, (int)((deadline - now) / 1000000ULL) + 1) <= 0)
			return;
		n = read(fd, line + len, sizeof(line) - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		if (memchr(line, '\n', len))
			break;
	}
	f = open_memstream(&buf, &buflen);
	if (!f)
		return;
	if (ic_ctl_decode(line, len, &req, err, sizeof(err)) < 0) {
		fprintf(f, "%s\n", err);
		code = 2;
	} else {
		code = ctl_execute(&req, f);
	}
	fclose(f);
	/* First byte: the exit code for interceptctl, then the text. */
	{
		char c = (char)('0' + code);
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		size_t off = 0;

		if (write(fd, &c, 1) == 1)
			while (off < buflen && poll(&p, 1, CTL_TIMEOUT_MS) > 0) {
				ssize_t n = write(fd, buf + off, buflen - off);

				if (n <= 0)
					break;
				off += (size_t)n;
			}
	}
	free(buf);
}

static void *ctl_main(void *arg)
{
	rcu_register_thread();
	for (;;) {
		struct pollfd p[2] = {{.fd = ctl.sock, .events = POLLIN},
				      {.fd = ctl.stop_pipe[0], .events = POLLIN}};
		int fd;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		fd = accept4(ctl.sock, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			continue;
		ctl_serve(fd);
		close(fd);
	}
	rcu_unregister_thread();
	return NULL;
}

int ic_control_start(int sock)
{
	int r;

	ctl.sock = sock;
	if (pipe2(ctl.stop_pipe, O_CLOEXEC) < 0)
		return log_error_errno(errno, "control: %m");
	r = pthread_create(&ctl.thread, NULL, ctl_main, NULL);
	if (r)
		return log_error_errno(r, "control: cannot start thread: %s", strerror(r));
	ctl.started = true;
	return 0;
}

void ic_control_stop(void)
{
	if (ctl.started) {
		if (write(ctl.stop_pipe[1], "x", 1) < 0)
			log_warn_errno(errno, "control: %m");
		pthread_join(ctl.thread, NULL);
		ctl.started = false;
	}
	if (ctl.sock >= 0)
		close(ctl.sock);
	for (int i = 0; i < 2; i++)
		if (ctl.stop_pipe[i] >= 0)
			close(ctl.stop_pipe[i]);
	ctl.sock = ctl.stop_pipe[0] = ctl.stop_pipe[1] = -1;
}
