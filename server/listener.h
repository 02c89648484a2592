/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_SERVER_LISTENER_H
#define IC_SERVER_LISTENER_H

struct ic_container;
struct ic_source;

/* A seccomp listener fd as a source (the OCI front end's): we RECV and SEND on it ourselves.
 * Takes fd and the caller's reference to ct; NULL when out of memory (the caller still owns
 * both). Any thread. */
struct ic_source *ic_listener_new(int fd, struct ic_container *ct);

#endif
