/*
 * installcheck.c - built by `make installcheck` against the INSTALLED
 * library with `pkg-config --cflags --libs aisfile`: proves the header, the
 * library and aisfile.pc install and work together.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <aisfile.h>

int main(void)
{
	errno = 0;
	if (ais_open("nosuchscheme://x/y", NULL) != NULL || errno != EINVAL ||
	    !strstr(ais_last_error(), "unsupported scheme")) {
		fprintf(stderr, "installcheck: unexpected result: %s\n",
		        ais_last_error());
		return 1;
	}
	printf("installed aisfile %s works: %s\n", ais_version(),
	       ais_last_error());
	return 0;
}
