/* SPDX-License-Identifier: Apache-2.0 */
#ifndef IC_SERVER_LISTENER_H
#define IC_SERVER_LISTENER_H

struct ic_container;
struct ic_source;

/* A seccomp listener fd as a source (the OCI front end's): we RECV and SEND on it ourselves.
 * Takes fd and the caller's reference to ct into *ret; on error the caller still owns both:
 * -EEXIST when fd is the very file of a listener already served (the same filter's listener,
 * sent again or dup'd), -ENOMEM. Any thread; serialised with the last put of any listener. */
int ic_listener_new(int fd, struct ic_container *ct, struct ic_source **ret);

#endif
