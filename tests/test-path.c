/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ic_path_split is moving to common/path.h; until then common/caller.h declares it. */
#include "common/path.h"
#include "common/macros.h"

/* ic_path_split: the directory a handler resolves as the caller, and the last component it then
 * names from that directory. */

TestSuite(path);

struct split_case {
	const char *path;
	const char *dir;
	const char *last;
};

static void expect_split(const struct split_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char dir[PATH_MAX];
		const char *last = NULL;

		memset(dir, 'x', sizeof(dir));
		ic_path_split(c[i].path, dir, sizeof(dir), &last);
		cr_expect_str_eq(dir, c[i].dir, "'%s': dir '%s', want '%s'", c[i].path, dir,
				 c[i].dir);
		cr_expect_str_eq(last, c[i].last, "'%s': last '%s', want '%s'", c[i].path, last,
				 c[i].last);
		/* last points into path: the caller reads nothing we made up. */
		cr_expect(last >= c[i].path && last <= c[i].path + strlen(c[i].path),
			  "'%s': last does not point into path", c[i].path);
	}
}

Test(path, name_without_a_slash_is_resolved_from_the_cwd)
{
	static const struct split_case cases[] = {
	    {"a", ".", "a"},
	    {"a.b", ".", "a.b"},
	    {".", ".", "."},
	    {"..", ".", ".."},
	};

	expect_split(cases, ARRAY_SIZE(cases));
}

Test(path, relative_path_splits_at_its_last_slash)
{
	static const struct split_case cases[] = {
	    {"./x", ".", "x"},	{"../x", "..", "x"},   {"a/b", "a", "b"},   {"a/b/c", "a/b", "c"},
	    {"a//b", "a", "b"}, {"a/./b", "a/.", "b"}, {"a/..", "a", ".."}, {"./..", ".", ".."},
	};

	expect_split(cases, ARRAY_SIZE(cases));
}

Test(path, absolute_path_splits_at_its_last_slash)
{
	static const struct split_case cases[] = {
	    {"/a", "/", "a"},	     {"//a", "/", "a"},	   {"///a", "/", "a"},
	    {"/a/b", "/a", "b"},     {"/a//b", "/a", "b"}, {"//a//b", "//a", "b"},
	    {"/a/b/c", "/a/b", "c"},
	};

	expect_split(cases, ARRAY_SIZE(cases));
}

/* "a/" must stay "a/": the slash tells the kernel the name must be a directory (ENOTDIR, or a
 * symlink followed), and it only says so if it reaches the kernel. */
Test(path, last_component_keeps_its_trailing_slashes)
{
	static const struct split_case cases[] = {
	    {"a/", ".", "a/"},	   {"a//", ".", "a//"}, {"a//b//", "a", "b//"},	 {"/a/", "/", "a/"},
	    {"/a/b/", "/a", "b/"}, {"./x/", ".", "x/"}, {"../x//", "..", "x//"},
	};

	expect_split(cases, ARRAY_SIZE(cases));
}

/* No component at all: the whole string goes to the kernel, which judges "/" itself. */
Test(path, root_alone_is_left_whole_with_the_root_as_dir)
{
	static const struct split_case cases[] = {
	    {"/", "/", "/"},
	    {"//", "/", "//"},
	    {"///", "/", "///"},
	};

	expect_split(cases, ARRAY_SIZE(cases));
}

/* The kernel's answer to "" is ENOENT; an empty last component gets it from any *at call. */
Test(path, empty_path_gives_an_empty_last_component)
{
	static const struct split_case cases[] = {{"", "/", ""}};

	expect_split(cases, ARRAY_SIZE(cases));
}

/* The buffer is never overrun and always terminated. What is cut off names another directory,
 * so callers size dir to hold any path they accept (PATH_MAX for a PATH_MAX string). */
