/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_FUZZ_FAKE_MEM_H
#define IC_FUZZ_FAKE_MEM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A fake target for the argument decoders (handlers/decode.c, common/mem.c): its whole address
 * space is one mapping of the fuzz input's bytes at FAKE_BASE plus a misalignment the input
 * picks; nothing else is mapped. It is reached through process_vm_readv and process_vm_writev,
 * which fake-mem.c defines in place of libc's, so that the production code runs unchanged. */

#define FAKE_BASE     0x10000ULL
#define FAKE_PID      4242
#define FAKE_PID_GONE 4243 /* a target that exited: ESRCH */

/* The input, consumed from the front: header fields first, the rest becomes the mapping. */
struct fake_input {
	const uint8_t *p;
	size_t n;
};

/* The input, and its header's first fields: the target is gone (1 byte, bit 0), where in its
 * page the mapping starts (2 bytes). */
struct fake_input fake_begin(const uint8_t *data, size_t size);
/* The next bytes of the input as a little-endian number (0 past its end). */
uint64_t fake_take(struct fake_input *in, size_t bytes);
/* Maps what is left of the input, writable; returns the pid to pass to the decoders. */
pid_t fake_mem_map(const struct fake_input *in);
/* An address the input names in 16 bits: 0 is NULL, the rest run from 256 bytes before the
 * mapping to well past its end. */
uint64_t fake_addr(uint16_t v);

#endif
