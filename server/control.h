/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_SERVER_CONTROL_H
#define IC_SERVER_CONTROL_H

/* The control socket's thread (interceptctl): status, stats, containers, metrics, reload. Main
 * thread. */
int ic_control_start(const char *path);
void ic_control_stop(void);

#endif
