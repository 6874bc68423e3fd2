/*
 * Preloaded into sshfs only (LD_PRELOAD, with sshfs-clock.c): keeps the close of a file
 * whose directory was renamed from killing sshfs.
 *
 * Why: sshfs 3.7.3 with max_conns > 1 files each open file in a table keyed by the path it
 * was opened under, so that requests on it use one connection. Its rename moves the entry
 * of the renamed path only; a file inside a renamed directory keeps its entry under the old
 * path, while FUSE hands release() the new one. release() then finds no entry and follows
 * a NULL pointer: sshfs dies and every volume of that server with it. (Fixed upstream in
 * 3.7.6; Debian 12 and 13 ship 3.7.3.)
 *
 * How: libfuse's public API. sshfs hands its operation table to fuse_new(); this library
 * wraps open, create, rename and release in that table. It notes under which path each
 * open file's entry is (the path it was opened under, moved exactly as sshfs moves it),
 * and calls sshfs's release with that path. Nothing else of sshfs is touched.
 */
#define _GNU_SOURCE
#define FUSE_USE_VERSION 31
#include <dlfcn.h>
#include <fuse.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct open_file {
	uint64_t fh;       /* sshfs's handle of the open file */
	char *entry_path;  /* the path sshfs keeps its table entry under */
};

static struct fuse_operations inner;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct open_file *files;
static size_t count, capacity;

static void note_open(uint64_t fh, const char *path)
{
	char *copy = strdup(path);

	if (copy == NULL)
		return; /* release then gets FUSE's path, as without this library */
	pthread_mutex_lock(&lock);
	if (count == capacity) {
		size_t grown = capacity == 0 ? 64 : capacity * 2;
		struct open_file *more = realloc(files, grown * sizeof(*files));

		if (more == NULL) {
			pthread_mutex_unlock(&lock);
			free(copy);
			return;
		}
		files = more;
		capacity = grown;
	}
	files[count].fh = fh;
	files[count].entry_path = copy;
	count++;
	pthread_mutex_unlock(&lock);
}

/* The entry path noted for fh, taken out of the list; NULL when none was noted. */
static char *take_entry_path(uint64_t fh)
{
	char *found = NULL;

	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < count; i++) {
		if (files[i].fh == fh) {
			found = files[i].entry_path;
			files[i] = files[--count];
			break;
		}
	}
	pthread_mutex_unlock(&lock);
	return found;
}

static int open_file(const char *path, struct fuse_file_info *fi)
{
	int err = inner.open(path, fi);

	if (err == 0)
		note_open(fi->fh, path);
	return err;
}

static int create_file(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	int err = inner.create(path, mode, fi);

	if (err == 0)
		note_open(fi->fh, path);
	return err;
}

/* sshfs moves the entry of exactly `from` to `to`, and so do we; entries below `from` stay. */
static int rename_path(const char *from, const char *to, unsigned int flags)
{
	int err = inner.rename(from, to, flags);

	if (err != 0)
		return err;
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < count; i++) {
		if (strcmp(files[i].entry_path, from) == 0) {
			char *moved = strdup(to);

			if (moved != NULL) {
				free(files[i].entry_path);
				files[i].entry_path = moved;
			}
		}
	}
	pthread_mutex_unlock(&lock);
	return 0;
}

static int release_file(const char *path, struct fuse_file_info *fi)
{
	char *entry_path = take_entry_path(fi->fh);
	int err = inner.release(entry_path != NULL ? entry_path : path, fi);

	free(entry_path);
	return err;
}

struct fuse *fuse_new(struct fuse_args *args, const struct fuse_operations *op, size_t op_size, void *user_data)
{
	typedef struct fuse *(*fuse_new_fn)(struct fuse_args *, const struct fuse_operations *, size_t, void *);
	fuse_new_fn real = (fuse_new_fn)dlvsym(RTLD_NEXT, "fuse_new", "FUSE_3.1");
	struct fuse_operations wrapped;

	if (real == NULL)
		real = (fuse_new_fn)dlsym(RTLD_NEXT, "fuse_new_31");
	if (real == NULL || op == NULL || op_size > sizeof(inner))
		return real == NULL ? NULL : real(args, op, op_size, user_data);
	memset(&inner, 0, sizeof(inner));
	memcpy(&inner, op, op_size);
	wrapped = inner;
	if (inner.open != NULL && inner.release != NULL && inner.rename != NULL) {
		wrapped.open = open_file;
		wrapped.release = release_file;
		wrapped.rename = rename_path;
		if (inner.create != NULL)
			wrapped.create = create_file;
	}
	return real(args, &wrapped, sizeof(wrapped), user_data);
}
