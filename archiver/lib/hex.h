#ifndef PV_HEX_H
#define PV_HEX_H

#include <stddef.h>

/* Lower-case hex of len bytes into out (2*len+1 bytes, NUL-terminated). */
void pv_hex(const unsigned char *bin, size_t len, char *out);
/* Parses exactly 2*len hex digits; returns 0, or -1 when malformed. */
int pv_unhex(const char *hex, unsigned char *bin, size_t len);

#endif
