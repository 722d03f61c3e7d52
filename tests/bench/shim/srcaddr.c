/* LD_PRELOAD shim for the API benchmark's load client (wrk): every TCP
 * connection to 127.0.0.1 leaves from one of 16 loopback source addresses
 * (127.0.0.2 .. 127.0.0.17) in turn. popvault serve allows 32 connections
 * per client address (PV_HTTP_PER_IP_CONNECTIONS_MAX), so 50 concurrent
 * clients must come from more than one address, as they would in an
 * office. Built by tests/bench/bench_api.py with cc -shared; not part of
 * popvault. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>

static atomic_uint next_addr;

int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	static int (*real_connect)(int, const struct sockaddr *, socklen_t);
	if (real_connect == NULL)
		real_connect = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT,
										      "connect");
	if (sa != NULL && sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *to = (const struct sockaddr_in *)sa;
		if (to->sin_addr.s_addr == htonl(INADDR_LOOPBACK)) {
			struct sockaddr_in from;
			memset(&from, 0, sizeof(from));
			from.sin_family = AF_INET;
			from.sin_addr.s_addr = htonl(0x7f000002u + atomic_fetch_add(&next_addr, 1) % 16);
			(void)bind(fd, (const struct sockaddr *)&from, sizeof(from));
		}
	}
	return real_connect(fd, sa, len);
}
