/* nbd-crypt: an encrypting block server, the userspace counterpart of dm-crypt, as an nbdkit
 * plugin whose memory comes from reservoir.
 *
 * The disk lives in a file, encrypted sector by sector with AES-256-XTS and the sector number
 * as the tweak (dm-crypt's default, "aes-xts-plain64", 512-byte sectors). A server that may
 * be swapped to, or written back through, must keep serving while the machine is short of
 * memory, so nothing on its I/O path asks malloc: each request takes its descriptor from one
 * mempool and, a page at a time, its bounce buffers from another, in a small arena locked in
 * memory. It holds at most one element of each pool at once and takes them in one order
 * (descriptor, then buffer), so a pool that runs dry makes requests wait for each other's
 * elements, never deadlock; and the worker threads run as I/O flushers (PR_SET_IO_FLUSHER, and
 * reservoir's PF_MEMALLOC_NOIO | PF_LOCAL_THROTTLE), so their allocations never wait on
 * I/O, which may be this server's own.
 *
 *   nbdkit ./nbdkit-rsvcrypt-plugin.so file=DISK [size=SIZE] [arena=4M] [pool=16]
 *          [alloc=reservoir|malloc] [key=HEX] [stats=FILE]
 *
 * size= creates (or resizes) the file; key= is 128 hex digits (two AES-256 keys), random
 * otherwise; alloc=malloc takes the same buffers from malloc, for comparison; stats= gets the
 * statistics when the server stops (SIGTERM), after reservoir's books were checked. */
#define NBDKIT_API_VERSION 2
#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <nbdkit-plugin.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <reservoir.h>

#define SECTOR 512
#define CHUNK RSV_PAGE_SIZE /* one bounce page: 8 sectors */
#define KEY_BYTES 64        /* AES-256-XTS: two 256-bit keys */

static struct {
	char *file;
	int64_t size; /* -1: the file's own */
	int64_t arena;
	int pool;
	bool use_malloc;
	char *stats;
	unsigned char key[KEY_BYTES];
	bool have_key;
} cfg = { .size = -1, .arena = 4 << 20, .pool = 16 };

static struct {
	int fd;
	int64_t size;
	struct rsv_system *sys;
	struct rsv_mempool *reqs, *bufs;
	pthread_key_t thread_key; /* struct worker, each thread's */
	_Atomic uint64_t reads, writes, bytes, failed;
	_Atomic int flusher_kernel; /* the kernel's answer to PR_SET_IO_FLUSHER: 0 or -errno */
	_Atomic unsigned workers;
} srv = { .fd = -1, .flusher_kernel = 1 };

/* A request's descriptor: what a dm-crypt io (struct dm_crypt_io) carries. */
struct request {
	uint64_t offset;
	uint32_t count;
	bool write;
};

/* ---- configuration ---- */

static int hexval(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
				      : -1;
}

