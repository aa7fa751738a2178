/* fronts.c — how the place where two threads write one file costs, with
 * td2hf's write pattern (a preallocated file, 1 MiB pwrites, each started
 * on its way to disk with sync_file_range, one fdatasync at the end):
 *
 *   mode 0: one file, each thread writes its own half (two write fronts
 *           far apart: two big tensors converted side by side);
 *   mode 1: a file per thread (two shards);
 *   mode 2: one file, the threads take alternate 16 MiB pieces (one
 *           front: a big tensor cut into pieces, src/writer/split.c).
 *
 *   cc -O2 -pthread bench/fronts.c -o /tmp/fronts
 *   for r in 1 2 3 4; do for m in 0 2; do /tmp/fronts $m 2 DIR; rm -f DIR/f*; done; done
 *
 * DIR must be on the disk under test; it gets files f0, f1 (2200 MiB in
 * all), which the caller removes. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TOTAL (2200ull << 20)
#define BLOCK (1u << 20)
#define PIECE (16ull << 20)
#define MAX_THREADS 8

typedef struct job {
	int mode, nthreads, i, fd;
} job;

/* Where the thread's byte `off` (of its share) goes in the file. */
static unsigned long long place(const job *j, unsigned long long off)
{
	unsigned long long share = TOTAL / j->nthreads;

	if (j->mode == 1)
		return off;
	if (j->mode == 2)
		return ((off / PIECE) * j->nthreads + j->i) * PIECE + off % PIECE;
	return share * j->i + off;
}

static void *run(void *arg)
{
	job *j = arg;
	unsigned char *buf = malloc(BLOCK);
	unsigned long long off, share = TOTAL / j->nthreads;

	if (!buf)
		exit(1);
	memset(buf, j->i + 1, BLOCK);
	for (off = 0; off < share; off += BLOCK) {
		unsigned long long at = place(j, off);

		if (pwrite(j->fd, buf, BLOCK, (off_t)at) != BLOCK) {
			perror("pwrite");
			exit(1);
		}
		sync_file_range(j->fd, (off_t)at, BLOCK, SYNC_FILE_RANGE_WRITE);
	}
	free(buf);
	return NULL;
}

int main(int argc, char **argv)
{
	job jobs[MAX_THREADS];
	pthread_t tid[MAX_THREADS];
	struct timespec a, b;
	int mode, n, i, nfiles, fds[MAX_THREADS];
	char path[4096];

	if (argc != 4 || (mode = atoi(argv[1])) < 0 || mode > 2 ||
	    (n = atoi(argv[2])) < 1 || n > MAX_THREADS) {
		fprintf(stderr, "usage: fronts MODE(0-2) THREADS(1-8) DIR\n");
		return 2;
	}
	nfiles = mode == 1 ? n : 1;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < nfiles; i++) {
		snprintf(path, sizeof path, "%s/f%d", argv[3], i);
		fds[i] = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
		if (fds[i] < 0 || fallocate(fds[i], 0, 0, TOTAL / nfiles) != 0) {
			perror(path);
			return 1;
		}
	}
	for (i = 0; i < n; i++) {
		jobs[i] = (job){mode, n, i, fds[mode == 1 ? i : 0]};
		pthread_create(&tid[i], NULL, run, &jobs[i]);
	}
	for (i = 0; i < n; i++)
		pthread_join(tid[i], NULL);
	for (i = 0; i < nfiles; i++)
		if (fdatasync(fds[i]) != 0 || close(fds[i]) != 0)
			perror("fdatasync");
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("mode %d, %d threads: %.3f s\n", mode, n,
	       (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9);
	return 0;
}
