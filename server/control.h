/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_SERVER_CONTROL_H
#define IC_SERVER_CONTROL_H

/* The control socket's thread (interceptctl): status, stats, containers, metrics, reload, on
 * the listening socket sock. Main thread; stop closes sock. */
int ic_control_start(int sock);
void ic_control_stop(void);

#endif
