#include "archiver/http/harvest_job.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "archiver/lib/buf.h"
#include "archiver/lib/clock.h"
#include "archiver/lib/limits.h"
#include "archiver/lib/log.h"
#include "archiver/lib/spawner.h"
#include "archiver/signer/signer.h"
#include "archiver/store/accounts.h"
#include "archiver/store/users.h"

extern char **environ;

enum job_state { JOB_IDLE, JOB_RUNNING, JOB_DONE, JOB_FAILED };

struct harvest_job {
	char data_dir[PATH_MAX];
	pthread_mutex_t lock;
	pthread_t thread;
	bool thread_live;         /* a reader thread to join */
	enum job_state state;
	pid_t pid;
	int out_fd, err_fd;
	char account[ACCOUNT_NAME_MAX + 1]; /* "" for every account */
	char user[USER_NAME_MAX + 1];
	int64_t started, finished;
	json_t *result;           /* the harvest's summary, NULL when none */
	char error[PV_ERROR_MSG_MAX];
};

int harvest_job_new(const char *data_dir, struct harvest_job **job_r, struct pv_error *err)
{
	struct harvest_job *j = calloc(1, sizeof(*j));
	if (j == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	if (strlen(data_dir) >= sizeof(j->data_dir)) {
		free(j);
		return pv_fail(err, PV_EUSAGE, "data directory path too long");
	}
	memcpy(j->data_dir, data_dir, strlen(data_dir) + 1);
	pthread_mutex_init(&j->lock, NULL);
	j->out_fd = j->err_fd = -1;
	*job_r = j;
	return PV_OK;
}

bool harvest_job_running(struct harvest_job *j)
{
	pthread_mutex_lock(&j->lock);
	bool running = j->state == JOB_RUNNING;
	pthread_mutex_unlock(&j->lock);
	return running;
}

/* The last line of the child's error output, without "popvault: ". */
static void last_error_line(const struct pv_buf *b, char *out, size_t n)
{
	const char *s = pv_buf_str(b), *line = s;
	for (const char *p = s; *p; p++)
		if (*p == '\n' && p[1] != '\0')
			line = p + 1;
	size_t len = strcspn(line, "\n");
	if (strncmp(line, "popvault: ", 10) == 0) {
		line += 10;
		len -= 10;
	}
	snprintf(out, n, "%.*s", (int)len, line);
}

/* Reads both pipes to their end (each kept up to its cap). */
static void drain(int out_fd, int err_fd, struct pv_buf *out, struct pv_buf *errs)
{
	struct pollfd pf[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
	struct pv_buf *dst[2] = {out, errs};
	char buf[16384];
	int open_fds = 2;
	while (open_fds > 0) {
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < 2; i++) {
			if (pf[i].fd < 0 || pf[i].revents == 0)
				continue;
			ssize_t k = read(pf[i].fd, buf, sizeof(buf));
			if (k < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (k <= 0) {
				pf[i].fd = -1;
				open_fds--;
				continue;
			}
			(void)pv_buf_append(dst[i], buf, (size_t)k, NULL);
		}
	}
}

static void *job_thread(void *arg)
{
	struct harvest_job *j = arg;
	struct pv_buf out, errs;
	int status = 0;
	pv_buf_init(&out, PV_HTTP_HARVEST_OUTPUT_MAX);
	pv_buf_init(&errs, PV_HTTP_HARVEST_ERRORS_MAX);
	drain(j->out_fd, j->err_fd, &out, &errs);
	while (waitpid(j->pid, &status, 0) < 0 && errno == EINTR)
		;
	json_t *result = json_loadb((const char *)out.data, out.len, JSON_REJECT_DUPLICATES, NULL);
	if (result != NULL && !json_is_object(result)) {
		json_decref(result);
		result = NULL;
	}
	pthread_mutex_lock(&j->lock);
	close(j->out_fd);
	close(j->err_fd);
	j->out_fd = j->err_fd = -1;
	j->finished = pv_clock_now();
	j->result = result;
	bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0 && result != NULL;
	j->state = ok ? JOB_DONE : JOB_FAILED;
	if (!ok && errs.len > 0)
		last_error_line(&errs, j->error, sizeof(j->error));
	else if (!ok && WIFSIGNALED(status))
		snprintf(j->error, sizeof(j->error), "the harvest process died (signal %d)",
			 WTERMSIG(status));
	else if (!ok)
		snprintf(j->error, sizeof(j->error), "the harvest gave no summary (exit %d)",
			 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	j->pid = 0;
	pthread_mutex_unlock(&j->lock);
	pv_log(ok ? PV_LOG_INFO : PV_LOG_WARN, "http.harvest", "harvest now (%s) %s%s%s",
	       j->account[0] ? j->account : "every account", ok ? "done" : "failed",
	       ok ? "" : ": ", ok ? "" : j->error);
	pv_buf_free(&out);
	pv_buf_free(&errs);
	return NULL;
}

/* environ with `var` ("NAME=value") put in place of any NAME=; the array
 * is malloc'ed, its strings are environ's and var. */
static char **env_with(char *var)
{
	size_t n = 0, k = 0, name = strcspn(var, "=") + 1;
	while (environ[n] != NULL)
		n++;
	char **v = calloc(n + 2, sizeof(*v));
	if (v == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], var, name) != 0)
			v[k++] = environ[i];
	v[k] = var;
	return v;
}

/* The same through the web's spawner (lib/spawner.h: the web may not
 * exec): /dev/null, the pipes and the signer's control socket as 0-3. */
static int spawn_through(struct harvest_job *j, char **argv, int out_w, int err_w,
			 struct pv_error *err)
{
	struct signer *sg = signer_in_use();
	char fd_env[32], **envp = environ;
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null < 0)
		return pv_fail(err, PV_ERR, "/dev/null: %s", strerror(errno));
	int fds[4] = {null, out_w, err_w, sg != NULL ? signer_control_fd(sg) : -1};
	if (sg != NULL) {
		snprintf(fd_env, sizeof(fd_env), SIGNER_FD_ENV "=3");
		if ((envp = env_with(fd_env)) == NULL) {
			close(null);
			return pv_fail(err, PV_ERR, "out of memory");
		}
	}
	int r = pv_spawn(argv, envp, fds, sg != NULL ? 4 : 3, &j->pid, err);
	close(null);
	if (envp != environ)
		free(envp);
	return r < 0 ? pv_error_prefix(err, "cannot start the harvest") : PV_OK;
}

