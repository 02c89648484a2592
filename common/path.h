/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_COMMON_PATH_H
#define IC_COMMON_PATH_H

#include <stddef.h>

/* Split path into the directory part (resolved by the caller) and the last component, which
 * keeps any trailing slashes so the kernel judges them. dir is "." or "/" when there is none. */
void ic_path_split(const char *path, char *dir, size_t dirlen, const char **last);

#endif
