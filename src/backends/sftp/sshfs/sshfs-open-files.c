/*
 * Preloaded into sshfs only (LD_PRELOAD, with sshfs-clock.c): open files that survive two
 * things sshfs 3.7.3 does not survive.
 *
 * A rename of the file's directory. sshfs with max_conns > 1 files each open file in a
 * table keyed by the path it was opened under, so that requests on it use one connection.
 * Its rename moves the entry of the renamed path only; a file inside a renamed directory
 * keeps its entry under the old path, while FUSE hands release() the new one. release()
 * then finds no entry and follows a NULL pointer: sshfs dies and every volume of that
 * server with it. (Fixed upstream in 3.7.6; Debian 12 and 13 ship 3.7.3.)
 *
 * A reconnect. When a connection drops, sshfs marks every file opened on it as stale and
 * from then on answers EIO to every operation on it, also after it has reconnected: a log
 * held open in a container stays broken until the container restarts.
 *
 * How: libfuse's public API. sshfs hands its operation table to fuse_new(); this library
 * wraps the operations on open files. FUSE holds a handle of ours, which holds sshfs's.
 * Ours knows the path sshfs keeps the table entry under (moved exactly as sshfs moves it),
 * and the file's current path (which follows renames of the file and of every directory
 * above it; FUSE hiding an unlinked open file is a rename too). When sshfs answers EIO on a
 * file, the file is opened again at its current path, with its flags minus O_CREAT, O_TRUNC
 * and O_EXCL; if that works, sshfs's handle is swapped and the operation repeated once.
 *
 * Never silently: sshfs queues writes and reports their errors at the next flush, and a
 * stale handle's queue is gone with it. So writes acknowledged but not yet confirmed by a
 * flush or fsync when the handle went stale count as lost, and the next write, flush or
 * fsync answers EIO once (close calls flush), as a local file system reports a failed
 * writeback. Repeating an operation is safe otherwise: sshfs answers EIO on a stale handle
 * without sending anything, a read can be read again, and a write that sshfs would have
 * sent and waited for (it does so only after an earlier write failed) is never repeated,
 * because that earlier write is one of the lost ones.
 */
#define _GNU_SOURCE
#define FUSE_USE_VERSION 31
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct open_file {
	/* sshfs's handle; swapped by a reopen, which holds handle_lock for writing */
	uint64_t sshfs_fh;
	pthread_rwlock_t handle_lock;
	int flags;               /* as opened, for the reopen */
	/* the rest is under files_lock */
	char *entry_path;        /* where sshfs keeps its table entry for sshfs_fh */
	char *reopening_path;    /* the entry of a reopen under way, moved by renames meanwhile */
	char *current_path;      /* where the file is now */
	uint64_t acknowledged;   /* writes sshfs said yes to */
	uint64_t confirmed;      /* of those, how many a flush or fsync confirmed or failed */
	bool lost;               /* writes went with a stale handle and no one was told yet */
	struct open_file *prev, *next;
};

/* PLAIN operations may be repeated and tell nothing; a WRITE is counted; both others tell lost writes. */
enum operation_kind { PLAIN, WRITE, FLUSH };

static struct fuse_operations inner;
static pthread_mutex_t files_lock = PTHREAD_MUTEX_INITIALIZER;
static struct open_file *files; /* every open file, for renames */

static struct open_file *of_fi(const struct fuse_file_info *fi)
{
	return (struct open_file *)(uintptr_t)fi->fh;
}

/* Takes fi->fh (sshfs's, just opened) into a handle of ours; ENOMEM closes sshfs's again. */
static int adopt(const char *path, struct fuse_file_info *fi)
{
	struct open_file *of = calloc(1, sizeof(*of));
	char *entry = strdup(path), *current = strdup(path);

	if (of == NULL || entry == NULL || current == NULL) {
		free(of);
		free(entry);
		free(current);
		inner.release(path, fi);
		return -ENOMEM;
	}
	of->sshfs_fh = fi->fh;
	of->flags = fi->flags;
	of->entry_path = entry;
	of->current_path = current;
	pthread_rwlock_init(&of->handle_lock, NULL);
	pthread_mutex_lock(&files_lock);
	of->next = files;
	if (files != NULL)
		files->prev = of;
	files = of;
	pthread_mutex_unlock(&files_lock);
	fi->fh = (uint64_t)(uintptr_t)of;
	return 0;
}

