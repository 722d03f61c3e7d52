#ifndef PV_CLI_JSON_H
#define PV_CLI_JSON_H

/* Small helpers for the CLI's --json output (one value at a time). */

#include <stddef.h>
#include <stdio.h>

/* Prints s as a JSON string (quoted, escaped; invalid UTF-8 bytes become
 * U+FFFD so the output is always valid JSON). */
void json_print_str(FILE *out, const char *s);
void json_print_strn(FILE *out, const char *s, size_t n);

#endif
