/*
 * check_crc32c.c - the library's CRC-32C, table and SSE4.2 versions, against
 * a bit-by-bit reference and the catalogue check value, on buffers of every
 * length and alignment up to 300 bytes and on pieces fed one after another.
 * Built from lib/checksum.c itself (its functions are not exported).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static uint32_t bitwise(uint32_t crc, const unsigned char *p, size_t n)
{
	crc = ~crc;
	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = crc & 1 ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
	}
	return ~crc;
}

int main(void)
{
	unsigned char buf[320];
	unsigned int seed = 1;
	int bad = 0, hardware;

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)rand_r(&seed);
	if (aisi_crc32c(0, "123456789", 9) != 0xe3069283u) {
		fprintf(stderr, "crc32c(\"123456789\") = %08x, not e3069283\n",
		        aisi_crc32c(0, "123456789", 9));
		return 1;
	}
	hardware = aisi_crc32c_with(CRC32C_HARDWARE, 0, "1", 1) != 0;
	for (size_t off = 0; off < 16; off++) {
		for (size_t len = 0; off + len <= 300; len++) {
			uint32_t want = bitwise(0, buf + off, len);
			uint32_t table = aisi_crc32c_with(CRC32C_TABLE, 0, buf + off, len);
			uint32_t hw = aisi_crc32c_with(CRC32C_HARDWARE, 0, buf + off, len);
			/* In two pieces: a running CRC continues. */
			uint32_t half = aisi_crc32c(aisi_crc32c(0, buf + off, len / 2),
			                            buf + off + len / 2, len - len / 2);

			if (table != want || (hardware && hw != want) || half != want) {
				fprintf(stderr, "off %zu len %zu: want %08x table %08x "
				        "hw %08x pieces %08x\n", off, len, want, table, hw,
				        half);
				bad = 1;
			}
		}
	}
	printf("crc32c: table%s agree with the reference\n",
	       hardware ? " and SSE4.2" : "");
	return bad;
}