static int crypt_config(const char *key, const char *value)
{
	if (!strcmp(key, "file")) {
		free(cfg.file);
		/* Absolute, since nbdkit changes directory; one that size= will create as given. */
		cfg.file = access(value, F_OK) ? strdup(value) : nbdkit_realpath(value);
		if (!cfg.file)
			return -1;
	} else if (!strcmp(key, "size")) {
		if ((cfg.size = nbdkit_parse_size(value)) < 0)
			return -1;
		if (cfg.size % SECTOR) {
			nbdkit_error("size=%s is not a multiple of %d", value, SECTOR);
			return -1;
		}
	} else if (!strcmp(key, "arena")) {
		if ((cfg.arena = nbdkit_parse_size(value)) < 0)
			return -1;
		if (cfg.arena < (int64_t)(RSV_MIN_ARENA_PAGES * RSV_PAGE_SIZE)) {
			nbdkit_error("arena=%s is below reservoir's minimum of %lu pages", value,
				     RSV_MIN_ARENA_PAGES);
			return -1;
		}
	} else if (!strcmp(key, "pool")) {
		if (nbdkit_parse_int("pool", value, &cfg.pool) == -1)
			return -1;
		if (cfg.pool < 1 || cfg.pool > 4096) {
			nbdkit_error("pool=%s is not in 1..4096", value);
			return -1;
		}
	} else if (!strcmp(key, "alloc")) {
		if (strcmp(value, "reservoir") && strcmp(value, "malloc")) {
			nbdkit_error("alloc=%s: valid are reservoir, malloc", value);
			return -1;
		}
		cfg.use_malloc = !strcmp(value, "malloc");
	} else if (!strcmp(key, "stats")) {
		free(cfg.stats);
		if (!(cfg.stats = strdup(value)))
			return -1;
	} else if (!strcmp(key, "key")) {
		if (strlen(value) != 2 * KEY_BYTES) {
			nbdkit_error("key= wants %d hex digits, got %zu", 2 * KEY_BYTES,
				     strlen(value));
			return -1;
		}
		for (int i = 0; i < KEY_BYTES; i++) {
			int hi = hexval(value[2 * i]), lo = hexval(value[2 * i + 1]);

			if (hi < 0 || lo < 0) {
				nbdkit_error("key=: '%c%c' is not hex", value[2 * i],
					     value[2 * i + 1]);
				return -1;
			}
			cfg.key[i] = (unsigned char)(hi << 4 | lo);
		}
		cfg.have_key = true;
	} else {
		nbdkit_error("unknown parameter '%s'", key);
		return -1;
	}
	return 0;
}

static int crypt_config_complete(void)
{
	if (!cfg.file) {
		nbdkit_error("file= is required");
		return -1;
	}
	if (!cfg.have_key && RAND_bytes(cfg.key, KEY_BYTES) != 1) {
		nbdkit_error("no random key from OpenSSL");
		return -1;
	}
	/* XTS refuses a key whose two halves are equal. */
	if (!memcmp(cfg.key, cfg.key + KEY_BYTES / 2, KEY_BYTES / 2)) {
		nbdkit_error("key=: its two halves must differ (XTS)");
		return -1;
	}
	return 0;
}

