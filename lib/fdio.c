/* fdio - whole writes, and a file copied out (fdio.h). */
#include <errno.h>
#include <unistd.h>

#include "err.h"
#include "fdio.h"

int
fdio_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		if (w == 0) {
			errno = EIO;
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int
fdio_copy_out(int fd, off_t size, FILE *out)
{
	char buf[64 * 1024];
	off_t left = size;

	while (left > 0) {
		size_t want = left < (off_t)sizeof(buf) ? (size_t)left :
		    sizeof(buf);
		ssize_t r = read(fd, buf, want);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return OV_EIO;   /* shorter than it said: cut short */
		if (fwrite(buf, 1, (size_t)r, out) != (size_t)r)
			return OV_EIO;
		left -= r;
	}
	return OV_OK;
}
