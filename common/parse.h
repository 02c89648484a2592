/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_COMMON_PARSE_H
#define IC_COMMON_PARSE_H

#include <stdbool.h>
#include <stdint.h>

/* All return 0 or -EINVAL (not a number, trailing junk) / -ERANGE (outside [min, max]). */
int ic_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret);
int ic_parse_bool(const char *s, bool *ret);
/* "64M", "1G", "4096", "1.5" is refused; suffixes K/M/G/T are binary (1024). */
int ic_parse_size(const char *s, uint64_t *ret);
/* Whether word is one of the items of list, separated by sep (exact match, no trimming). */
bool ic_list_has(const char *list, const char *word, char sep);

#endif