static int open_file(const char *path, struct fuse_file_info *fi)
{
	int err = inner.open(path, fi);

	return err != 0 ? err : adopt(path, fi);
}

static int create_file(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	int err = inner.create(path, mode, fi);

	return err != 0 ? err : adopt(path, fi);
}

/* `path` with the prefix `from` replaced by `to`, when path is `from` or below it. */
static void follow_rename(char **path, const char *from, const char *to, bool below_too)
{
	size_t n = strlen(from);
	char *moved;

	if (*path == NULL || strncmp(*path, from, n) != 0)
		return;
	if ((*path)[n] != '\0' && !(below_too && (*path)[n] == '/'))
		return;
	moved = malloc(strlen(to) + strlen(*path + n) + 1);
	if (moved == NULL)
		return;
	strcpy(moved, to);
	strcat(moved, *path + n);
	free(*path);
	*path = moved;
}

/* sshfs moves the table entry of exactly `from` to `to`; a file's own path follows any rename above it. */
static int rename_path(const char *from, const char *to, unsigned int flags)
{
	int err = inner.rename(from, to, flags);

	if (err != 0)
		return err;
	pthread_mutex_lock(&files_lock);
	for (struct open_file *of = files; of != NULL; of = of->next) {
		follow_rename(&of->entry_path, from, to, false);
		follow_rename(&of->reopening_path, from, to, false);
		follow_rename(&of->current_path, from, to, true);
	}
	pthread_mutex_unlock(&files_lock);
	return 0;
}

/*
 * Opens the file again where it now is and releases sshfs's stale handle. Called with
 * handle_lock held for writing, so no operation uses the old handle meanwhile.
 */
static int reopen(struct open_file *of)
{
	struct fuse_file_info fresh = { .flags = of->flags & ~(O_CREAT | O_TRUNC | O_EXCL) };
	struct fuse_file_info stale = { .flags = of->flags, .fh = of->sshfs_fh };
	char *path, *stale_entry;
	int err;

	pthread_mutex_lock(&files_lock);
	path = strdup(of->current_path);
	of->reopening_path = path == NULL ? NULL : strdup(path);
	pthread_mutex_unlock(&files_lock);
	if (path == NULL || of->reopening_path == NULL) {
		free(path);
		return -ENOMEM;
	}
	err = inner.open(path, &fresh);
	free(path);
	pthread_mutex_lock(&files_lock);
	if (err != 0) {
		free(of->reopening_path);
		of->reopening_path = NULL;
		pthread_mutex_unlock(&files_lock);
		return err;
	}
	stale_entry = of->entry_path;
	of->entry_path = of->reopening_path;
	of->reopening_path = NULL;
	pthread_mutex_unlock(&files_lock);
	inner.release(stale_entry, &stale); /* stale: sshfs only drops its table entry */
	free(stale_entry);
	of->sshfs_fh = fresh.fh;
	return 0;
}

/*
 * After sshfs answered EIO on `failed_fh`: whether to repeat the operation. The file is
 * reopened unless another thread did it meanwhile; while the server is still away the EIO
 * stands. The thread that reopens counts the unconfirmed writes as lost before any write
 * can be acknowledged on the new handle; a write or flush tells them.
 */
static bool recover(struct open_file *of, uint64_t failed_fh, enum operation_kind kind)
{
	bool repeat = true;

	pthread_rwlock_wrlock(&of->handle_lock);
	if (of->sshfs_fh == failed_fh) {
		if (reopen(of) != 0) {
			repeat = false;
		} else {
			pthread_mutex_lock(&files_lock);
			if (of->acknowledged != of->confirmed)
				of->lost = true;
			of->confirmed = of->acknowledged;
			pthread_mutex_unlock(&files_lock);
		}
	}
	pthread_rwlock_unlock(&of->handle_lock);
	if (!repeat || kind == PLAIN)
		return repeat;
	pthread_mutex_lock(&files_lock);
	if (of->lost) {
		of->lost = false;
		repeat = false;
	}
	pthread_mutex_unlock(&files_lock);
	return repeat;
}

