/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "common/cgroup.h"
#include "common/conf.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/proc.h"
#include "handlers/handlers.h"

/* struct sysinfo as an i386 caller lays it out (the kernel's struct compat_sysinfo). */
struct ic_sysinfo32 {
	int32_t uptime;
	uint32_t loads[3];
	uint32_t totalram, freeram, sharedram, bufferram, totalswap, freeswap;
	uint16_t procs, pad;
	uint32_t totalhigh, freehigh;
	uint32_t mem_unit;
	char _f[8];
};
_Static_assert(sizeof(struct ic_sysinfo32) == 64, "i386 struct sysinfo is 64 bytes");
_Static_assert(sizeof(struct sysinfo) == 112, "x86_64 struct sysinfo is 112 bytes");

static uint64_t sub_floor(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

/* Our values are always in bytes (mem_unit 1), as the 64-bit kernel reports them. */
static void apply_memory(struct sysinfo *si, const struct ic_cgroup_mem *m)
{
	uint64_t host_total = si->totalram, host_swap = si->totalswap;

	/* A limit at or above the host's memory is no limit: keep the host's figures. */
	if (m->limit != UINT64_MAX && m->limit < host_total) {
		uint64_t usage = m->usage < m->limit ? m->usage : m->limit;

		si->totalram = m->limit;
		si->freeram = m->limit - usage;
		si->sharedram = m->shmem < usage ? m->shmem : usage;
		/* The kernel's bufferram is block-device pages only, which no cgroup counts apart;
		 * LXCFS shows Buffers 0 and the page cache under Cached. Reporting the cache here
		 * too makes free(1) subtract it twice and wrap. */
		si->bufferram = 0;
	}
	if (m->swap_limit != UINT64_MAX && m->swap_usage != UINT64_MAX) {
		uint64_t total = m->swap_limit < host_swap ? m->swap_limit : host_swap;

		si->totalswap = total;
		si->freeswap = sub_floor(total, m->swap_usage);
	}
}

/* Per container: the last answer computed, reused for the policy's sysinfo.cache_ms. */
struct sysinfo_state {
	pthread_mutex_t lock;
	uint64_t stamp_ns;
	bool valid;
	struct sysinfo si;
};

static void sysinfo_state_init(void *p)
{
	pthread_mutex_init(&((struct sysinfo_state *)p)->lock, NULL);
}

static void sysinfo_state_fini(void *p)
{
	pthread_mutex_destroy(&((struct sysinfo_state *)p)->lock);
}

const struct ic_sys_state ic_sysinfo_state = {
    .size = sizeof(struct sysinfo_state),
    .init = sysinfo_state_init,
    .fini = sysinfo_state_fini,
};

static int compute(struct ic_container_info *ct, struct sysinfo *si)
{
	struct ic_cgroup_mem m;
	uint64_t pids;

	int r;

	if (sysinfo(si) < 0)
		return -errno;
	if (si->mem_unit != 1)
		return -EOVERFLOW; /* a 64-bit kernel always reports bytes */
	/* No cgroup to read (-ENOENT) means the host's figures; any other failure (out of fds,
	 * say) must not pass host figures off as the container's. */
	r = ic_cgroup_read_mem(&ct->cgroup, &m);
	if (r == 0)
		apply_memory(si, &m);
	else if (r != -ENOENT)
		return r;
	r = ic_cgroup_read_pids(&ct->cgroup, &pids);
	if (r == 0)
		si->procs = pids > 65535 ? 65535 : (unsigned short)pids;
	else if (r != -ENOENT)
		return r;
	return 0;
}

static long container_uptime(const struct ic_container_info *ct, long host_uptime)
{
	long hz = sysconf(_SC_CLK_TCK);
	double age;

	if (hz <= 0 || ct->init_start_ticks == 0)
		return host_uptime;
	age = ic_proc_boottime() - (double)ct->init_start_ticks / (double)hz;
	if (age <= 0)
		return 0;
	/* As do_sysinfo: a second begun counts, so a fresh container reads 1, not 0. */
	return (long)age + (age > (double)(long)age);
}

size_t ic_sysinfo_layout(const struct sysinfo *si, enum ic_abi abi, void *buf, size_t buflen)
{
	struct ic_sysinfo32 s32 = {0};
	uint64_t v[8] = {si->totalram,	si->freeram,  si->sharedram, si->bufferram,
			 si->totalswap, si->freeswap, si->totalhigh, si->freehigh};
	unsigned shift = 0;
	uint32_t unit = si->mem_unit;

	if (abi == IC_ABI_NATIVE) {
		if (buflen < sizeof(*si))
			return 0;
		memcpy(buf, si, sizeof(*si));
		return sizeof(*si);
	}
	if (buflen < sizeof(s32))
		return 0;
	/* As the kernel's do_compat_sysinfo: scale units up to a page when a value needs it. */
	if ((v[0] >> 32) || (v[4] >> 32)) {
		while (unit < 4096) {
			unit <<= 1;
			shift++;
		}
	}
	s32.uptime = (int32_t)si->uptime;
	for (int i = 0; i < 3; i++)
		s32.loads[i] = (uint32_t)si->loads[i];
	s32.totalram = (uint32_t)(v[0] >> shift);
	s32.freeram = (uint32_t)(v[1] >> shift);
	s32.sharedram = (uint32_t)(v[2] >> shift);
	s32.bufferram = (uint32_t)(v[3] >> shift);
	s32.totalswap = (uint32_t)(v[4] >> shift);
	s32.freeswap = (uint32_t)(v[5] >> shift);
	s32.procs = si->procs;
	s32.totalhigh = (uint32_t)(v[6] >> shift);
	s32.freehigh = (uint32_t)(v[7] >> shift);
	s32.mem_unit = unit;
	memcpy(buf, &s32, sizeof(s32));
	return sizeof(s32);
}

/* Worker threads. The answer is cached per container for the policy's sysinfo.cache_ms;
 * uptime is computed fresh. */
IC_HANDLER(ic_handle_sysinfo)
{
	struct ic_container_info *ct = req->ct;
	struct sysinfo_state *cache = req->state;
	uint64_t now = ic_now_ns(), ttl = (uint64_t)req->policy->sysinfo_cache_ms * 1000000ULL;
	struct sysinfo si;
	unsigned char out[sizeof(struct sysinfo)];
	size_t len;
	int r;

	pthread_mutex_lock(&cache->lock);
	if (cache->valid && now - cache->stamp_ns < ttl) {
		si = cache->si;
	} else {
		r = compute(ct, &si);
		if (r < 0) {
			pthread_mutex_unlock(&cache->lock);
			log_warn_errno(r, "sysinfo for container %s failed: %m", ct->id);
			return IC_VERDICT_FAILED;
		}
		cache->si = si;
		cache->stamp_ns = now;
		cache->valid = true;
	}
	pthread_mutex_unlock(&cache->lock);

	si.uptime = container_uptime(ct, si.uptime);
	len = ic_sysinfo_layout(&si, req->abi, out, sizeof(out));

	/* Writing into the target is our side effect: never into a recycled pid, never late. */
	r = req->still_valid(req);
	if (r < 0)
		return ic_verdict_of(r);
	r = ic_mem_write((pid_t)req->notif->pid, req->notif->data.args[0], out, len);
	if (r == -EFAULT) {
		resp->error = EFAULT;
		return IC_VERDICT_RESPOND;
	}
	if (r < 0) {
		if (req->still_valid(req) == -ENOENT)
			return IC_VERDICT_GONE;
		log_warn_errno(r, "sysinfo: cannot write to pid %u: %m", req->notif->pid);
		return IC_VERDICT_FAILED;
	}
	return IC_VERDICT_RESPOND;
}
