/*
 * aistar.h - what aistar's main (aistar.c: options, -t and -x) asks of its
 * create mode (aistar_create.c: -c).
 */
#ifndef AISFILE_EXAMPLES_AISTAR_H
#define AISFILE_EXAMPLES_AISTAR_H

#include <stdbool.h>

struct create_request {
	const char *url;     /* where the archive goes */
	char **paths;        /* files and directories to archive, as given */
	int path_count;
	const char *format;  /* --format, or NULL: from the name's suffix */
	const char *filter;  /* -z, -j, -J, --zstd, or NULL: from the suffix */
	bool verbose;        /* -v: settings, "a PATH" per member, counters */
};

/*
 * Write the archive of req->paths (relative to the working directory)
 * straight into the object at req->url.  The object appears only when
 * every path was archived and the upload committed; on any failure the
 * upload is aborted and the reason is on stderr.  Returns the exit status:
 * 0, 1, or 128+N after signal N.
 */
int create_archive(const struct create_request *req);

#endif
