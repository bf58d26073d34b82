/*
 * aisfile-read - write the object at URL to stdout through ais_fopen(), and
 * its size to stderr.  Built against an installed libaisfile, by CMake
 * (tests/cmake/CMakeLists.txt, find_package(aisfile)) and by pkg-config
 * (tests/pkgcheck.sh), to prove that both find a library that works.
 *
 *     aisfile-read URL > object
 *
 * Exit status: 0 all bytes written, 1 open, read or write failed, 2 usage.
 */
#include <stdio.h>
#include <string.h>

#include <aisfile.h>

int main(int argc, char **argv)
{
	char buf[1 << 16];
	long size, copied = 0;
	size_t n;
	FILE *f;

	if (argc != 2) {
		fprintf(stderr, "usage: aisfile-read URL > object\n");
		return 2;
	}
	f = ais_fopen(argv[1], "rb");
	if (!f) {
		fprintf(stderr, "aisfile-read: %s\n", ais_last_error());
		return 1;
	}
	/* The size, by seeking to the end: no request, the first reply told. */
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		fprintf(stderr, "aisfile-read: seek: %s\n", ais_last_error());
		fclose(f);
		return 1;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		if (fwrite(buf, 1, n, stdout) != n) {
			perror("aisfile-read: stdout");
			fclose(f);
			return 1;
		}
		copied += (long)n;
	}
	if (ferror(f) || copied != size) {
		fprintf(stderr, "aisfile-read: read %ld of %ld bytes: %s\n",
		        copied, size, ais_last_error());
		fclose(f);
		return 1;
	}
	fclose(f);
	if (fflush(stdout) != 0) {
		perror("aisfile-read: stdout");
		return 1;
	}
	fprintf(stderr, "aisfile-read: %ld bytes (libaisfile %s)\n", size,
	        ais_version());
	return 0;
}
