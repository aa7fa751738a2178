/* xform.h — items stored through a DCP stream transform.
 *
 * torch >= 2.7's FileSystemWriter(_extensions=[...]) may pass each item
 * through transforms, named per item by _StorageInfo.transform_descriptors.
 * td2hf reads one: "stream.zstd/1" (torch's ZStandard extension), a zstd
 * frame around the usual torch.save archive.  Such an item is decompressed
 * once, streaming (fixed buffers, whatever its size), into a scratch file
 * the catalog owns: one unlinked temporary file under $TMPDIR (or /tmp)
 * holding every decompressed item back to back, which is then read exactly
 * as a plain .distcp file. */
#ifndef TD_XFORM_H
#define TD_XFORM_H

#include <stdint.h>

#include "../common/err.h"
#include "../common/file.h"

enum { XF_NONE = 0, XF_ZSTD = 1 };

#define XF_ZSTD_NAME "stream.zstd/1"

/* Where an item's decompressed archive lies in the scratch file. */
typedef struct xform_item {
	uint64_t off, len;
	unsigned char done;   /* read and written only under the scratch's lock */
} xform_item;

typedef struct xform_scratch xform_scratch;

/* A scratch file named `name` in messages (created on first use). */
xform_scratch *xform_scratch_new(const char *name);
void xform_scratch_free(xform_scratch *s);

/* Decompresses the zstd item in [off, off+len) of src into the scratch
 * file unless *it is done already (threads may call it together: the
 * first does the work, the others wait for it).  Output beyond `max`
 * bytes is refused (a bomb, or not the item the metadata describes).
 * Errors name src, the range and what is wrong with the frame. */
int xform_expand(xform_scratch *s, const td_file *src, uint64_t off, uint64_t len,
		 uint64_t max, xform_item *it, td_err *err);

/* A descriptor of its own on the scratch file, sized as it is now: close
 * it with td_file_close.  Fails before the first xform_expand. */
int xform_open(xform_scratch *s, td_file *f, td_err *err);

/* Brings f (from xform_open) up to the scratch file's current size. */
void xform_refresh(xform_scratch *s, td_file *f);

#endif
