/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_SERVER_HOLDINGS_H
#define IC_SERVER_HOLDINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/oci.h"

/* The keeper's holdings (doc/design.md §13): for every listener it holds, the key and the
 * message the next server registers it with, as records in a memfd. The file, not the
 * keeper's memory, is where they live, so that they outlive the keeper itself: in its own
 * process image across an upgrade, and in systemd's fd store across a restart or a crash.
 * Only the keeper writes it; servers read the records they are given at their start. */

struct ic_holding {
	uint64_t key; /* the listener's key (ic_journal_new_key); never 0 */
	uint32_t len; /* of the message that follows the record */
	uint32_t live;
	int32_t fd; /* the listener's number in the keeper that wrote the record */
	uint32_t pad;
};

/* The longest message a record holds (an OCI message, with room to spare). */
#define IC_HOLDINGS_MSG_MAX (IC_OCI_MSG_MAX + 64)
/* Where the first record goes. */
#define IC_HOLDINGS_START 32

/* A new, empty file (close-on-exec) whose header carries seq: of two files, the higher seq is
 * the newer. Returns its fd or -errno. */
int ic_holdings_create(uint64_t seq);
/* Check that fd is such a file; *seq and *end (where the next record goes) from its header. */
int ic_holdings_open(int fd, uint64_t *seq, uint64_t *end);
/* Append a live record (at *end, which moves on) for key with msg; *off: where it went. */
int ic_holdings_add(int fd, uint64_t *end, uint64_t key, int listener, const void *msg,
		    uint32_t len, uint64_t *off);
/* The record at off is dead (live false), or holds listener under its fd number now. */
int ic_holdings_set(int fd, uint64_t off, bool live, int listener);
/* The message of the record at off into buf (len bytes, as the record says). */
int ic_holdings_msg(int fd, uint64_t off, char *buf, uint32_t len);
/* Every live record below end in order; fn's negative return stops the walk and is returned. */
int ic_holdings_walk(int fd, uint64_t end,
		     int (*fn)(uint64_t off, const struct ic_holding *h, void *data), void *data);
/* How much of the file a record with len message bytes takes. */
uint64_t ic_holdings_size(uint32_t len);

#endif
