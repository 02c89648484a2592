/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fake-mem.h"
#include "handlers/decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Policy lists as an administrator writes them (mount.allowed, mount.fuse). */
static const char *const allowed = "ext4, xfs,btrfs ,vfat";
static const char *const fuse = "ext4=fuse2fs, squashfs=squashfuse ,fuse.sshfs = sshfs,ntfs=";

/* mount(source, target, fstype, flags, data) as the mount handler decodes it: the common
 * header (fake-mem.h), the five arguments' addresses (2 each), flags (4), helper buffer size (1);
 * the rest is the target's memory. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fake_input in = fake_begin(data, size);
	__u64 a[6] = {0};
	size_t helper_len, opts_len = IC_MOUNT_DATA_MAX + 64;
	static struct ic_mount_args m;
	char *helper, *opts, *cursor, *key, *value;
	pid_t pid;
	int r;

	for (int i = 0; i < 5; i++)
		a[i] = i == 3 ? 0 : fake_addr((uint16_t)fake_take(&in, 2));
	a[3] = fake_take(&in, 4);
	helper_len = fake_take(&in, 1) % 64 + 1;
	pid = fake_mem_map(&in);

	if (ic_mount_read_fstype(pid, a, &m) < 0)
		return 0;
	if (!memchr(m.fstype, 0, sizeof(m.fstype)) || m.flags != (unsigned long)a[3])
		__builtin_trap();
	(void)ic_mount_list_has(allowed, m.fstype);
	(void)ic_mount_list_has(fuse, m.fstype);
	r = ic_mount_read_rest(pid, a, &m);
	if (r < 0) {
		if (r != -EFAULT && r != -ENAMETOOLONG && r != -ESRCH)
			__builtin_trap();
		return 0;
	}
	if (!memchr(m.source, 0, sizeof(m.source)) || !memchr(m.target, 0, sizeof(m.target)) ||
	    !memchr(m.data, 0, sizeof(m.data)))
		__builtin_trap();
	/* The caller's strings as lists too: what a list parser must survive. */
	(void)ic_mount_list_has(m.data, m.fstype);
	helper = malloc(helper_len);
	opts = malloc(opts_len);
	if (!helper || !opts)
		abort();
	if (ic_mount_fuse_helper(fuse, m.fstype, helper, helper_len) ||
	    ic_mount_fuse_helper(m.data, m.fstype, helper, helper_len))
		if (strlen(helper) == 0 || strlen(helper) >= helper_len)
			__builtin_trap();
	ic_mount_fuse_options(m.flags, m.data, opts, opts_len);
	if (strlen(opts) >= opts_len)
		__builtin_trap();
	(void)ic_mount_attrs(m.flags, m.flags & 1);
	/* The options as the kernel context gets them: no separator left in, no empty flag ("=x"
	 * gives an empty key, which the kernel refuses itself). */
	cursor = m.data;
	for (size_t n = 0; (key = ic_mount_option_next(&cursor, &value)); n++)
		if ((!key[0] && !value) || strchr(key, ',') || strchr(key, '=') ||
		    (value && strchr(value, ',')) || n > sizeof(m.data))
			__builtin_trap();
	free(helper);
	free(opts);
	return 0;
}
