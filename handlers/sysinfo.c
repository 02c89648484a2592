/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* One reading of a memory and pids cgroup pair, shared by every container whose cgroups these
 * are, and reused for each request's sysinfo.cache_ms (doc/design.md §12): the figures belong to
 * the cgroup, not to who asks, and many busy containers in one cgroup would otherwise each read
 * the same files. Keyed by the directories' inodes, not their paths, so that a cgroup removed
 * and made again under the same name never gets the reading of the old one. */
struct reading_key {
	dev_t mdev, pdev;
	ino_t mino, pino;
};

struct reading {
	struct reading *hnext; /* in its bucket, under readings.lock */
	struct reading_key key;
	unsigned refs; /* under readings.lock: the containers that use it */
	bool hashed;   /* false: private to one container (its cgroup could not be named) */
	pthread_mutex_t lock;
	/* Under lock. */
	bool valid;
	uint64_t stamp_ns;
	struct sysinfo si;
	struct ic_cgroup_files files; /* kept open from one reading to the next */
};

#define READING_BUCKETS 1024

/* Taken when a container asks for the first time and when it is freed, never per request. */
static struct {
	pthread_mutex_t lock;
	unsigned long n; /* readings alive, hashed or private */
	struct reading *buckets[READING_BUCKETS];
} readings = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Per container: which reading it uses, set at its first sysinfo. */
struct sysinfo_state {
	struct reading *r; /* atomic: NULL, then set once */
};

static unsigned reading_bucket(const struct reading_key *k)
{
	uint64_t h = (uint64_t)k->mino * 0x9e3779b97f4a7c15ULL ^ (uint64_t)k->pino * 31 ^
		     (uint64_t)k->mdev ^ (uint64_t)k->pdev << 7;

	return (unsigned)((h ^ h >> 29) % READING_BUCKETS);
}

/* The identity of a cgroup directory; false when it is named but cannot be looked at. */
static bool dir_id(const char *dir, dev_t *dev, ino_t *ino)
{
	struct stat st;

	*dev = 0;
	*ino = 0;
	if (!dir)
		return true;
	if (stat(dir, &st) < 0)
		return false;
	*dev = st.st_dev;
	*ino = st.st_ino;
	return true;
}

/* Any thread: a reference to the reading of ct's cgroups, NULL when out of memory. */
static struct reading *reading_get(const struct ic_container_info *ct)
{
	struct reading_key k;
	struct reading *r;
	bool shared = dir_id(ct->cgroup.memory, &k.mdev, &k.mino) &&
		      dir_id(ct->cgroup.pids, &k.pdev, &k.pino);
	unsigned b = reading_bucket(&k);

	pthread_mutex_lock(&readings.lock);
	for (r = shared ? readings.buckets[b] : NULL; r; r = r->hnext)
		if (!memcmp(&r->key, &k, sizeof(k))) {
			r->refs++;
			pthread_mutex_unlock(&readings.lock);
			return r;
		}
	r = calloc(1, sizeof(*r));
	if (r) {
		pthread_mutex_init(&r->lock, NULL);
		ic_cgroup_files_init(&r->files);
		r->key = k;
		r->refs = 1;
		r->hashed = shared;
		if (shared) {
			r->hnext = readings.buckets[b];
			readings.buckets[b] = r;
		}
		readings.n++;
	}
	pthread_mutex_unlock(&readings.lock);
	return r;
}

static void reading_put(struct reading *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&readings.lock);
	if (--r->refs > 0) {
		pthread_mutex_unlock(&readings.lock);
		return;
	}
	if (r->hashed) {
		struct reading **pp = &readings.buckets[reading_bucket(&r->key)];

		while (*pp != r)
			pp = &(*pp)->hnext;
		*pp = r->hnext;
	}
	readings.n--;
	pthread_mutex_unlock(&readings.lock);
	ic_cgroup_files_close(&r->files);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

unsigned long ic_sysinfo_readings(void)
{
	unsigned long n;

	pthread_mutex_lock(&readings.lock);
	n = readings.n;
	pthread_mutex_unlock(&readings.lock);
	return n;
}

/* The container's reading, attached at its first call; NULL when out of memory. */
static struct reading *state_reading(struct sysinfo_state *st, const struct ic_container_info *ct)
{
	struct reading *r = __atomic_load_n(&st->r, __ATOMIC_ACQUIRE), *mine;

	if (r)
		return r;
	mine = reading_get(ct);
	if (!mine)
		return NULL;
	/* Two first calls at once: one reading wins, the other reference goes back. */
	if (__atomic_compare_exchange_n(&st->r, &r, mine, false, __ATOMIC_ACQ_REL,
					__ATOMIC_ACQUIRE))
		return mine;
	reading_put(mine);
	return r;
}

/* The registry's thread that frees the container: nothing of it runs any more. */
static void sysinfo_state_fini(void *p)
{
	struct sysinfo_state *st = p;

	reading_put(st->r);
	st->r = NULL;
}

const struct ic_sys_state ic_sysinfo_state = {
    .size = sizeof(struct sysinfo_state),
    .fini = sysinfo_state_fini,
};

/* Under the reading's lock, whose files it reads through. */
static int compute(struct ic_container_info *ct, struct ic_cgroup_files *files, struct sysinfo *si)
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
	r = ic_cgroup_read_mem(&ct->cgroup, files, &m);
	if (r == 0)
		apply_memory(si, &m);
	else if (r != -ENOENT)
		return r;
	r = ic_cgroup_read_pids(&ct->cgroup, files, &pids);
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

/* Worker threads. The answer is the shared reading of the container's cgroups while it is
 * younger than the policy's sysinfo.cache_ms; uptime is computed fresh. */
IC_HANDLER(ic_handle_sysinfo)
{
	struct ic_container_info *ct = req->ct;
	struct reading *cache = state_reading(req->state, ct);
	uint64_t now, ttl = (uint64_t)req->policy->sysinfo_cache_ms * 1000000ULL;
	struct sysinfo si;
	unsigned char out[sizeof(struct sysinfo)];
	size_t len;
	int r;

	if (!cache) {
		log_warn("sysinfo for container %s: out of memory", ct->id);
		return IC_VERDICT_FAILED;
	}
	/* Held while computing, so that the requests arriving meanwhile take this reading rather
	 * than each read the files again. */
	pthread_mutex_lock(&cache->lock);
	now = ic_now_ns();
	if (cache->valid && now - cache->stamp_ns < ttl) {
		si = cache->si;
	} else {
		r = compute(ct, &cache->files, &si);
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
