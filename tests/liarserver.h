/*
 * liarserver.h - what tests/liarserver serves, for it and for the tests that
 * check what the library made of it.  One place for the paths, the sizes and
 * the bytes, so the two sides cannot drift apart.
 *
 * Every path is one way of lying (or one honest oddity).  Unless a path says
 * otherwise it honours "Range: bytes=A-" and "bytes=A-B", answers with
 * "Connection: close", and serves version 1 of the bytes below.  ("* /" is
 * written with a space only so that it does not end these comments.)
 */
#ifndef AISFILE_TESTS_LIARSERVER_H
#define AISFILE_TESTS_LIARSERVER_H

#include <stdint.h>

/* Byte at off of version 1 or 2 of an object: the versions differ at every
 * byte, so a splice of the two never passes for either. */
static inline unsigned char liar_byte(int version, int64_t off)
{
	unsigned char b = (unsigned char)((off * 7 + off / 251) & 0xff);

	return version == 1 ? b : (unsigned char)(b ^ 0x5a);
}

/* 206 "bytes A-(A+LIAR_LONG_LABEL-1)/LIAR_LONG_SIZE" with Content-Length
 * LIAR_LONG_BODY: the labelled bytes of version 1, then version 2 bytes. */
#define LIAR_LONG_206 "/long-206"
/* The same without Content-Length: the body ends when the server closes. */
#define LIAR_LONG_206_CLOSE "/long-206-close"
#define LIAR_LONG_SIZE 5000
#define LIAR_LONG_LABEL 1000
#define LIAR_LONG_BODY 1500

/* 200 (Range ignored) with "Content-Length: LIAR_TWO_LENGTHS_SIZE" and
 * then "Content-Length: LIAR_TWO_LENGTHS_SHORT", and the whole object. */
#define LIAR_TWO_LENGTHS "/two-lengths"
#define LIAR_TWO_LENGTHS_SIZE 5000
#define LIAR_TWO_LENGTHS_SHORT 1000

/* 206 "bytes A-(LIAR_SMALL_TOTAL_BODY-1)/LIAR_SMALL_TOTAL" with as many
 * bytes as the range says: the total is smaller than the range. */
#define LIAR_SMALL_TOTAL "/total-smaller"
#define LIAR_SMALL_TOTAL_SIZE 1000
#define LIAR_SMALL_TOTAL_BODY 65536

/* An object of LIAR_VANISH_SIZE.  From byte 0: 206 with ETag
 * LIAR_VANISH_ETAG, cut after LIAR_VANISH_CUT body bytes.  From any later
 * byte: 206 without an ETag, with version 2 bytes. */
#define LIAR_ETAG_VANISHES "/etag-vanishes"
#define LIAR_VANISH_SIZE 10000
#define LIAR_VANISH_CUT 4000
#define LIAR_VANISH_ETAG "\"v1\""

/* An honest object of LIAR_RANGE_CKSUM_SIZE whose every reply carries
 * "Ais-Checksum-Value" of the bytes it sends, as an AIStore target with
 * checksummed range reads (cksum.enable_read_range) does: a different value
 * for every range, "Ais-Version: 1" throughout. */
#define LIAR_RANGE_CKSUM "/range-checksum"
#define LIAR_RANGE_CKSUM_SIZE (3 << 20)

/* A status line, then one header line every LIAR_TRICKLE_MS, never the
 * blank line that ends the header block (until the client leaves, or a
 * minute). */
#define LIAR_HEADER_TRICKLE "/header-trickle"
/* An honest 206 header for an object of LIAR_TRICKLE_SIZE, then one byte
 * of version 1 every LIAR_TRICKLE_MS (until the client leaves, or a
 * minute). */
#define LIAR_BODY_TRICKLE "/body-trickle"
#define LIAR_TRICKLE_SIZE (1 << 20)
#define LIAR_TRICKLE_MS 50

/* An honest object of LIAR_NOVAL_SIZE with no validator at all (no ETag,
 * Last-Modified, Ais-Version or checksum); a request from byte 0 is cut
 * after LIAR_NOVAL_CUT body bytes. */
#define LIAR_NO_VALIDATOR "/no-validator"
#define LIAR_NOVAL_SIZE 100000
#define LIAR_NOVAL_CUT 4000

/* An HTTP/1.0 server that never says a length: a request from byte 0 gets
 * "HTTP/1.0 200" with ETag LIAR_H10_ETAG and, for LIAR_H10_CUT, only the
 * first LIAR_H10_CUT_AT bytes before it closes; a later byte gets a 206
 * "bytes A-B/ *" to the end, and one past the end a 416. */
#define LIAR_H10_CUT "/http10-cut"
#define LIAR_H10_WHOLE "/http10-whole"
#define LIAR_H10_SIZE 300000
#define LIAR_H10_CUT_AT 100000
#define LIAR_H10_ETAG "\"h1\""

/* A zero-length object: a ranged GET gets 416 "Content-Range: bytes * /0"
 * (as RFC 9110 says), an unranged one 200 with Content-Length 0. */
#define LIAR_EMPTY_416 "/empty-416"

/* An object of LIAR_UNKNOWN_SIZE that never tells its size: 206
 * "bytes A-B/ *" (or 200) ending with the connection; a Range from past
 * the end gets 416 "Content-Range: bytes * / *". */
#define LIAR_UNKNOWN_416 "/unknown-416"
#define LIAR_UNKNOWN_SIZE 1000000

/* The same object sent chunked, all of it, but without the last chunk:
 * the client sees a break exactly at the end. */
#define LIAR_UNKNOWN_CUT_AT_END "/unknown-cut-at-end"

/* 200 "Content-Encoding: gzip" with Content-Length, the gzip bytes below,
 * which decode to LIAR_GZIP_TEXT. */
#define LIAR_GZIP "/gzip"
#define LIAR_GZIP_TEXT "stored, not decoded\n"
static const unsigned char liar_gzip_body[] = {
	0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0xff,
	0x2b, 0x2e, 0xc9, 0x2f, 0x4a, 0x4d, 0xd1, 0x51, 0xc8, 0xcb,
	0x2f, 0x51, 0x48, 0x49, 0x4d, 0xce, 0x4f, 0x49, 0x4d, 0xe1,
	0x02, 0x00, 0xd6, 0xc5, 0xbc, 0xfc, 0x14, 0x00, 0x00, 0x00,
};

#endif
