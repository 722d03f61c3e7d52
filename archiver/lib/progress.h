#ifndef PV_PROGRESS_H
#define PV_PROGRESS_H

/* Progress of long work (verify --full, reindex, export, audit export,
 * backup). The operations only report, through a callback they are given
 * (struct pv_progress, e.g. the archive handle's); they never print. The
 * command line passes a meter (struct pv_meter) that draws one line on a
 * terminal and rewrites it in place:
 *
 *   verify --full: 1200/5000 messages  410/s  ETA 0:09
 *
 * Whether to draw at all (stderr is a terminal, no --json) is the caller's
 * choice: a meter draws wherever it is told to. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* done of total units finished (done <= total; total may grow between
 * calls when the work is found as it goes). */
typedef void (*pv_progress_fn)(void *ctx, uint64_t done, uint64_t total);

struct pv_progress {
	pv_progress_fn fn; /* NULL: nobody listens */
	void *ctx;
};

/* Calls p's callback, if any (p may be NULL). */
void pv_progress_report(const struct pv_progress *p, uint64_t done, uint64_t total);

/* ---- the terminal line ---- */

struct pv_meter {
	FILE *out;
	const char *label; /* "verify --full"; may be changed between updates */
	const char *unit;  /* "messages" */
	int64_t start_ms, last_ms;
	uint64_t done, total; /* the last update's, to draw the line again */
	bool updated;	      /* there has been an update */
	bool shown;	      /* a line is on the screen (needs a newline or a clear) */
};

/* Starts the clock. label and unit are borrowed, not copied. */
void pv_meter_init(struct pv_meter *m, FILE *out, const char *label, const char *unit);
/* A pv_progress_fn (ctx: the meter): redraws the line at most every
 * PV_METER_REDRAW_MS, and always for the last unit. */
void pv_meter_update(void *meter, uint64_t done, uint64_t total);
/* Erases the line (before other output to the same terminal); the next
 * update draws it again. */
void pv_meter_clear(struct pv_meter *m);
/* Ends the line with a newline if one was drawn. */
void pv_meter_end(struct pv_meter *m);
/* A pv_progress for m. */
struct pv_progress pv_meter_progress(struct pv_meter *m);

#define PV_METER_REDRAW_MS 100

/* The text of the line (no "\r", no escape): "LABEL: DONE/TOTAL UNIT  RATE/s
 * ETA M:SS" while running, "... done in M:SS" at the end; the rate and ETA
 * are left out until a unit has finished. Truncated to size. */
void pv_meter_format(char *buf, size_t size, const char *label, const char *unit, uint64_t done,
		     uint64_t total, int64_t elapsed_ms);

#endif