/*
 * Runs `call`, an sshfs operation on `ifi` (a copy of fi holding sshfs's handle), into
 * `res`, and once more after a successful recover() when it answered EIO. A write is
 * counted while its handle is held, so that a reopen cannot slip between it and the count.
 */
#define ON_SSHFS_HANDLE(fi, kind, res, call)                                           \
	do {                                                                          \
		struct open_file *of_ = of_fi(fi);                                   \
		for (bool first_ = true;; first_ = false) {                           \
			struct fuse_file_info ifi = *(fi);                            \
			pthread_rwlock_rdlock(&of_->handle_lock);                     \
			ifi.fh = of_->sshfs_fh;                                       \
			(res) = (call);                                               \
			if ((kind) == WRITE && (res) >= 0)                            \
				count_acknowledged(of_);                              \
			pthread_rwlock_unlock(&of_->handle_lock);                     \
			if ((res) != -EIO || !first_ || !recover(of_, ifi.fh, kind)) \
				break;                                               \
		}                                                                     \
	} while (0)

static void count_acknowledged(struct open_file *of)
{
	pthread_mutex_lock(&files_lock);
	of->acknowledged++;
	pthread_mutex_unlock(&files_lock);
}

static int read_file(const char *path, char *buf, size_t size, off_t offset, struct fuse_file_info *fi)
{
	int res;

	ON_SSHFS_HANDLE(fi, PLAIN, res, inner.read(path, buf, size, offset, &ifi));
	return res;
}

static int write_file(const char *path, const char *buf, size_t size, off_t offset, struct fuse_file_info *fi)
{
	int res;

	ON_SSHFS_HANDLE(fi, WRITE, res, inner.write(path, buf, size, offset, &ifi));
	return res;
}

/* A flush or fsync confirms, or with its error reports, every write acknowledged before it. */
static uint64_t flush_begins(struct open_file *of)
{
	uint64_t acknowledged;

	pthread_mutex_lock(&files_lock);
	acknowledged = of->acknowledged;
	pthread_mutex_unlock(&files_lock);
	return acknowledged;
}

static int flush_ends(struct open_file *of, uint64_t acknowledged, int res)
{
	pthread_mutex_lock(&files_lock);
	if (of->confirmed < acknowledged)
		of->confirmed = acknowledged;
	if (of->lost && res == 0)
		res = -EIO;
	of->lost = false;
	pthread_mutex_unlock(&files_lock);
	return res;
}

static int flush_file(const char *path, struct fuse_file_info *fi)
{
	uint64_t acknowledged = flush_begins(of_fi(fi));
	int res;

	ON_SSHFS_HANDLE(fi, FLUSH, res, inner.flush(path, &ifi));
	return flush_ends(of_fi(fi), acknowledged, res);
}

static int fsync_file(const char *path, int datasync, struct fuse_file_info *fi)
{
	uint64_t acknowledged = flush_begins(of_fi(fi));
	int res;

	ON_SSHFS_HANDLE(fi, FLUSH, res, inner.fsync(path, datasync, &ifi));
	return flush_ends(of_fi(fi), acknowledged, res);
}

/* FUSE passes fi to these only for an open regular file (fstat, ftruncate and the like). */
static int getattr_file(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	int res;

	if (fi == NULL)
		return inner.getattr(path, st, fi);
	ON_SSHFS_HANDLE(fi, PLAIN, res, inner.getattr(path, st, &ifi));
	return res;
}

static int truncate_file(const char *path, off_t size, struct fuse_file_info *fi)
{
	int res;

	if (fi == NULL)
		return inner.truncate(path, size, fi);
	ON_SSHFS_HANDLE(fi, PLAIN, res, inner.truncate(path, size, &ifi));
	return res;
}

static int chmod_file(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	int res;

	if (fi == NULL)
		return inner.chmod(path, mode, fi);
	ON_SSHFS_HANDLE(fi, PLAIN, res, inner.chmod(path, mode, &ifi));
	return res;
}

