#ifndef PV_NUMBER_H
#define PV_NUMBER_H

/* Decimal numbers from outside input, the one parser of the tree (popa3d's
 * pop_get_int): explicit length, digits only, range checked; a value out
 * of range is an error, never wrapped or saturated. POP3 replies, SCRAM
 * messages, signed notes, checkpoints, proofs, archive and audit leaves,
 * the config file and dates go through it. */

#include <stddef.h>
#include <stdint.h>

#include "archiver/lib/error.h"

/* Refuse leading zeros ("0" itself is fine): the C2SP formats (checkpoint,
 * tlog-proof) and our own leaves spell each number one way. */
#define PV_NUM_CANONICAL 0x1u

/* Parses s[0..len) (not NUL-terminated), 1 to 20 ASCII digits and nothing
 * else (no sign, space or suffix), into *v_r when min <= value <= max.
 * Returns 0, or PV_ERR (*v_r untouched). */
int pv_parse_u64(const char *s, size_t len, uint64_t min, uint64_t max, unsigned flags,
		 uint64_t *v_r) PV_WARN_UNUSED;

/* The same for an int (dates, counts): min >= 0. */
int pv_parse_int(const char *s, size_t len, int min, int max, unsigned flags,
		 int *v_r) PV_WARN_UNUSED;

#endif
