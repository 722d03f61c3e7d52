/* signer_hide_keys (signer.h): after the signer is forked, this process
 * and its children lose the way to the seeds. */
#include "archiver/signer/signer_int.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The capabilities that could reach the seeds again: mount/umount and
 * setns into the signer's namespace (SYS_ADMIN), /proc/PID/{root,mem} of
 * the signer and ptrace (SYS_PTRACE), open_by_handle_at around the mount
 * (DAC_READ_SEARCH), raw disk reads and new device nodes (SYS_RAWIO,
 * MKNOD), kernel modules (SYS_MODULE). */
static const int dropped[] = {CAP_SYS_ADMIN, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH,
			      CAP_SYS_RAWIO, CAP_MKNOD, CAP_SYS_MODULE};

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* A private mount namespace; as a user without CAP_SYS_ADMIN, inside a
 * user namespace of our own that maps only our ids (the kernel then
 * checks every file access against the real ones). */
static int new_namespace(const char **why_r)
{
	if (unshare(CLONE_NEWNS) == 0)
		return 0;
	if (errno != EPERM) {
		*why_r = strerror(errno);
		return 1;
	}
	uid_t uid = geteuid();
	gid_t gid = getegid();
	char map[64];
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) {
		*why_r = errno == EPERM || errno == ENOSPC
				 ? "no mount namespace, and no user namespace for one (a service "
				   "manager's RestrictNamespaces=, or user namespaces disabled)"
				 : strerror(errno);
		return 1;
	}
	snprintf(map, sizeof(map), "%u %u 1", (unsigned)uid, (unsigned)uid);
	if (write_file("/proc/self/setgroups", "deny") != 0 ||
	    write_file("/proc/self/uid_map", map) != 0)
		return -1;
	snprintf(map, sizeof(map), "%u %u 1", (unsigned)gid, (unsigned)gid);
	return write_file("/proc/self/gid_map", map) != 0 ? -1 : 0;
}

static int drop_caps(struct pv_error *err)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
	for (size_t i = 0; i < sizeof(dropped) / sizeof(dropped[0]); i++)
		if (prctl(PR_CAPBSET_DROP, dropped[i], 0, 0, 0) != 0 && errno != EINVAL)
			return pv_fail(err, PV_ERR, "drop capability %d: %s", dropped[i],
				       strerror(errno));
	if (syscall(SYS_capget, &h, d) != 0)
		return pv_fail(err, PV_ERR, "capget: %s", strerror(errno));
	for (size_t i = 0; i < sizeof(dropped) / sizeof(dropped[0]); i++) {
		int c = dropped[i];
		uint32_t bit = 1u << (c % 32);
		d[c / 32].effective &= ~bit;
		d[c / 32].permitted &= ~bit;
		d[c / 32].inheritable &= ~bit;
	}
	if (syscall(SYS_capset, &h, d) != 0)
		return pv_fail(err, PV_ERR, "capset: %s", strerror(errno));
	(void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	return 0;
}

int signer_hide_keys(const char *data_dir, const char **why_r, struct pv_error *err)
{
	char dir[4096];
	struct stat st;
	const char *why = NULL;
	int r;

	archive_sign_dir(data_dir, dir, sizeof(dir));
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return pv_fail(err, PV_ERR, "%s: %s", dir,
			       errno ? strerror(errno) : "not a directory");
	if ((r = new_namespace(&why)) != 0) {
		if (r < 0)
			return pv_fail(err, PV_ERR, "user namespace: %s", strerror(errno));
		if (why_r != NULL)
			*why_r = why;
		return 1;
	}
	/* Our mounts stay ours (a shared root would show the empty
	 * directory to the whole system, the signer included). */
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) != 0)
		return pv_fail(err, PV_ERR, "mount namespace: %s", strerror(errno));
	if (mount("popvault-keys-hidden", dir, "tmpfs",
		  MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=000") != 0)
		return pv_fail(err, PV_ERR, "cover %s: %s", dir, strerror(errno));
	if ((r = drop_caps(err)) < 0)
		return r;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return pv_fail(err, PV_ERR, "no_new_privs: %s", strerror(errno));
	return 0;
}