bool harvest_job_argv_ok(const char *data_dir, char *const argv[], char *const envp[])
{
	static const char *const tail[] = {"--json", "harvest", "--once", "--wait"};
	char exe[PATH_MAX];
	size_t n = 0;
	ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	while (argv[n] != NULL)
		n++;
	if (len <= 0 || (n != 7 && n != 9))
		return false;
	exe[len] = '\0';
	if (strcmp(argv[0], exe) != 0 || strcmp(argv[1], "--data") != 0 ||
	    strcmp(argv[2], data_dir) != 0 || (n == 9 && strcmp(argv[7], "--account") != 0))
		return false;
	for (size_t i = 0; i < 4; i++)
		if (strcmp(argv[3 + i], tail[i]) != 0)
			return false;
	/* Nothing in the environment but what this process has (no
	 * LD_PRELOAD of the requester's choosing) and the signer's socket. */
	for (size_t i = 0; envp[i] != NULL; i++) {
		bool known = strcmp(envp[i], SIGNER_FD_ENV "=3") == 0;
		for (size_t k = 0; !known && environ[k] != NULL; k++)
			known = strcmp(envp[i], environ[k]) == 0;
		if (!known)
			return false;
	}
	return true;
}

/* posix_spawn of /proc/self/exe with stdout and stderr on the pipes, every
 * signal unblocked (serve blocks SIGINT and SIGTERM in all its threads for
 * sigwait; the harvest must get them to stop cleanly). */
static int spawn(struct harvest_job *j, int out_w, int err_w, struct pv_error *err)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return pv_fail(err, PV_ERR, "cannot find this program: %s", strerror(errno));
	exe[n] = '\0';
	/* --wait: serve's scheduler may be in a round; this one follows it. */
	char *argv[] = {exe, "--data", j->data_dir, "--json", "harvest", "--once", "--wait",
			j->account[0] ? "--account" : NULL, j->account, NULL};
	if (pv_spawner_active())
		return spawn_through(j, argv, out_w, err_w, err);
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, dfl;
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGINT);
	sigaddset(&dfl, SIGTERM);
	sigaddset(&dfl, SIGPIPE);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out_w, 1);
	posix_spawn_file_actions_adddup2(&fa, err_w, 2);
	/* The server's signer signs for it too (it cannot read the keys):
	 * its control socket as descriptor 3, named in the environment. */
	struct signer *sg = signer_in_use();
	char **envp = environ, fd_env[32];
	if (sg != NULL) {
		posix_spawn_file_actions_adddup2(&fa, signer_control_fd(sg), 3);
		snprintf(fd_env, sizeof(fd_env), SIGNER_FD_ENV "=3");
		if ((envp = env_with(fd_env)) == NULL) {
			posix_spawn_file_actions_destroy(&fa);
			return pv_fail(err, PV_ERR, "out of memory");
		}
	}
	/* Nothing else of the server's (sockets, its catalog handles) goes
	 * with it, whether or not it was opened close-on-exec. */
	posix_spawn_file_actions_addclosefrom_np(&fa, sg != NULL ? 4 : 3);
	posix_spawnattr_init(&at);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &dfl);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	int rc = posix_spawn(&j->pid, exe, &fa, &at, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (envp != environ)
		free(envp);
	if (rc != 0)
		return pv_fail(err, PV_ERR, "cannot start the harvest: %s", strerror(rc));
	return PV_OK;
}