static int chown_file(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	int res;

	if (fi == NULL)
		return inner.chown(path, uid, gid, fi);
	ON_SSHFS_HANDLE(fi, PLAIN, res, inner.chown(path, uid, gid, &ifi));
	return res;
}

static int utimens_file(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
	int res;

	if (fi == NULL)
		return inner.utimens(path, tv, fi);
	ON_SSHFS_HANDLE(fi, PLAIN, res, inner.utimens(path, tv, &ifi));
	return res;
}

static int release_file(const char *path, struct fuse_file_info *fi)
{
	struct open_file *of = of_fi(fi);
	struct fuse_file_info ifi = *fi;
	int err;

	pthread_mutex_lock(&files_lock);
	if (of->prev != NULL)
		of->prev->next = of->next;
	else
		files = of->next;
	if (of->next != NULL)
		of->next->prev = of->prev;
	pthread_mutex_unlock(&files_lock);
	ifi.fh = of->sshfs_fh;
	err = inner.release(of->entry_path != NULL ? of->entry_path : path, &ifi);
	pthread_rwlock_destroy(&of->handle_lock);
	free(of->entry_path);
	free(of->current_path);
	free(of);
	return err;
}

/* The table works only if every operation that takes a file handle is wrapped. */
static bool wraps_every_file_operation(void)
{
	return inner.open != NULL && inner.release != NULL && inner.rename != NULL && inner.read != NULL &&
	       inner.write != NULL && inner.flush != NULL && inner.fsync != NULL && inner.getattr != NULL &&
	       inner.truncate != NULL && inner.chmod != NULL && inner.chown != NULL && inner.utimens != NULL &&
	       inner.read_buf == NULL && inner.write_buf == NULL && inner.lock == NULL && inner.flock == NULL &&
	       inner.fallocate == NULL && inner.copy_file_range == NULL && inner.lseek == NULL &&
	       inner.ioctl == NULL && inner.poll == NULL;
}

/*
 * Every connection at mount time. sshfs opens its connections 2..N only when the open ones
 * are busy, each handshake holding its global lock, so the first walk of a new mount
 * stalls on them one after another. sshfs gives a newly opened file the connection with
 * the fewest open files, an unopened one before one holding a file: N files held open at
 * once open all N connections. The files are the mount's root directory under N names
 * ("/", "/.", "/./." ...: sshfs keys its table by name, the server opens the same
 * directory read-only), opened through sshfs's own open, closed at once. A server that
 * refuses to open a directory so leaves the connections to be opened when needed.
 *
 * The mount answers once they are open (FUSE's init waits, at most OPEN_WAIT_SECONDS): a
 * Mount then costs the handshakes, and the first walk does not.
 */
#define OPEN_WAIT_SECONDS 5
static int connections_to_open; /* SSHFS_CONNECTIONS, set by the plugin to max_conns */
static pthread_mutex_t opener_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t opener_done = PTHREAD_COND_INITIALIZER;
static bool all_opened;

static void *open_every_connection(void *unused)
{
	struct fuse_file_info held[16];
	char paths[16][2 * 16 + 2];
	int opened = 0;

	(void)unused;
	for (int i = 0; i < connections_to_open && i < 16; i++) {
		strcpy(paths[i], "/");
		for (int dots = 0; dots < i; dots++)
			strcat(paths[i], dots == 0 ? "." : "/.");
		memset(&held[opened], 0, sizeof(held[opened]));
		held[opened].flags = O_RDONLY;
		if (inner.open(paths[i], &held[opened]) != 0)
			break;
		if (opened != i)
			strcpy(paths[opened], paths[i]);
		opened++;
	}
	while (opened > 0) {
		opened--;
		inner.release(paths[opened], &held[opened]);
	}
	pthread_mutex_lock(&opener_lock);
	all_opened = true;
	pthread_cond_broadcast(&opener_done);
	pthread_mutex_unlock(&opener_lock);
	return NULL;
}

