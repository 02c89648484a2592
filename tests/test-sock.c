/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macros.h"
#include "common/sock.h"

static void pair(int type, int sp[2])
{
	cr_assert_eq(socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sp), 0);
}

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	cr_assert_not_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* The received fd names the same open file as the one sent, and is close-on-exec. */
static void assert_same_file(int got, int sent)
{
	struct stat a, b;

	cr_assert_eq(fstat(got, &a), 0);
	cr_assert_eq(fstat(sent, &b), 0);
	cr_assert(a.st_dev == b.st_dev && a.st_ino == b.st_ino);
	cr_assert(fcntl(got, F_GETFD) & FD_CLOEXEC);
}

Test(sock, recv_fds_gets_the_data_and_the_fds_in_order)
{
	int sp[2], p[2], sent[3], got[4] = {-1, -1, -1, -1}, n_fds = -1, flags = -1;
	char buf[16];

	pair(SOCK_STREAM, sp);
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	sent[0] = p[0];
	sent[1] = p[1];
	sent[2] = sp[1];
	cr_assert_eq(ic_sock_send_fds(sp[1], "hello", 5, sent, 3), 0);
	cr_assert_eq(ic_sock_recv_fds(sp[0], buf, sizeof(buf), got, 4, &n_fds, 0, &flags), 5);
	cr_assert_eq(memcmp(buf, "hello", 5), 0);
	cr_assert_eq(n_fds, 3);
	cr_assert_eq(flags & (MSG_TRUNC | MSG_CTRUNC), 0);
	for (int i = 0; i < 3; i++)
		assert_same_file(got[i], sent[i]);
	cr_assert_eq(got[3], -1);
}

Test(sock, recv_fds_closes_what_is_beyond_max_and_counts_it)
{
	int sp[2], sent[5], got[2] = {-1, -1}, n_fds = -1, before;
	char c;

	pair(SOCK_SEQPACKET, sp);
	for (int i = 0; i < 5; i++)
		sent[i] = sp[1];
	before = open_fds();
	cr_assert_eq(ic_sock_send_fds(sp[1], "x", 1, sent, 5), 0);
	cr_assert_eq(ic_sock_recv_fds(sp[0], &c, 1, got, 2, &n_fds, 0, NULL), 1);
	cr_assert_eq(n_fds, 5, "every fd that came is counted, also those not kept");
	assert_same_file(got[0], sp[1]);
	assert_same_file(got[1], sp[1]);
	cr_assert_eq(open_fds(), before + 2, "the three beyond max_fds are closed");
}

Test(sock, recv_fds_takes_none_with_max_zero)
{
	int sp[2], n_fds = -1, before;
	char c;

	pair(SOCK_STREAM, sp);
	before = open_fds();
	cr_assert_eq(ic_sock_send_fds(sp[1], "x", 1, &sp[1], 1), 0);
	cr_assert_eq(ic_sock_recv_fds(sp[0], &c, 1, NULL, 0, &n_fds, 0, NULL), 1);
	cr_assert_eq(n_fds, 1);
	cr_assert_eq(open_fds(), before);
}

Test(sock, recv_fds_reports_a_datagram_cut_short)
{
	int sp[2], got = -1, n_fds = -1, flags = 0;
	char buf[4];

	pair(SOCK_SEQPACKET, sp);
	cr_assert_eq(ic_sock_send_fds(sp[1], "12345678", 8, &sp[1], 1), 0);
	cr_assert_eq(ic_sock_recv_fds(sp[0], buf, sizeof(buf), &got, 1, &n_fds, 0, &flags), 4);
	cr_assert(flags & MSG_TRUNC);
	cr_assert_eq(memcmp(buf, "1234", 4), 0);
	cr_assert_eq(n_fds, 1);
	assert_same_file(got, sp[1]);
}

Test(sock, recv_fds_returns_0_at_end_of_stream)
{
	int sp[2], got = -1, n_fds = -1, flags = -1;
	char c;

	pair(SOCK_STREAM, sp);
	close(sp[1]);
	cr_assert_eq(ic_sock_recv_fds(sp[0], &c, 1, &got, 1, &n_fds, 0, &flags), 0);
	cr_assert_eq(n_fds, 0);
	cr_assert_eq(got, -1);
}

Test(sock, recv_fds_passes_flags_and_returns_errors)
{
	int sp[2], got = -1, n_fds = -1;
	char c;

	pair(SOCK_STREAM, sp);
	cr_assert_eq(ic_sock_recv_fds(sp[0], &c, 1, &got, 1, &n_fds, MSG_DONTWAIT, NULL), -EAGAIN);
	cr_assert_eq(n_fds, 0);
	n_fds = -1;
	cr_assert_eq(ic_sock_recv_fds(-1, &c, 1, &got, 1, &n_fds, 0, NULL), -EBADF);
	cr_assert_eq(n_fds, 0);
	cr_assert_eq(got, -1);
}
