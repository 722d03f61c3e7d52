#include "archiver/lib/progress.h"

#include "archiver/lib/clock.h"

/* Carriage return, then clear to the end of the line (ECMA-48 EL). */
#define METER_CLEAR "\r\033[K"

void pv_progress_report(const struct pv_progress *p, uint64_t done, uint64_t total)
{
	if (p != NULL && p->fn != NULL)
		p->fn(p->ctx, done, total);
}

static void format_duration(char *buf, size_t size, uint64_t s)
{
	if (s >= 3600)
		snprintf(buf, size, "%llu:%02llu:%02llu", (unsigned long long)(s / 3600),
			 (unsigned long long)(s / 60 % 60), (unsigned long long)(s % 60));
	else
		snprintf(buf, size, "%llu:%02llu", (unsigned long long)(s / 60),
			 (unsigned long long)(s % 60));
}

void pv_meter_format(char *buf, size_t size, const char *label, const char *unit, uint64_t done,
		     uint64_t total, int64_t elapsed_ms)
{
	char rate[32] = "", tail[48] = "", d[24];
	if (elapsed_ms < 1)
		elapsed_ms = 1;
	if (done > 0) {
		double per_s = (double)done * 1000.0 / (double)elapsed_ms;
		snprintf(rate, sizeof(rate), per_s < 10 ? "  %.1f/s" : "  %.0f/s", per_s);
		if (done >= total) {
			format_duration(d, sizeof(d), (uint64_t)(elapsed_ms + 500) / 1000);
			snprintf(tail, sizeof(tail), "  done in %s", d);
		} else {
			format_duration(d, sizeof(d), (uint64_t)((double)(total - done) / per_s + 0.5));
			snprintf(tail, sizeof(tail), "  ETA %s", d);
		}
	}
	snprintf(buf, size, "%s: %llu/%llu %s%s%s", label, (unsigned long long)done,
		 (unsigned long long)total, unit, rate, tail);
}

void pv_meter_init(struct pv_meter *m, FILE *out, const char *label, const char *unit)
{
	m->out = out;
	m->label = label;
	m->unit = unit;
	m->start_ms = pv_clock_monotonic_ms();
	m->last_ms = m->start_ms - PV_METER_REDRAW_MS;
	m->shown = false;
	m->updated = false;
}

static void draw(struct pv_meter *m, int64_t now)
{
	char line[256];
	m->last_ms = now;
	pv_meter_format(line, sizeof(line), m->label, m->unit, m->done, m->total, now - m->start_ms);
	fprintf(m->out, "\r%s\033[K", line);
	fflush(m->out);
	m->shown = true;
}

void pv_meter_update(void *meter, uint64_t done, uint64_t total)
{
	struct pv_meter *m = meter;
	int64_t now = pv_clock_monotonic_ms();
	m->done = done;
	m->total = total;
	m->updated = true;
	if (done < total && now - m->last_ms < PV_METER_REDRAW_MS)
		return;
	draw(m, now);
}

void pv_meter_clear(struct pv_meter *m)
{
	if (!m->shown)
		return;
	fputs(METER_CLEAR, m->out);
	fflush(m->out);
	m->shown = false;
	m->last_ms = pv_clock_monotonic_ms() - PV_METER_REDRAW_MS; /* redraw at once */
}

void pv_meter_end(struct pv_meter *m)
{
	/* A line cleared for output after the last update comes back, so the
	 * run still ends on its count and time. */
	if (!m->shown && m->updated)
		draw(m, pv_clock_monotonic_ms());
	m->updated = false; /* ended: a second call draws nothing */
	if (!m->shown)
		return;
	fputc('\n', m->out);
	fflush(m->out);
	m->shown = false;
}

struct pv_progress pv_meter_progress(struct pv_meter *m)
{
	return (struct pv_progress){pv_meter_update, m};
}