/* Called when the kernel has the mount, connection 1 up; returns once the others are. */
static void *init_filesystem(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	void *private_data = inner.init != NULL ? inner.init(conn, cfg) : NULL;
	struct timespec deadline;
	pthread_t opener;

	if (connections_to_open <= 1 || pthread_create(&opener, NULL, open_every_connection, NULL) != 0)
		return private_data;
	pthread_detach(opener);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += OPEN_WAIT_SECONDS;
	pthread_mutex_lock(&opener_lock);
	while (!all_opened && pthread_cond_timedwait(&opener_done, &opener_lock, &deadline) == 0)
		;
	pthread_mutex_unlock(&opener_lock);
	return private_data;
}

/* With SSHFS_PRELOAD_PROBE set: says it was loaded (sshfs-runtime.ts asks `sshfs -V` at start). */
__attribute__((constructor)) static void read_environment(void)
{
	const char *connections = getenv("SSHFS_CONNECTIONS");

	if (connections != NULL)
		connections_to_open = atoi(connections);
	unsetenv("SSHFS_CONNECTIONS");
	if (getenv("SSHFS_PRELOAD_PROBE") != NULL)
		fputs("sshfs-open-files.so loaded\n", stderr);
}

static struct fuse_operations wrapped;

/*
 * The table to hand libfuse: sshfs's with the operations above put in, or sshfs's own when
 * it lacks one they need (or is a table this library already made: libfuse's compatibility
 * entry points may call one another).
 */
static const struct fuse_operations *table_for(const struct fuse_operations *op, size_t *op_size)
{
	if (op == NULL || op == &wrapped || *op_size > sizeof(inner))
		return op;
	memset(&inner, 0, sizeof(inner));
	memcpy(&inner, op, *op_size);
	if (!wraps_every_file_operation())
		return op;
	wrapped = inner;
	wrapped.open = open_file;
	wrapped.create = inner.create != NULL ? create_file : NULL;
	wrapped.rename = rename_path;
	wrapped.read = read_file;
	wrapped.write = write_file;
	wrapped.flush = flush_file;
	wrapped.fsync = fsync_file;
	wrapped.getattr = getattr_file;
	wrapped.truncate = truncate_file;
	wrapped.chmod = chmod_file;
	wrapped.chown = chown_file;
	wrapped.utimens = utimens_file;
	wrapped.release = release_file;
	wrapped.init = init_filesystem;
	*op_size = sizeof(wrapped);
	return &wrapped;
}

/* sshfs built against libfuse up to 3.16 (Debian 12) calls fuse_new@FUSE_3.1. */
#undef fuse_new
struct fuse *fuse_new(struct fuse_args *args, const struct fuse_operations *op, size_t op_size, void *user_data)
{
	typedef struct fuse *(*fuse_new_fn)(struct fuse_args *, const struct fuse_operations *, size_t, void *);
	fuse_new_fn real = (fuse_new_fn)dlvsym(RTLD_NEXT, "fuse_new", "FUSE_3.1");

	if (real == NULL)
		real = (fuse_new_fn)dlsym(RTLD_NEXT, "fuse_new_31");
	if (real == NULL)
		return NULL;
	op = table_for(op, &op_size);
	return real(args, op, op_size, user_data);
}

/*
 * sshfs built against libfuse 3.17 (Debian 13) calls _fuse_new_31@FUSE_3.17, which also
 * takes the version of the headers it was built with (passed on untouched).
 */
struct libfuse_version; /* declared by 3.17's headers only; passed on as it came */
struct fuse *_fuse_new_31(struct fuse_args *args, const struct fuse_operations *op, size_t op_size, struct libfuse_version *version, void *user_data);
struct fuse *_fuse_new_31(struct fuse_args *args, const struct fuse_operations *op, size_t op_size, struct libfuse_version *version, void *user_data)
{
	typedef struct fuse *(*fuse_new_317_fn)(struct fuse_args *, const struct fuse_operations *, size_t, struct libfuse_version *, void *);
	fuse_new_317_fn real = (fuse_new_317_fn)dlvsym(RTLD_NEXT, "_fuse_new_31", "FUSE_3.17");

	if (real == NULL)
		return NULL;
	op = table_for(op, &op_size);
	return real(args, op, op_size, version, user_data);
}
