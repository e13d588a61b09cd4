/* flip-byte: a test helper that XORs one byte of a file in place.
 *
 *   flip-byte FILE OFFSET [MASK]      (MASK 1..255, default 1)
 *
 * A negative OFFSET counts from the end (-1 is the last byte). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	int fd, mask = argc > 3 ? atoi(argv[3]) : 1;
	long long off;
	unsigned char b;
	struct stat st;

	if (argc < 3 || mask < 1 || mask > 255) {
		fprintf(stderr, "usage: flip-byte FILE OFFSET [MASK]\n");
		return 2;
	}
	fd = open(argv[1], O_RDWR);
	if (fd < 0 || fstat(fd, &st) < 0) {
		perror(argv[1]);
		return 2;
	}
	off = atoll(argv[2]);
	if (off < 0)
		off += st.st_size;
	if (off < 0 || off >= st.st_size || pread(fd, &b, 1, off) != 1) {
		fprintf(stderr, "flip-byte: offset %s outside %s\n", argv[2],
		    argv[1]);
		return 2;
	}
	b ^= (unsigned char)mask;
	if (pwrite(fd, &b, 1, off) != 1) {
		perror(argv[1]);
		return 2;
	}
	return close(fd) == 0 ? 0 : 2;
}
