#ifndef PV_INDEX_SANDBOX_H
#define PV_INDEX_SANDBOX_H

/* The parser sandbox (DESIGN.md §2 "Processes"): the indexer's text
 * extraction (index_mime_extract: MIME, charsets, HTML as text, PDFs
 * through pdftotext) runs in a child process that gets the message's
 * bytes over a socket and returns the extracted document on it,
 * and can do nothing else:
 *   - a fresh image of popvault-parser, a program of only what parsing
 *     needs, else of this program (fork and exec: nothing of its
 *     parent's memory, so none of the keys and passwords it held), no
 *     descriptor but its socket, an empty environment, the root
 *     directory as its working directory;
 *   - Landlock (where the kernel has it; logged where not): read and
 *     execute /usr, /lib*, /bin, read /etc, nothing else, so no data
 *     directory, no keys, no catalog;
 *   - seccomp allow-list (archiver/lib/sandbox.h pv_sandbox_parser): no
 *     socket, no connect, nothing but computing, its pipes and running
 *     pdftotext; any other system call kills it;
 *   - rlimits: CPU per message, address space, no file writes, no core;
 *   - a wall-clock limit per message, after which it is killed.
 * The child itself never parses: for each message it forks a worker
 * that does, with its own CPU limit, and relays the worker's answer and
 * how it ended. A message that subverts its worker therefore cannot
 * touch another message's result (each fork copies the page tables of
 * what the child holds, so the child gives back the pages a big message
 * filled). A worker that crashes, runs out of
 * CPU or makes a forbidden call, and a child that overruns the deadline
 * or answers something malformed (then it is killed and replaced), fail
 * that one message (the caller records why, archive untouched). A
 * sandbox object is used by one thread. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archiver/index/mime.h"
#include "archiver/lib/buf.h"
#include "archiver/lib/error.h"

struct index_sandbox;

struct index_sandbox_opts {
	int64_t time_ms; /* wall clock per message; 0: PV_SANDBOX_TIME_MAX_MS */
	int cpu_s;       /* CPU seconds per message; 0: PV_SANDBOX_CPU_MAX_S */
	/* The child and the workers it forks run on this CPU only: a fork of a
	 * process whose memory was used on several CPUs write-protects it with
	 * a TLB shootdown to each of them (costly in a VM: about a tenth of
	 * the sandbox's CPU on the bench); pinned, the process has used one. */
	bool pinned;
	int cpu;
};

/* A sandbox (the child starts with the first message). opts may be NULL. */
int index_sandbox_new(const struct index_sandbox_opts *opts, struct index_sandbox **sb_r,
		      struct pv_error *err);
/* Ends the child and frees. */
void index_sandbox_free(struct index_sandbox **sb);

/* index_mime_extract of raw[0..len) in the child: *doc_r as it would
 * have made it (initialised here; index_doc_free it, also after an
 * error). PV_EPROTO when the child failed on this message: err says how
 * (killed by a signal, which one and, for SIGSYS, that it made a
 * forbidden system call; out of time; a malformed answer); PV_ERR when
 * no child could be run (then nothing is known about the message). */
int index_sandbox_extract(struct index_sandbox *sb, const unsigned char *raw, size_t len,
			  struct index_doc *doc_r, struct pv_error *err);

/* What a reader is shown, made in the child the same way (the web view
 * and `show` parse hostile mail too): index_sandbox_meta is
 * index_mime_extract plus whether the message has an HTML body;
 * index_sandbox_show is index_mime_show (text appended to text_r);
 * index_sandbox_html is index_mime_view_html (appended to html_r, the
 * first PV_VIEW_RAW_MAX bytes read). Failures as index_sandbox_extract's;
 * what comes back must be UTF-8 without NUL and fit the buffer, else
 * PV_EPROTO. */
int index_sandbox_meta(struct index_sandbox *sb, const unsigned char *raw, size_t len,
		       struct index_doc *doc_r, bool *has_html_r, struct pv_error *err);
int index_sandbox_show(struct index_sandbox *sb, const unsigned char *raw, size_t len,
		       struct pv_buf *text_r, struct pv_error *err);
int index_sandbox_html(struct index_sandbox *sb, const unsigned char *raw, size_t len,
		       struct pv_buf *html_r, bool *had_html_r, struct pv_error *err);

/* Whether argv and envp are those of a sandbox child this process would
 * start (what a spawner, lib/spawner.h, lets the web start). */
bool index_sandbox_argv_ok(char *const argv[], char *const envp[]);
/* The program a sandbox child runs (popvault-parser beside this program
 * or in ../libexec/popvault/, else this program) into exe[n]. */
int index_sandbox_program(char *exe, size_t n, struct pv_error *err);
/* The child's side: run as popvault-parser's main() (and before main()
 * in any program linking this file, when the parent's environment marks
 * it as the child). Confines itself, serves its socket, never returns;
 * 2 (with a line on stderr) when not started by index_sandbox_new. */
int index_sandbox_child(int argc, char **argv);

/* The child's pid, 0 when none runs (tests look at it). */
int index_sandbox_pid(const struct index_sandbox *sb);

/* For tests only, never set by popvault itself: called in the child,
 * confined, just before each extraction, with the message's bytes. The
 * child is the program exec'd afresh, so a test sets it in a constructor
 * that runs before this file's (__attribute__((constructor(101)))). */
extern void (*index_sandbox_test_hook)(const unsigned char *raw, size_t len);

/* The document on the pipe. Encoding appends to out; decoding fills an
 * index_doc_init'ed doc and refuses (PV_EPROTO) anything a real
 * extraction cannot produce: a field over its maximum, bytes that are not
 * UTF-8 or hold a NUL, a hidden range outside the body, trailing bytes. */
int index_doc_encode(const struct index_doc *doc, struct pv_buf *out, struct pv_error *err);
int index_doc_decode(const unsigned char *in, size_t len, struct index_doc *doc,
		     struct pv_error *err) PV_WARN_UNUSED;

#endif
