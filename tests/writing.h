/*
 * writing.h - what the write tests share: a deterministic byte pattern to
 * write and check, and archives of known members.
 */
#ifndef AISFILE_TESTS_WRITING_H
#define AISFILE_TESTS_WRITING_H

#include <stddef.h>
#include <stdint.h>

#include <archive.h>

#include "aisfile.h"
#include "suites.h"

/* Bytes [offset, offset + len) of the pattern of seed. */
void fill_pattern(void *buf, size_t len, uint64_t offset, unsigned seed);
/* Whether buf holds bytes [offset, offset + len) of the pattern. */
int pattern_matches(const void *buf, size_t len, uint64_t offset,
                    unsigned seed);
/* ais_write bytes [offset, offset + size) of the pattern in pieces of
 * about chunk bytes (of varying length, so parts and pieces do not line
 * up).  0, or -1 with errno when a write failed. */
int write_pattern(ais_stream *s, uint64_t size, uint64_t offset,
                  unsigned seed, size_t chunk);
/* Whether s yields exactly size bytes of the pattern from 0 (ais_next). */
int stream_matches_pattern(ais_stream *s, uint64_t size, unsigned seed);

/* Bytes of "line %d of the text\n" for 0 <= i < lines. */
size_t text_length(int lines);

/* Write n members dir/member-NN.bin of size + NN * 37 pattern bytes (seed
 * NN) to a.  0 or -1. */
int write_members(struct archive *a, int n, size_t size);
/* Whether the archive at url (any format) has exactly those members, read
 * through ais_archive_open. */
int archive_has_members(const char *url, int n, size_t size);

/* Whether the object server's store holds bucket/name, read from disk,
 * as exactly size bytes of the pattern of seed (else why on stderr). */
int stored_matches_pattern(const char *bucket, const char *name,
                           uint64_t size, unsigned seed);
/* Whether the store holds no bucket/name (ENOENT, not another error). */
int not_stored(const char *bucket, const char *name);

/* The multipart tests (test_write_mpt.c), which run in the writing suite. */
extern const struct test_case write_mpt_tests[];

#endif
