/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <criterion/criterion.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "common/macros.h"
#include "handlers/handlers.h"
#include "tests/harness.h"

/* ic_sysinfo_layout: the bytes a sysinfo caller gets, for either ABI. */

TestSuite(layout);

/* The kernel's struct compat_sysinfo, written out here from the kernel's definition rather than
 * taken from the code under test. */
struct compat_sysinfo {
	int32_t uptime;
	uint32_t loads[3];
	uint32_t totalram, freeram, sharedram, bufferram, totalswap, freeswap;
	uint16_t procs, pad;
	uint32_t totalhigh, freehigh;
	uint32_t mem_unit;
	char _f[8];
};
_Static_assert(sizeof(struct compat_sysinfo) == 64, "compat_sysinfo is 64 bytes");
_Static_assert(offsetof(struct compat_sysinfo, procs) == 40, "procs at 40");
_Static_assert(offsetof(struct compat_sysinfo, totalhigh) == 44, "totalhigh at 44");
_Static_assert(offsetof(struct compat_sysinfo, mem_unit) == 52, "mem_unit at 52");

#define GIB (1ULL << 30)

static struct sysinfo sample(void)
{
	struct sysinfo si;

	memset(&si, 0, sizeof(si));
	si.uptime = 12345;
	si.loads[0] = 65536;
	si.loads[1] = 32768;
	si.loads[2] = 3;
	si.totalram = GIB;
	si.freeram = GIB / 2;
	si.sharedram = 4096;
	si.bufferram = 8192;
	si.totalswap = 2 * GIB;
	si.freeswap = GIB;
	si.procs = 417;
	si.mem_unit = 1;
	return si;
}

static struct compat_sysinfo compat_of(const struct sysinfo *si)
{
	unsigned char buf[128];
	struct compat_sysinfo c;

	memset(buf, 0x5a, sizeof(buf));
	cr_assert_eq(ic_sysinfo_layout(si, IC_ABI_COMPAT, buf, sizeof(buf)), 64);
	for (size_t i = 64; i < sizeof(buf); i++)
		cr_assert_eq(buf[i], 0x5a, "byte %zu past the 64-byte layout written", i);
	memcpy(&c, buf, sizeof(c));
	return c;
}

Test(layout, native_is_the_112_byte_struct_as_is)
{
	struct sysinfo si = sample();
	unsigned char buf[sizeof(si) + 16];

	si.totalram = 64 * GIB; /* more than 32 bits: nothing to scale for a 64-bit caller */
	memset(buf, 0x5a, sizeof(buf));
	cr_assert_eq(ic_sysinfo_layout(&si, IC_ABI_NATIVE, buf, sizeof(buf)), 112);
	cr_expect_eq(memcmp(buf, &si, sizeof(si)), 0);
	for (size_t i = sizeof(si); i < sizeof(buf); i++)
		cr_expect_eq(buf[i], 0x5a, "byte %zu past the struct written", i);
}

Test(layout, too_small_a_buffer_gives_0_and_writes_nothing)
{
	static const struct {
		enum ic_abi abi;
		size_t buflen;
	} cases[] = {
	    {IC_ABI_NATIVE, 0}, {IC_ABI_NATIVE, 64}, {IC_ABI_NATIVE, 111},
	    {IC_ABI_COMPAT, 0}, {IC_ABI_COMPAT, 1},  {IC_ABI_COMPAT, 63},
	};
	struct sysinfo si = sample();

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		unsigned char buf[128];

		memset(buf, 0x5a, sizeof(buf));
		cr_expect_eq(ic_sysinfo_layout(&si, cases[i].abi, buf, cases[i].buflen), 0,
			     "abi %d, %zu bytes", cases[i].abi, cases[i].buflen);
		for (size_t k = 0; k < sizeof(buf); k++)
			cr_expect_eq(buf[k], 0x5a, "abi %d, %zu bytes: byte %zu written",
				     cases[i].abi, cases[i].buflen, k);
	}
}

Test(layout, compat_fits_exactly_in_64_bytes)
{
	struct sysinfo si = sample();
	unsigned char buf[64];

	cr_expect_eq(ic_sysinfo_layout(&si, IC_ABI_COMPAT, buf, sizeof(buf)), 64);
}

Test(layout, compat_copies_every_field_to_the_kernels_offsets_and_zeroes_padding)
{
	struct sysinfo si = sample();
	struct compat_sysinfo c = compat_of(&si);

	cr_expect_eq(c.uptime, 12345);
	cr_expect_eq(c.loads[0], 65536);
	cr_expect_eq(c.loads[1], 32768);
	cr_expect_eq(c.loads[2], 3);
	cr_expect_eq(c.totalram, GIB);
	cr_expect_eq(c.freeram, GIB / 2);
	cr_expect_eq(c.sharedram, 4096);
	cr_expect_eq(c.bufferram, 8192);
	cr_expect_eq(c.totalswap, 2 * GIB);
	cr_expect_eq(c.freeswap, GIB);
	cr_expect_eq(c.procs, 417);
	cr_expect_eq(c.pad, 0);
	cr_expect_eq(c.totalhigh, 0);
	cr_expect_eq(c.freehigh, 0);
	cr_expect_eq(c.mem_unit, 1);
	for (size_t i = 0; i < sizeof(c._f); i++)
		cr_expect_eq(c._f[i], 0, "_f[%zu]", i);
}

