/*
 * fdio - whole writes to a file descriptor, and a file's bytes copied out.
 * Small enough for the lean CGIs (the static webhook, the quote and inbox
 * CGIs) to link.
 */
#ifndef OVIDIO_FDIO_H
#define OVIDIO_FDIO_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

/* Write all len bytes, retrying short writes and EINTR. 0, or -1 with
 * errno set (EIO when the file takes no more). */
int fdio_write_all(int fd, const void *buf, size_t len);

/* Copy exactly size bytes of fd to out (a CGI's stdout). OV_OK, or OV_EIO
 * when fd ends early or out refuses: the answer was cut short. */
int fdio_copy_out(int fd, off_t size, FILE *out);

#endif