static int crypt_get_ready(void)
{
	struct stat st;

	srv.fd = open(cfg.file, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (srv.fd < 0) {
		nbdkit_error("open %s: %m", cfg.file);
		return -1;
	}
	if (cfg.size >= 0 && ftruncate(srv.fd, cfg.size)) {
		nbdkit_error("ftruncate %s: %m", cfg.file);
		return -1;
	}
	if (fstat(srv.fd, &st)) {
		nbdkit_error("fstat %s: %m", cfg.file);
		return -1;
	}
	srv.size = st.st_size - st.st_size % SECTOR;
	return 0;
}

/* ---- reservoir: one system, two pools, each worker thread a task ---- */

/* What each nbdkit worker thread keeps: its cipher contexts (OpenSSL's are not shared across
 * threads), made at its first request, and whether it is a task of the system. */
struct worker {
	EVP_CIPHER_CTX *ctx[2]; /* [0] decrypts, [1] encrypts */
	bool attached;
};

static void worker_exit(void *arg)
{
	struct worker *w = arg;

	if (w->attached)
		rsv_task_detach();
	EVP_CIPHER_CTX_free(w->ctx[0]);
	EVP_CIPHER_CTX_free(w->ctx[1]);
	free(w);
}

/* Threads are made after nbdkit forks into the background, so reservoir's are made here. */
static int crypt_after_fork(void)
{
	/* The arena locked (or no server: the limit is named), kswapd woken early when the
	 * machine reports memory pressure, every adopted worker an I/O flusher. */
	struct rsv_system_config sc = { .backend = RSV_BACKEND_OS,
					.nr_pages = (unsigned long)(cfg.arena / RSV_PAGE_SIZE),
					.mlock = true,
					.psi = true,
					.attach_flags = RSV_PF_IO_FLUSHER };

	if (pthread_key_create(&srv.thread_key, worker_exit)) {
		nbdkit_error("pthread_key_create failed");
		return -1;
	}
	if (cfg.use_malloc)
		return 0;
	if (!(srv.sys = rsv_system_create(&sc))) {
		nbdkit_error("reservoir: %s", rsv_system_create_error());
		return -1;
	}
	rsv_task_attach(srv.sys, "nbd-crypt setup");
	srv.reqs = rsv_mempool_create_kmalloc_pool(srv.sys, cfg.pool, sizeof(struct request));
	srv.bufs = rsv_mempool_create_page_pool(srv.sys, cfg.pool, 0);
	rsv_task_detach();
	if (!srv.reqs || !srv.bufs) {
		nbdkit_error("reservoir: pools of %d elements do not fit an arena of %" PRId64
			     " bytes",
			     cfg.pool, cfg.arena);
		return -1;
	}
	rsv_mempool_set_name(srv.reqs, "crypt requests");
	rsv_mempool_set_name(srv.bufs, "bounce pages");
	return 0;
}

/* The calling nbdkit worker's state; at its first request it becomes a task of the system,
 * an I/O flusher, and makes its cipher contexts (the one time the I/O path calls malloc, in
 * OpenSSL and here, once per thread). NULL if that failed. */
static struct worker *worker(void)
{
	struct worker *w = pthread_getspecific(srv.thread_key);
	int kerr;

	if (w)
		return w;
	if (!(w = calloc(1, sizeof(*w))))
		return NULL;
	for (int enc = 0; enc < 2; enc++)
		if (!(w->ctx[enc] = EVP_CIPHER_CTX_new()) ||
		    EVP_CipherInit_ex(w->ctx[enc], EVP_aes_256_xts(), NULL, cfg.key, NULL, enc) !=
			    1) {
			worker_exit(w);
			return NULL;
		}
	if (!cfg.use_malloc) {
		if (!rsv_task_attach(srv.sys, "nbd worker")) {
			worker_exit(w);
			return NULL;
		}
		w->attached = true;
		/* attach_flags made it an I/O flusher; ask again for the kernel's answer. And
		 * should anything clear the flag, its next allocation that may wait on I/O is
		 * named (rsv_task_serve_io()). */
		rsv_task_set_io_flusher(true, &kerr);
		atomic_store(&srv.flusher_kernel, kerr);
		rsv_task_serve_io("nbd-crypt");
	}
	pthread_setspecific(srv.thread_key, w);
	atomic_fetch_add(&srv.workers, 1);
	return w;
}

static struct request *request_get(void)
{
	return cfg.use_malloc ? malloc(sizeof(struct request))
			      : rsv_mempool_alloc(srv.reqs, RSV_GFP_NOIO);
}

static void request_put(struct request *r)
{
	if (cfg.use_malloc)
		free(r);
	else
		rsv_mempool_free(r, srv.reqs);
}

/* A bounce page: its address in *@mem. Never NULL from the pool (a blocking allocation waits
 * for an element instead); NULL from malloc only. */
static void *bounce_get(void **mem)
{
	struct rsv_page *p;

	if (cfg.use_malloc)
		return *mem = aligned_alloc(CHUNK, CHUNK);
	p = rsv_mempool_alloc(srv.bufs, RSV_GFP_NOIO);
	*mem = p ? rsv_page_address(p) : NULL;
	return p;
}

static void bounce_put(void *handle)
{
	if (cfg.use_malloc)
		free(handle);
	else
		rsv_mempool_free(handle, srv.bufs);
}

/* ---- the I/O path ---- */

static int crypt_sectors(struct worker *w, bool enc, unsigned char *out, const unsigned char *in,
			 size_t len, uint64_t sector)
{
	EVP_CIPHER_CTX *ctx = w->ctx[enc];
	int n;

	for (size_t done = 0; done < len; done += SECTOR, sector++) {
		unsigned char iv[16] = { 0 };

		/* plain64: the sector number, little-endian, in the tweak's first 8 bytes. */
		for (int b = 0; b < 8; b++)
			iv[b] = (unsigned char)(sector >> (8 * b));
		if (EVP_CipherInit_ex(ctx, NULL, NULL, NULL, iv, enc) != 1 ||
		    EVP_CipherUpdate(ctx, out + done, &n, in + done, SECTOR) != 1 || n != SECTOR)
			return -1;
	}
	return 0;
}

static int full_io(bool write, void *buf, size_t len, off_t off)
{
	while (len) {
		ssize_t n = write ? pwrite(srv.fd, buf, len, off) : pread(srv.fd, buf, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (!n)
				memset(buf, 0, len); /* past the end of a sparse file: zeros */
			return n < 0 ? -1 : 0;
		}
		buf = (char *)buf + n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

static int do_request(bool write, void *client, uint32_t count, uint64_t offset)
{
	struct worker *w;
	struct request *r;
	int err = 0;

	if ((offset | count) % SECTOR) {
		nbdkit_error("%s of %" PRIu32 " bytes at %" PRIu64 " is not sector-aligned",
			     write ? "write" : "read", count, offset);
		errno = EINVAL;
		return -1;
	}
	if (!(w = worker()) || !(r = request_get())) {
		atomic_fetch_add(&srv.failed, 1);
		errno = ENOMEM;
		return -1;
	}
	*r = (struct request){ .offset = offset, .count = count, .write = write };
	for (uint32_t done = 0; done < r->count && !err; done += CHUNK) {
		size_t len = r->count - done < CHUNK ? r->count - done : CHUNK;
		uint64_t off = r->offset + done;
		unsigned char *c = (unsigned char *)client + done;
		void *mem, *page = bounce_get(&mem);

		if (!page) {
			atomic_fetch_add(&srv.failed, 1);
			errno = ENOMEM;
			err = -1;
			break;
		}
		if (r->write)
			err = crypt_sectors(w, true, mem, c, len, off / SECTOR) ||
			      full_io(true, mem, len, (off_t)off);
		else
			err = full_io(false, mem, len, (off_t)off) ||
			      crypt_sectors(w, false, c, mem, len, off / SECTOR);
		bounce_put(page);
		if (err) {
			nbdkit_error("%s at %" PRIu64 ": %m", write ? "write" : "read", off);
			err = -1;
		}
	}
	atomic_fetch_add(r->write ? &srv.writes : &srv.reads, 1);
	atomic_fetch_add(&srv.bytes, r->count);
	request_put(r);
	return err;
}

static void *crypt_open(int readonly)
{
	(void)readonly;
	return &srv; /* one disk for every connection */
}

static int64_t crypt_get_size(void *handle)
{
	(void)handle;
	return srv.size;
}

static int crypt_block_size(void *handle, uint32_t *minimum, uint32_t *preferred, uint32_t *maximum)
{
	(void)handle;
	*minimum = SECTOR;
	*preferred = CHUNK;
	*maximum = 0xffffffff;
	return 0;
}

static int crypt_pread(void *handle, void *buf, uint32_t count, uint64_t offset, uint32_t flags)
{
	(void)handle, (void)flags;
	return do_request(false, buf, count, offset);
}

static int crypt_pwrite(void *handle, const void *buf, uint32_t count, uint64_t offset,
			uint32_t flags)
{
	(void)handle, (void)flags;
	return do_request(true, (void *)buf, count, offset);
}

static int crypt_flush(void *handle, uint32_t flags)
{
	(void)handle, (void)flags;
	if (fdatasync(srv.fd)) {
		nbdkit_error("fdatasync: %m");
		return -1;
	}
	return 0;
}

/* ---- the end: books checked, statistics written ---- */

static void write_stats(const struct rsv_mempool_stats *rq, const struct rsv_mempool_stats *bf,
			uint64_t misuse, const char *psi, int check, const char *why)
{
	FILE *f;

	if (!cfg.stats || !(f = fopen(cfg.stats, "w")))
		return;
	fprintf(f, "alloc %s\n", cfg.use_malloc ? "malloc" : "reservoir");
	fprintf(f, "reads %" PRIu64 "\nwrites %" PRIu64 "\nbytes %" PRIu64 "\n",
		atomic_load(&srv.reads), atomic_load(&srv.writes), atomic_load(&srv.bytes));
	fprintf(f, "failed_allocations %" PRIu64 "\n", atomic_load(&srv.failed));
	fprintf(f, "workers %u\n", atomic_load(&srv.workers));
	if (!cfg.use_malloc) {
		fprintf(f, "arena_pages %" PRId64 "\nmlocked %d\npool %d\n", cfg.arena / 4096,
			srv.sys ? rsv_system_mlocked(srv.sys) : 0, cfg.pool);
		fprintf(f, "io_flusher_kernel %s\n",
			atomic_load(&srv.flusher_kernel) > 0 ? "not asked"
			: atomic_load(&srv.flusher_kernel) == 0
				? "accepted"
				: strerror(-atomic_load(&srv.flusher_kernel)));
		fprintf(f,
			"requests_from_backing %" PRIu64 "\nrequests_from_pool %" PRIu64
			"\nrequests_waits %" PRIu64 "\n",
			rq->from_backing, rq->from_pool, rq->waits);
		fprintf(f,
			"bounce_from_backing %" PRIu64 "\nbounce_from_pool %" PRIu64
			"\nbounce_waits %" PRIu64 "\nbounce_wait_ms %" PRIu64 "\n",
			bf->from_backing, bf->from_pool, bf->waits, bf->wait_ns / 1000000);
		fprintf(f, "misuse %" PRIu64 "\n", misuse);
		fprintf(f, "psi %s\n", psi);
		fprintf(f, "check %s\n", check ? why : "ok");
	}
	fclose(f);
}

static void crypt_cleanup(void)
{
	struct rsv_mempool_stats rq = { 0 }, bf = { 0 };
	uint64_t misuse = 0;
	const char *psi = "not asked";
	int check = 0;
	char why[256] = "";

	if (srv.sys) {
		misuse = rsv_stats_get(srv.sys, RSV_STAT_MISUSE);
		rsv_system_psi(srv.sys, NULL, &psi);
		rsv_task_attach(srv.sys, "nbd-crypt teardown");
		rsv_mempool_stats(srv.reqs, &rq);
		rsv_mempool_stats(srv.bufs, &bf);
		rsv_mempool_destroy(srv.reqs);
		rsv_mempool_destroy(srv.bufs);
		rsv_task_detach();
		if ((check = rsv_system_check(srv.sys, 0)))
			snprintf(why, sizeof(why), "%s", rsv_system_error(srv.sys));
		srv.reqs = srv.bufs = NULL;
	}
	write_stats(&rq, &bf, misuse, psi, check, why);
	if (srv.sys)
		rsv_system_destroy(srv.sys);
	srv.sys = NULL;
	if (srv.fd >= 0)
		close(srv.fd);
	srv.fd = -1;
}

static void crypt_unload(void)
{
	free(cfg.file);
	free(cfg.stats);
	OPENSSL_cleanse(cfg.key, sizeof(cfg.key));
}

static struct nbdkit_plugin plugin = {
	.name = "rsvcrypt",
	.longname = "reservoir's encrypting block server (AES-256-XTS, plain64)",
	.version = RSV_VERSION,
	.description = "a disk in a file, encrypted as dm-crypt's aes-xts-plain64, its I/O "
		       "path's memory from reservoir mempools",
	.config = crypt_config,
	.config_complete = crypt_config_complete,
	.config_help = "file=DISK [size=SIZE] [arena=4M] [pool=16] [alloc=reservoir|malloc] "
		       "[key=HEX] [stats=FILE]",
	.get_ready = crypt_get_ready,
	.after_fork = crypt_after_fork,
	.cleanup = crypt_cleanup,
	.unload = crypt_unload,
	.open = crypt_open,
	.get_size = crypt_get_size,
	.block_size = crypt_block_size,
	.pread = crypt_pread,
	.pwrite = crypt_pwrite,
	.flush = crypt_flush,
	.errno_is_preserved = 1,
};

NBDKIT_REGISTER_PLUGIN(plugin)