Test(path, dir_longer_than_the_buffer_is_cut_to_fit_and_terminated)
{
	static const struct {
		const char *path;
		size_t dirlen;
		const char *dir;
		const char *last;
	} cases[] = {
	    {"/abcdef/g", 4, "/ab", "g"}, {"/abc/g", 5, "/abc", "g"}, {"/abcd/g", 5, "/abc", "g"},
	    {"ab/c", 2, "a", "c"},	  {"ab/c", 1, "", "c"},	      {"a", 1, "", "a"},
	    {"/a", 1, "", "a"},		  {"/", 1, "", "/"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char buf[32];
		const char *last = NULL;

		memset(buf, '#', sizeof(buf));
		ic_path_split(cases[i].path, buf, cases[i].dirlen, &last);
		cr_expect_str_eq(buf, cases[i].dir, "'%s' in %zu bytes: dir '%s', want '%s'",
				 cases[i].path, cases[i].dirlen, buf, cases[i].dir);
		cr_expect_str_eq(last, cases[i].last, "'%s': last '%s'", cases[i].path, last);
		for (size_t k = cases[i].dirlen; k < sizeof(buf); k++)
			cr_expect_eq(buf[k], '#', "'%s' in %zu bytes: byte %zu written",
				     cases[i].path, cases[i].dirlen, k);
	}
}

/* The handler opens dir and then names last from it; the kernel resolves the whole path in one
 * go. Both must reach the same inode, or fail with the same errno. */
static char tree[64];

static void make_tree(void)
{
	strcpy(tree, "/tmp/test-path-XXXXXX");
	cr_assert_not_null(mkdtemp(tree), "mkdtemp: %s", strerror(errno));
	cr_assert_eq(chdir(tree), 0);
	cr_assert_eq(mkdir("d", 0755), 0);
	cr_assert_eq(mkdir("d/sub", 0755), 0);
	cr_assert_eq(close(open("f", O_CREAT | O_WRONLY | O_CLOEXEC, 0644)), 0);
	cr_assert_eq(close(open("d/e", O_CREAT | O_WRONLY | O_CLOEXEC, 0644)), 0);
	cr_assert_eq(symlink("d", "l"), 0);
	cr_assert_eq(symlink("nowhere", "dangling"), 0);
	cr_assert_eq(symlink("f", "lf"), 0);
}

static void remove_tree(void)
{
	static const char *const files[] = {"d/e", "f", "l", "dangling", "lf"};
	static const char *const dirs[] = {"d/sub", "d"};
	int fd;

	if (!tree[0])
		return;
	fd = open(tree, O_PATH | O_DIRECTORY | O_CLOEXEC);
	for (size_t i = 0; fd >= 0 && i < ARRAY_SIZE(files); i++)
		unlinkat(fd, files[i], 0);
	for (size_t i = 0; fd >= 0 && i < ARRAY_SIZE(dirs); i++)
		unlinkat(fd, dirs[i], AT_REMOVEDIR);
	if (fd >= 0)
		close(fd);
	rmdir(tree);
	tree[0] = 0;
}

/* fstatat's result as "ino dev" or "errno N". */
static void stat_result(int dirfd, const char *name, char *out, size_t len)
{
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		snprintf(out, len, "errno %d", errno);
	else
		snprintf(out, len, "ino %llu dev %llu", (unsigned long long)st.st_ino,
			 (unsigned long long)st.st_dev);
}

static void split_result(const char *path, char *out, size_t len)
{
	char dir[PATH_MAX];
	const char *last;
	int fd;

	ic_path_split(path, dir, sizeof(dir), &last);
	fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(out, len, "errno %d", errno);
		return;
	}
	stat_result(fd, last, out, len);
	close(fd);
}

static void expect_same_as_kernel(const char *path)
{
	char whole[96], split[96];

	stat_result(AT_FDCWD, path, whole, sizeof(whole));
	split_result(path, split, sizeof(split));
	cr_expect_str_eq(split, whole, "'%s': split gives %s, the kernel %s", path, split, whole);
}

Test(path, dir_then_last_reaches_what_the_kernel_reaches_for_the_whole_path, .init = make_tree,
     .fini = remove_tree)
{
	/* Relative to the tree (the cwd), then under its absolute name, then the host's root. */
	static const char *const rel[] = {
	    "",	    "d",	 "d/",	 "d//",	   "d/e",    "d//e",	 "d/e/",  "d/sub/",
	    "f",    "f/",	 "f/x",	 "l",	   "l/",     "l/e",	 "l//e/", "lf",
	    "lf/",  "dangling",	 "nope", "nope/",  "nope/x", ".",	 "..",	  "./d",
	    "./f/", "dangling/", "d/..", "d/../f", "d/.",    "d/sub/..", "./",	  "../",
	};
	static const char *const abs_tail[] = {"", "/", "//", "/d", "/d/", "//d//e", "/f/", "/l/"};
	static const char *const host[] = {"/", "//", "///", "/tmp", "//tmp/"};
	char path[PATH_MAX];

	for (size_t i = 0; i < ARRAY_SIZE(rel); i++)
		expect_same_as_kernel(rel[i]);
	/* Out of the cwd and back in. */
	snprintf(path, sizeof(path), "../%s/d/e", strrchr(tree, '/') + 1);
	expect_same_as_kernel(path);
	for (size_t i = 0; i < ARRAY_SIZE(abs_tail); i++) {
		snprintf(path, sizeof(path), "%s%s", tree, abs_tail[i]);
		expect_same_as_kernel(path);
	}
	for (size_t i = 0; i < ARRAY_SIZE(host); i++)
		expect_same_as_kernel(host[i]);
}
