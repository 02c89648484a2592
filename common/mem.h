/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_COMMON_MEM_H
#define IC_COMMON_MEM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Target memory access with process_vm_readv/writev. Any thread. A range that is not wholly
 * mapped (readable, or writable for writes) gives -EFAULT, as the kernel would give the caller. */
int ic_mem_read(pid_t pid, uint64_t addr, void *buf, size_t len);
int ic_mem_write(pid_t pid, uint64_t addr, const void *buf, size_t len);
/* A NUL-terminated string of at most max bytes (including the NUL) from target memory, read
 * page by page so that a string ending just before an unmapped page reads fine. -EFAULT for a
 * bad pointer, -ENAMETOOLONG when no NUL comes within max. */
int ic_read_string(pid_t tid, uint64_t addr, char *buf, size_t max);

#endif
