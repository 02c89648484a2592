/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_TESTS_HARNESS_H
#define IC_TESTS_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* A real interceptd on temporary sockets, for integration tests. */
struct ic_test_daemon {
	pid_t pid; /* its keeper: signals go there */
	char dir[64];
	char conf[128];
	char oci[128];
	char ctl[128];
	char log[128];
};

/* When not -1, the next daemon started writes its log (stderr) there instead of d->log. */
extern int ic_test_daemon_stderr;

/* Path of a built program or test helper, e.g. ic_test_bin("interceptd"). */
const char *ic_test_bin(const char *name);
/* For a test that fills the machine (the benchmark, fifty containers at once): it waits
 * (bounded) until no other such test runs. make check runs two suites at a time, and two of
 * these side by side on two CPUs would measure the machine instead of the daemon. */
void ic_test_exclusive(void);
/* Write the config (sockets filled in, extra appended: more [server] keys, then sections) and
 * start the daemon; waits until its control socket answers (bounded). */
void ic_test_daemon_start(struct ic_test_daemon *d, const char *server_extra, const char *sections);
/* Rewrite the config file (same sockets) without restarting. */
void ic_test_daemon_rewrite(struct ic_test_daemon *d, const char *server_extra,
			    const char *sections);
/* SIGTERM, wait (bounded, SIGKILL after 10 s), remove the directory. Returns the exit status. */
int ic_test_daemon_stop(struct ic_test_daemon *d);
/* Run sh -c CMD with a timeout; stdout+stderr into out (NUL-terminated). Returns the exit code,
 * 128+signal, or -1 on timeout (the process group is killed). */
int ic_test_sh(char *out, size_t outlen, int timeout_s, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Start sh -c CMD in the background; the caller reaps the returned pid. */
pid_t ic_test_sh_start(const char *cmd);
/* interceptctl against d; returns its exit code, output in out. */
int ic_test_ctl(struct ic_test_daemon *d, char *out, size_t outlen, const char *cmd);
/* Value of "key=NUMBER" in text (first match), or -1. */
long long ic_test_kv(const char *text, const char *key);
/* A counter from `interceptctl stats --json`: "received", "answers.dropped", ... */
long long ic_test_stat(struct ic_test_daemon *d, const char *path);
/* Wait (bounded by timeout_ms) until a counter reaches want: the daemon counts an answer just
 * after sending it, so the target may finish first. */
bool ic_test_stat_reaches(struct ic_test_daemon *d, const char *path, long long want,
			  int timeout_ms);
/* A child under a sysinfo NOTIFY filter whose listener we hold: on ic_test_target_go it makes
 * `calls` sysinfo calls and exits 0 when each returned 0, else 100 + the first errno. */
struct ic_test_target {
	pid_t pid;
	int ctl;      /* our end of its socketpair */
	int listener; /* its filter's listener fd */
};

void ic_test_target_spawn(struct ic_test_target *t, int calls);
/* The same with procs (1..64) processes under the one filter, each making `calls` calls at once;
 * it exits 0 when every call of every process returned 0. */
void ic_test_target_spawn_procs(struct ic_test_target *t, int calls, int procs);
/* Hand t's listener to d's OCI socket as container id (the message runc sends), and close our
 * copy. */
void ic_test_target_register(struct ic_test_daemon *d, struct ic_test_target *t, const char *id);
void ic_test_target_go(struct ic_test_target *t);
/* The same, but t stays alive under its filter once its calls are done, until ic_test_target_wait
 * lets go. Returns the exit code it will have (as ic_test_target_wait), or -1 when its calls are
 * not done within timeout_ms. */
int ic_test_target_go_and_hold(struct ic_test_target *t, int timeout_ms);
/* Wait for it; returns its exit code. Closes ctl and listener (when still open). */
int ic_test_target_wait(struct ic_test_target *t);

/* The pid of the daemon's server process (d->pid is its keeper's). */
pid_t ic_test_server_pid(struct ic_test_daemon *d);
/* The server that answers status once it is no longer old (0: any), within about timeout_ms
 * (each status asked counts 10 ms); 0 when none did. */
pid_t ic_test_server_replaced(struct ic_test_daemon *d, pid_t old, int timeout_ms);
/* A healthy container (intercept-run, 64 MiB) still gets its own sysinfo answer from d. */
void ic_test_expect_served(struct ic_test_daemon *d);
/* SIGKILL d's server, wait for the next, then upgrade (interceptctl upgrade) and wait again. */
void ic_test_kill_then_upgrade(struct ic_test_daemon *d);
/* n hand-overs to a new server in a row, alternately by SIGUSR2 (systemd's reload) and by
 * `interceptctl upgrade`, each after pause_us; each new server must serve within 5 s. Returns
 * the last server. */
pid_t ic_test_upgrades(struct ic_test_daemon *d, int n, unsigned pause_us);
/* bound_ms, or IC_TEST_SERVE_AGAIN_MS when that is more: a daemon built to be slow (TSan's)
 * takes longer from a server's end to the next one's service. */
unsigned ic_test_serve_again_ms(unsigned bound_ms);
/* The longest one call may wait across a server's kill or hand-over, in us: the request
 * deadline (5 s) plus the next server's start (ic_test_serve_again_ms(1000)). */
long long ic_test_call_bound_us(void);
/* SIGKILL the server n times, each after a random pause of min_us to min_us + spread_us, and
 * expect the next to answer `interceptctl status` within bound_ms of each kill (or
 * IC_TEST_SERVE_AGAIN_MS, when more). Returns the last server. */
pid_t ic_test_kill_servers(struct ic_test_daemon *d, int n, unsigned min_us, unsigned spread_us,
			   unsigned bound_ms);
/* The tid of the daemon's thread named name ("ic-worker-0"), 0 if none. */
pid_t ic_test_thread_named(struct ic_test_daemon *d, const char *name);
/* Stop that worker with ptrace (PTRACE_SEIZE + INTERRUPT): requests then wait in their queue.
 * Resume it with ptrace(PTRACE_DETACH, tid, 0, 0). */
pid_t ic_test_stop_worker(struct ic_test_daemon *d);
/* A file's content into out (NUL-terminated), or fail the test. */
void ic_test_read_file(const char *path, char *out, size_t outlen);
/* Whether the daemon's log contains s. */
bool ic_test_log_has(struct ic_test_daemon *d, const char *s);
/* The last warning and error lines of the daemon's log (and those that name a failure
 * answer, logged at debug) that fit in out, for a failure's message; returns out. */
const char *ic_test_log_warnings(struct ic_test_daemon *d, char *out, size_t outlen);
/* Wait (bounded by timeout_ms) until the log contains s. */
bool ic_test_log_wait(struct ic_test_daemon *d, const char *s, int timeout_ms);

#endif
