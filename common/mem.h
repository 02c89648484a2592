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

#endif
