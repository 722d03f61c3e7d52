/* --listen ADDR:PORT, for the commands that serve HTTP (serve, witness). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/cli/cli.h"

/* "ADDR:PORT" or "[V6ADDR]:PORT", numeric addresses only. */
int cli_parse_listen(const char *s, struct cli_listen *a, struct pv_error *err)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(s, ':');
	size_t hl = colon ? (size_t)(colon - s) : 0;
	char *end;

	memset(a, 0, sizeof(*a));
	if (colon == NULL || hl == 0 || hl >= sizeof(host) || colon[1] == '\0')
		return pv_fail(err, PV_EUSAGE, "--listen wants ADDR:PORT, e.g. 127.0.0.1:8443");
	memcpy(host, s, hl);
	host[hl] = '\0';
	errno = 0;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (errno || *end != '\0' || port > 65535 || colon[1] == '-' || colon[1] == '+')
		return pv_fail(err, PV_EUSAGE, "--listen: bad port '%s'", colon + 1);
	a->port = (unsigned)port;
	if (host[0] == '[' && host[hl - 1] == ']') {
		struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&a->ss;
		host[hl - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &v6->sin6_addr) != 1)
			return pv_fail(err, PV_EUSAGE, "--listen: bad IPv6 address '%s'", host + 1);
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		a->loopback = IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr);
		memmove(a->host, host + 1, strlen(host + 1) + 1);
		return PV_OK;
	}
	struct sockaddr_in *v4 = (struct sockaddr_in *)&a->ss;
	if (inet_pton(AF_INET, host, &v4->sin_addr) != 1)
		return pv_fail(err, PV_EUSAGE, "--listen: '%s' is not a numeric address "
					       "(use [..] for IPv6)", host);
	v4->sin_family = AF_INET;
	v4->sin_port = htons((uint16_t)port);
	a->loopback = (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
	memcpy(a->host, host, hl + 1);
	return PV_OK;
}
