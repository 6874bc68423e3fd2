/*
 * Preloaded into sshfs only (LD_PRELOAD, set by sshfs-process.ts): time(2) counts
 * SSHFS_CLOCK_TICKS per second instead of one.
 *
 * Why: sshfs's attribute and listing cache keeps an entry while time(NULL) has not passed
 * the second it was stored in plus dcache_timeout, whole seconds only (sshfs cache.c), so
 * the least it can promise is "stale for up to 1 s". With four ticks a second the same
 * cache can be bounded to a quarter of a second at a time, and cache_timeout can give the
 * kernel's cache (attr/entry_timeout), which saves a trip through FUSE per stat, the rest
 * of its budget. sshfs reads time() for nothing else that matters: its cache cleaning
 * interval (shorter by the same factor) and a random seed.
 *
 * The library takes itself out of the environment at load, so the ssh processes sshfs
 * starts run with the real clock. With SSHFS_PRELOAD_PROBE set it says on stderr that it
 * was loaded: the plugin asks `sshfs -V` so at start, and promises quarter-second caches
 * only when it answers (sshfs-runtime.ts).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long ticks_per_second = 1;

__attribute__((constructor)) static void read_ticks(void)
{
	const char *given = getenv("SSHFS_CLOCK_TICKS");
	if (given != NULL) {
		long value = strtol(given, NULL, 10);
		if (value >= 1 && value <= 1000)
			ticks_per_second = value;
	}
	if (getenv("SSHFS_PRELOAD_PROBE") != NULL)
		fputs("sshfs-clock.so loaded\n", stderr);
	unsetenv("LD_PRELOAD");
	unsetenv("SSHFS_CLOCK_TICKS");
}

time_t time(time_t *out)
{
	struct timespec now;
	time_t ticks;

	clock_gettime(CLOCK_REALTIME, &now);
	ticks = now.tv_sec * ticks_per_second + now.tv_nsec / (1000000000L / ticks_per_second);
	if (out != NULL)
		*out = ticks;
	return ticks;
}
