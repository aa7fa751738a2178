/* memfile.h — fuzz input as a td_file (memfd), for readers that pread. */
#ifndef TD_FUZZ_MEMFILE_H
#define TD_FUZZ_MEMFILE_H

#define _GNU_SOURCE
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "src/common/file.h"

static int memfile(td_file *f, const uint8_t *data, size_t size)
{
	static int fd = -1;

	if (fd < 0)
		fd = memfd_create("fuzz", 0);
	if (fd < 0 || ftruncate(fd, 0) != 0 ||
	    pwrite(fd, data, size, 0) != (ssize_t)size)
		return -1;
	f->fd = fd;
	f->size = size;
	f->path = (char *)"fuzz-input";
	return 0;
}

#endif
