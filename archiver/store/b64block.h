#ifndef PV_B64BLOCK_H
#define PV_B64BLOCK_H

/* A record block that is base64 lines, kept as the 6-bit values of its
 * characters (store/record.h, RECORD_B64): most of mail's bytes are
 * base64 attachments of already-compressed files, on which zstd spends
 * its time coding the 64 letters of the alphabet for a quarter of their
 * size; this takes that quarter at a fraction of the cost, both ways.
 *
 * The shape taken, exactly (anything else is not this block's to pack):
 *
 *   ["\n"] seg_0 ("\r\n" seg_i)* ["\r"]
 *
 * every seg of the base64 alphabet (RFC 4648 §4, no '='), the inner ones
 * (seg_1 .. seg_{k-1} of k line breaks) all of one length; the optional
 * LF at the start and CR at the end are a line break that a block
 * boundary cut in two. Head (B64BLOCK_HEAD bytes, big-endian words): the
 * lengths of seg_0, of an inner line, of seg_k (0 when k is 0), k, and
 * flags (bit 0: the CR at the end, bit 1: the LF at the start). Then the
 * characters' values packed four to three bytes; a last group of 1 to 3
 * takes 1 to 3 bytes, its unused low bits zero. Decoding gives back every
 * byte as it was. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/error.h"

#define B64BLOCK_HEAD 20
/* Bytes b64block_pack may write for a block of n bytes. */
#define B64BLOCK_PACKED_MAX(n) (B64BLOCK_HEAD + (n) / 4 * 3 + 3)

/* Packs in[0..n) into out (room for B64BLOCK_PACKED_MAX(n)) when it has
 * the shape above; *len_r: the head and the packed values. False when it
 * has not (out is then undefined). */
bool b64block_pack(const unsigned char *in, size_t n, unsigned char *out, size_t *len_r);

/* The head at head[0..B64BLOCK_HEAD) read and checked: *values_len_r gets
 * how many bytes of packed values must follow it, *out_len_r how many
 * bytes it decodes to. PV_EINTEGRITY when the head is not one
 * b64block_pack writes or decodes to more than max bytes. */
int b64block_head(const unsigned char *head, size_t max, size_t *values_len_r, size_t *out_len_r,
		  struct pv_error *err) PV_WARN_UNUSED;

/* Decodes: head (checked by b64block_head) and its values_len bytes of
 * packed values into out (room for its out_len). PV_EINTEGRITY when the
 * values' unused bits are not zero. */
int b64block_unpack(const unsigned char *head, const unsigned char *values, size_t values_len,
		    unsigned char *out, struct pv_error *err) PV_WARN_UNUSED;

#endif
