/*
 * checksum.c - the hashes AIStore states for a whole object, computed over
 * the bytes a stream delivers: xxhash and xxhash2 (XXH64, seed 0, from
 * libxxhash), md5, sha256 and sha512 (OpenSSL's libcrypto), and crc32c
 * (Castagnoli).  No library in Debian offers crc32c, so it is here: the
 * SSE4.2 instruction where the CPU has it, else a table.
 *
 * AIStore writes every value as the lowercase hex of the hash's bytes, most
 * significant first (cmn/cos/cksum.go: hex.EncodeToString(h.Sum(nil))).  Its
 * "sha256" is SHA-256 proper: the source's comment says SHA-512/256, but the
 * code has called sha256.New() since 2022 (commit 4853b8457, "sha256 fix").
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <xxhash.h>

#include "internal.h"

static const struct {
	const char *name;
	enum cksum_kind kind;
	size_t hex_len;
	bool cheap;
} kinds[] = {
	{ "xxhash", CKSUM_XXH64, 16, true },
	{ "xxhash2", CKSUM_XXH64, 16, true },
	{ "crc32c", CKSUM_CRC32C, 8, true },
	{ "md5", CKSUM_MD5, 32, false },
	{ "sha256", CKSUM_SHA256, 64, false },
	{ "sha512", CKSUM_SHA512, 128, false },
};

enum cksum_kind aisi_cksum_kind(const char *type, bool *cheap, size_t *hex_len)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (!strcasecmp(type, kinds[i].name)) {
			*cheap = kinds[i].cheap;
			*hex_len = kinds[i].hex_len;
			return kinds[i].kind;
		}
	}
	return CKSUM_NONE;
}

/* ---- crc32c ----------------------------------------------------------------- */

#define CRC32C_POLY 0x82f63b78u /* Castagnoli, reflected */

static uint32_t crc32c_table[8][256];
static pthread_once_t crc32c_once = PTHREAD_ONCE_INIT;
static bool crc32c_hw;

static void crc32c_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ CRC32C_POLY : c >> 1;
		crc32c_table[0][i] = c;
	}
	for (int t = 1; t < 8; t++)
		for (int i = 0; i < 256; i++)
			crc32c_table[t][i] = (crc32c_table[t - 1][i] >> 8) ^
			                     crc32c_table[0][crc32c_table[t - 1][i] & 0xff];
#if defined(__x86_64__)
	__builtin_cpu_init();
	crc32c_hw = __builtin_cpu_supports("sse4.2");
#endif
}

/* Slicing by 8: eight table lookups per 8 bytes. */
static uint32_t crc32c_soft(uint32_t crc, const unsigned char *p, size_t n)
{
	while (n && ((uintptr_t)p & 7)) {
		crc = (crc >> 8) ^ crc32c_table[0][(crc ^ *p++) & 0xff];
		n--;
	}
	while (n >= 8) {
		uint64_t w;

		memcpy(&w, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		w = __builtin_bswap64(w); /* the table wants the bytes in order */
#endif
		w ^= crc;
		crc = crc32c_table[7][w & 0xff] ^
		      crc32c_table[6][(w >> 8) & 0xff] ^
		      crc32c_table[5][(w >> 16) & 0xff] ^
		      crc32c_table[4][(w >> 24) & 0xff] ^
		      crc32c_table[3][(w >> 32) & 0xff] ^
		      crc32c_table[2][(w >> 40) & 0xff] ^
		      crc32c_table[1][(w >> 48) & 0xff] ^
		      crc32c_table[0][w >> 56];
		p += 8;
		n -= 8;
	}
	while (n--)
		crc = (crc >> 8) ^ crc32c_table[0][(crc ^ *p++) & 0xff];
	return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2")))
static uint32_t crc32c_sse42(uint32_t crc, const unsigned char *p, size_t n)
{
	uint64_t c = crc;

	while (n && ((uintptr_t)p & 7)) {
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
		n--;
	}
	while (n >= 8) {
		uint64_t w;

		memcpy(&w, p, 8);
		c = __builtin_ia32_crc32di(c, w);
		p += 8;
		n -= 8;
	}
	while (n--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
	return (uint32_t)c;
}
#endif

uint32_t aisi_crc32c_with(int how, uint32_t crc, const void *data, size_t n)
{
	uint32_t c = ~crc;

	pthread_once(&crc32c_once, crc32c_init);
#if defined(__x86_64__)
	if (how == CRC32C_HARDWARE && !crc32c_hw)
		return crc;
	if (how != CRC32C_TABLE && crc32c_hw)
		return ~crc32c_sse42(c, data, n);
#else
	if (how == CRC32C_HARDWARE)
		return crc;
#endif
	return ~crc32c_soft(c, data, n);
}

uint32_t aisi_crc32c(uint32_t crc, const void *data, size_t n)
{
	return aisi_crc32c_with(CRC32C_BEST, crc, data, n);
}

/* ---- one running hash ------------------------------------------------------- */

int aisi_cksum_begin(struct cksum *ck, enum cksum_kind kind)
{
	const EVP_MD *md = NULL;

	memset(ck, 0, sizeof(*ck));
	ck->kind = kind;
	switch (kind) {
	case CKSUM_XXH64:
		ck->xxh = XXH64_createState();
		return ck->xxh && XXH64_reset(ck->xxh, 0) == XXH_OK ? 0 : -1;
	case CKSUM_CRC32C:
		return 0;
	case CKSUM_MD5: md = EVP_md5(); break;
	case CKSUM_SHA256: md = EVP_sha256(); break;
	case CKSUM_SHA512: md = EVP_sha512(); break;
	case CKSUM_NONE: return -1;
	}
	ck->md = EVP_MD_CTX_new();
	return ck->md && md && EVP_DigestInit_ex(ck->md, md, NULL) == 1 ? 0 : -1;
}

void aisi_cksum_update(struct cksum *ck, const void *p, size_t n)
{
	switch (ck->kind) {
	case CKSUM_XXH64: XXH64_update(ck->xxh, p, n); break;
	case CKSUM_CRC32C: ck->crc = aisi_crc32c(ck->crc, p, n); break;
	case CKSUM_NONE: break;
	default: EVP_DigestUpdate(ck->md, p, n); break;
	}
}

int aisi_cksum_hex(struct cksum *ck, char *out, size_t cap)
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	size_t used = 0;

	switch (ck->kind) {
	case CKSUM_XXH64:
		snprintf(out, cap, "%016llx",
		         (unsigned long long)XXH64_digest(ck->xxh));
		return 0;
	case CKSUM_CRC32C:
		snprintf(out, cap, "%08x", ck->crc);
		return 0;
	case CKSUM_NONE:
		return -1;
	default:
		if (EVP_DigestFinal_ex(ck->md, digest, &len) != 1 ||
		    cap < 2 * (size_t)len + 1)
			return -1;
		for (unsigned int i = 0; i < len; i++)
			used += (size_t)snprintf(out + used, cap - used, "%02x",
			                         digest[i]);
		return 0;
	}
}

void aisi_cksum_end(struct cksum *ck)
{
	if (ck->xxh)
		XXH64_freeState(ck->xxh);
	if (ck->md)
		EVP_MD_CTX_free(ck->md);
	memset(ck, 0, sizeof(*ck));
}