int harvest_job_start(struct harvest_job *j, const char *account, const char *user,
		      struct pv_error *err)
{
	int out[2] = {-1, -1}, errp[2] = {-1, -1}, r;

	pthread_mutex_lock(&j->lock);
	if (j->state == JOB_RUNNING) {
		pthread_mutex_unlock(&j->lock);
		return pv_fail(err, PV_ETEMP, "a harvest started here still runs");
	}
	if (j->thread_live) {
		pthread_join(j->thread, NULL); /* the last one's reader, finished */
		j->thread_live = false;
	}
	snprintf(j->account, sizeof(j->account), "%s", account ? account : "");
	snprintf(j->user, sizeof(j->user), "%s", user);
	json_decref(j->result);
	j->result = NULL;
	j->error[0] = '\0';
	j->started = pv_clock_now();
	j->finished = 0;
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
		r = pv_fail(err, PV_ERR, "pipe: %s", strerror(errno));
	} else if ((r = spawn(j, out[1], errp[1], err)) == PV_OK) {
		j->out_fd = out[0];
		j->err_fd = errp[0];
		out[0] = errp[0] = -1;
		j->state = JOB_RUNNING;
		if (pthread_create(&j->thread, NULL, job_thread, j) != 0) {
			/* Without a reader the child would block: stop it. */
			kill(j->pid, SIGKILL);
			while (waitpid(j->pid, NULL, 0) < 0 && errno == EINTR)
				;
			close(j->out_fd);
			close(j->err_fd);
			j->out_fd = j->err_fd = -1;
			j->state = JOB_FAILED;
			snprintf(j->error, sizeof(j->error), "cannot start a thread");
			r = pv_fail(err, PV_ERR, "cannot start a thread");
		} else {
			j->thread_live = true;
		}
	}
	for (int i = 0; i < 2; i++) {
		if (out[i] >= 0)
			close(out[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	pthread_mutex_unlock(&j->lock);
	return r;
}

static const char *state_name(enum job_state s)
{
	switch (s) {
	case JOB_RUNNING: return "running";
	case JOB_DONE: return "done";
	case JOB_FAILED: return "failed";
	case JOB_IDLE: break;
	}
	return "idle";
}

static json_t *time_or_null(int64_t t)
{
	char buf[PV_RFC3339_LEN];
	if (t <= 0)
		return json_null();
	pv_clock_format_rfc3339(t, buf);
	return json_string(buf);
}

json_t *harvest_job_json(struct harvest_job *j)
{
	pthread_mutex_lock(&j->lock);
	bool idle = j->state == JOB_IDLE;
	json_t *o = json_pack(
		"{s:s, s:o, s:o, s:o, s:o, s:O, s:o}", "state", state_name(j->state), "account",
		j->account[0] ? json_string(j->account) : json_null(), "requested_by",
		idle ? json_null() : json_string(j->user), "started", time_or_null(j->started),
		"finished", time_or_null(j->finished), "result",
		j->result ? j->result : json_null(), "error",
		j->error[0] ? json_string(j->error) : json_null());
	pthread_mutex_unlock(&j->lock);
	return o;
}

void harvest_job_free(struct harvest_job **jp)
{
	struct harvest_job *j = *jp;
	if (j == NULL)
		return;
	pthread_mutex_lock(&j->lock);
	if (j->state == JOB_RUNNING && j->pid > 0)
		kill(j->pid, SIGTERM);
	bool join = j->thread_live;
	pthread_mutex_unlock(&j->lock);
	if (join)
		pthread_join(j->thread, NULL);
	json_decref(j->result);
	pthread_mutex_destroy(&j->lock);
	free(j);
	*jp = NULL;
}