/* do_compat_sysinfo: when totalram or totalswap needs more than 32 bits, mem_unit doubles until
 * it reaches the page size and every memory figure is shifted by as much; nothing else is
 * scaled, and figures still too big are cut to their low 32 bits. */
struct scale_case {
	const char *what;
	uint64_t in[8]; /* totalram, freeram, sharedram, bufferram, totalswap, freeswap, totalhigh,
			   freehigh */
	uint32_t unit_in;
	uint32_t out[8];
	uint32_t unit_out;
};

Test(layout, compat_scales_mem_unit_up_to_a_page_when_totalram_or_totalswap_needs_33_bits)
{
	static const struct scale_case cases[] = {
	    {"the largest 32-bit figures: no scaling",
	     {0xffffffff, 0xfffff000, 1, 2, 0xffffffff, 0x1000, 0, 0},
	     1,
	     {0xffffffff, 0xfffff000, 1, 2, 0xffffffff, 0x1000, 0, 0},
	     1},
	    {"totalram of 4 GiB: bytes become pages, low bits dropped",
	     {4 * GIB, 2 * GIB + 4095, 8191, 4096, GIB, 0, 4 * GIB, 4096},
	     1,
	     {1 << 20, 1 << 19, 1, 1, 1 << 18, 0, 1 << 20, 1},
	     4096},
	    {"totalswap alone over 32 bits scales too",
	     {GIB, GIB / 2, 0, 0, 8 * GIB + 4096, 8 * GIB, 0, 0},
	     1,
	     {1 << 18, 1 << 17, 0, 0, (1 << 21) + 1, 1 << 21, 0, 0},
	     4096},
	    {"a 24 GiB host",
	     {24 * GIB, 20 * GIB, 9805824, 537677824, 0, 0, 0, 0},
	     1,
	     {6291456, 5242880, 2394, 131269, 0, 0, 0, 0},
	     4096},
	    {"a unit of 1024 doubles twice",
	     {8 * GIB, 4 * GIB, 0, 0, 0, 0, 0, 0},
	     1024,
	     {2 * GIB, GIB, 0, 0, 0, 0, 0, 0},
	     4096},
	    {"a unit already a page is kept, and what does not fit is cut",
	     {(1ULL << 32) + 5, 7, 0, 0, 0, 0, 0, 0},
	     4096,
	     {5, 7, 0, 0, 0, 0, 0, 0},
	     4096},
	    {"only totalram and totalswap decide: a big freeram alone is cut",
	     {GIB, (1ULL << 32) + 9, 0, 0, 0, 0, 0, 0},
	     1,
	     {GIB, 9, 0, 0, 0, 0, 0, 0},
	     1},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct scale_case *k = &cases[i];
		struct sysinfo si = sample();
		struct compat_sysinfo c;
		uint32_t got[8];

		si.totalram = k->in[0];
		si.freeram = k->in[1];
		si.sharedram = k->in[2];
		si.bufferram = k->in[3];
		si.totalswap = k->in[4];
		si.freeswap = k->in[5];
		si.totalhigh = k->in[6];
		si.freehigh = k->in[7];
		si.mem_unit = k->unit_in;
		c = compat_of(&si);
		got[0] = c.totalram;
		got[1] = c.freeram;
		got[2] = c.sharedram;
		got[3] = c.bufferram;
		got[4] = c.totalswap;
		got[5] = c.freeswap;
		got[6] = c.totalhigh;
		got[7] = c.freehigh;
		cr_expect_eq(c.mem_unit, k->unit_out, "%s: mem_unit %u", k->what, c.mem_unit);
		for (int f = 0; f < 8; f++)
			cr_expect_eq(got[f], k->out[f], "%s: figure %d is %u, want %u", k->what, f,
				     got[f], k->out[f]);
		/* Not memory figures: never scaled. */
		cr_expect_eq(c.uptime, 12345, "%s", k->what);
		cr_expect_eq(c.loads[0], 65536, "%s", k->what);
		cr_expect_eq(c.procs, 417, "%s", k->what);
	}
}

/* The kernel's own answer to an i386 caller, from tests/sysinfo-probe32 run on the host with no
 * filter, against our layout of the host's native answer. Free memory and uptime move between
 * the two calls; the totals and the unit do not. On a host with 4 GiB or more this exercises the
 * scaling. */
Test(layout, compat_matches_what_the_kernel_gives_an_i386_caller)
{
	const char *probe = ic_test_bin("tests/sysinfo-probe32");
	struct compat_sysinfo c;
	struct sysinfo host;
	char out[1024];
	int r;

	cr_assert_eq(access(probe, X_OK), 0,
		     "tests/sysinfo-probe32 missing: gcc-multilib must be installed");
	cr_assert_eq(sysinfo(&host), 0);
	cr_assert_eq(host.mem_unit, 1, "a 64-bit kernel reports bytes");
	c = compat_of(&host);
	r = ic_test_sh(out, sizeof(out), 10, "%s", probe);
	cr_assert_eq(r, 0, "%s", out);
	cr_expect_eq(ic_test_kv(out, "sizeof"), 64, "%s", out);
	cr_expect_eq(ic_test_kv(out, "mem_unit"), (long long)c.mem_unit, "%s", out);
	cr_expect_eq(ic_test_kv(out, "totalram"), (long long)c.totalram, "%s", out);
	cr_expect_eq(ic_test_kv(out, "totalswap"), (long long)c.totalswap, "%s", out);
	cr_expect_eq(ic_test_kv(out, "totalhigh"), (long long)c.totalhigh, "%s", out);
}
