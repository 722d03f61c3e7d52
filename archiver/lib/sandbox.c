#include "archiver/lib/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "archiver/lib/log.h"

/* Landlock rights newer than Debian 12's kernel headers (the kernel is
 * asked which it knows: pv_landlock_abi). */
#define LL_FS_TRUNCATE (1ULL << 14)  /* ABI 3 */
#define LL_FS_IOCTL_DEV (1ULL << 15) /* ABI 5 */
#define LL_NET_BIND_TCP (1ULL << 0)  /* ABI 4 */
#define LL_NET_CONNECT_TCP (1ULL << 1)
#define LL_RULE_NET_PORT 2             /* LANDLOCK_RULE_NET_PORT */
#define LL_SCOPE_ABSTRACT_UNIX (1ULL << 0) /* ABI 6 */
#define LL_SCOPE_SIGNAL (1ULL << 1)

/* struct landlock_ruleset_attr as of ABI 6; the kernel takes a prefix. */
struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

static bool parser_noted;

int pv_landlock_abi(void)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	return abi < 0 ? 0 : (int)abi;
}

static uint64_t fs_rights(int abi)
{
	uint64_t all = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |
		       LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR |
		       LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |
		       LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR |
		       LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK |
		       LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |
		       LANDLOCK_ACCESS_FS_MAKE_SYM;
	if (abi >= 2)
		all |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		all |= LL_FS_TRUNCATE;
	if (abi >= 5)
		all |= LL_FS_IOCTL_DEV;
	return all;
}

static uint64_t rights_for(unsigned access, int abi, bool dir)
{
	uint64_t r = 0;
	if (access & PV_LL_READ)
		r |= LANDLOCK_ACCESS_FS_READ_FILE | (dir ? LANDLOCK_ACCESS_FS_READ_DIR : 0);
	if (access & PV_LL_WRITE) {
		r |= LANDLOCK_ACCESS_FS_WRITE_FILE | (abi >= 3 ? LL_FS_TRUNCATE : 0);
		if (dir)
			r |= LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_REG;
	}
	if (access & PV_LL_EXEC)
		r |= LANDLOCK_ACCESS_FS_EXECUTE;
	return r & fs_rights(abi);
}

/* Ruleset rs (closed here) in force for this process, unless r (the
 * status of making it) is already an error. */
static int restrict_self(int rs, int r, struct pv_error *err)
{
	if (r == 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		r = pv_fail(err, PV_ERR, "no_new_privs: %s", strerror(errno));
	if (r == 0 && syscall(SYS_landlock_restrict_self, rs, 0) != 0)
		r = pv_fail(err, PV_ERR, "landlock: restrict: %s", strerror(errno));
	close(rs);
	return r;
}

int pv_landlock_restrict(const struct pv_landlock_path *paths, size_t n, const char **why_r,
			 struct pv_error *err)
{
	struct ll_ruleset_attr attr = {0};
	size_t attr_size = sizeof(attr.handled_access_fs);
	int abi = pv_landlock_abi(), r = 0;

	if (abi <= 0) {
		if (why_r != NULL)
			*why_r = errno == EOPNOTSUPP ? "Landlock is disabled in this kernel"
						     : "this kernel has no Landlock";
		return 1;
	}
	attr.handled_access_fs = fs_rights(abi);
	if (abi >= 4) {
		attr.handled_access_net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;
		attr_size = offsetof(struct ll_ruleset_attr, scoped);
	}
	if (abi >= 6) {
		attr.scoped = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL;
		attr_size = sizeof(attr);
	}
	int rs = (int)syscall(SYS_landlock_create_ruleset, &attr, attr_size, 0);
	if (rs < 0)
		return pv_fail(err, PV_ERR, "landlock: create ruleset: %s", strerror(errno));
	for (size_t i = 0; i < n && r == 0; i++) {
		struct landlock_path_beneath_attr pb = {0};
		int fd = open(paths[i].path, O_PATH | O_CLOEXEC);
		if (fd < 0)
			continue; /* nothing there to allow */
		struct stat st;
		bool dir = fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
		pb.allowed_access = rights_for(paths[i].access, abi, dir);
		pb.parent_fd = fd;
		if (syscall(SYS_landlock_add_rule, rs, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) != 0)
			r = pv_fail(err, PV_ERR, "landlock: rule for %s: %s", paths[i].path,
				    strerror(errno));
		close(fd);
	}
	return restrict_self(rs, r, err);
}

int pv_landlock_tcp_connect_only(unsigned port, const char **why_r, struct pv_error *err)
{
	struct ll_ruleset_attr attr = {0};
	int abi = pv_landlock_abi(), r = 0;
	if (abi < 4) {
		if (why_r != NULL)
			*why_r = abi <= 0 ? "this kernel has no Landlock"
					  : "this kernel's Landlock has no network rules (ABI < 4)";
		return 1;
	}
	attr.handled_access_net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;
	int rs = (int)syscall(SYS_landlock_create_ruleset, &attr,
			      offsetof(struct ll_ruleset_attr, scoped), 0);
	if (rs < 0)
		return pv_fail(err, PV_ERR, "landlock: create ruleset: %s", strerror(errno));
	/* struct landlock_net_port_attr (ABI 4; newer than Debian 12's headers) */
	struct __attribute__((packed)) {
		uint64_t allowed_access;
		uint64_t port;
	} np = {LL_NET_CONNECT_TCP, port};
	if (syscall(SYS_landlock_add_rule, rs, LL_RULE_NET_PORT, &np, 0) != 0)
		r = pv_fail(err, PV_ERR, "landlock: rule for port %u: %s", port, strerror(errno));
	return restrict_self(rs, r, err);
}

int pv_sandbox_signer(const char *key_dir, struct pv_error *err)
{
	const struct pv_landlock_path paths[] = {{key_dir, PV_LL_READ | PV_LL_WRITE}};
	const char *why = NULL;
	int r = pv_landlock_restrict(paths, 1, &why, err);
	if (r < 0)
		return r;
	if (r == 1)
		pv_log(PV_LOG_WARN, "sandbox.landlock", "signer: %s; seccomp alone confines it", why);
	return pv_sandbox_role(PV_ROLE_SIGNER, err);
}

int pv_sandbox_parser(struct pv_error *err)
{
	const struct pv_landlock_path paths[] = {
		{"/usr", PV_LL_READ | PV_LL_EXEC},  {"/lib", PV_LL_READ | PV_LL_EXEC},
		{"/lib64", PV_LL_READ | PV_LL_EXEC}, {"/bin", PV_LL_READ | PV_LL_EXEC},
		{"/etc", PV_LL_READ},                {"/dev/null", PV_LL_READ | PV_LL_WRITE},
	};
	const char *why = NULL;
	int r = pv_landlock_restrict(paths, sizeof(paths) / sizeof(paths[0]), &why, err);
	if (r < 0)
		return r;
	if (r == 1 && !parser_noted) {
		parser_noted = true; /* once per process, not per child */
		pv_log(PV_LOG_WARN, "sandbox.landlock", "parser sandbox: %s; seccomp alone confines it",
		       why);
	}
	return pv_sandbox_role(PV_ROLE_PARSER, err);
}
