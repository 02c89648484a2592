/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "common/tsan.h"

#ifdef IC_TSAN
/* TSan builds only (configure --enable-tsan links with --wrap=urcu_memb_read_unlock). */

char ic_tsan_grace;

void __real_urcu_memb_read_unlock(void);
void __wrap_urcu_memb_read_unlock(void);

/* Any thread, in a read section: what it did there is released before the section ends. */
void __wrap_urcu_memb_read_unlock(void)
{
	__tsan_release(&ic_tsan_grace);
	__real_urcu_memb_read_unlock();
}
#endif
