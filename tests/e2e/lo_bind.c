/*
 * LD_PRELOAD shim for the e2e tests' Chromium (tests/e2e/browser.py): sockets bind on
 * loopback only.
 *
 * Why: Chromium gathers ICE candidates on every interface (the loopback one too with
 * --allow-loopback-in-peer-connection) and reads the interface list over netlink, so a
 * getifaddrs() shim like lo_getifaddrs.c cannot hide eth0 from it. A socket it binds on
 * the LAN address sends connectivity checks to Janus's 127.0.0.1 candidate, and as the
 * LAN network costs less than loopback to Chromium, that pair tends to win.
 *
 * What: bind() of an IPv4 address outside 127.0.0.0/8, or of an IPv6 address other than
 * ::1, fails with EADDRNOTAVAIL (Chromium then has no candidate there); wildcard and
 * loopback binds go through.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>

int bind(int fd, const struct sockaddr *addr, socklen_t len) {
	static int (*real_bind)(int, const struct sockaddr *, socklen_t) = NULL;
	if(real_bind == NULL)
		real_bind = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "bind");
	if(real_bind == NULL) {
		errno = ENOSYS;
		return -1;
	}
	if(addr != NULL && addr->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		in_addr_t ip = ntohl(((const struct sockaddr_in *)addr)->sin_addr.s_addr);
		if(ip != INADDR_ANY && (ip >> 24) != 127) {
			errno = EADDRNOTAVAIL;
			return -1;
		}
	} else if(addr != NULL && addr->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct in6_addr *ip = &((const struct sockaddr_in6 *)addr)->sin6_addr;
		if(!IN6_IS_ADDR_UNSPECIFIED(ip) && !IN6_IS_ADDR_LOOPBACK(ip)) {
			errno = EADDRNOTAVAIL;
			return -1;
		}
	}
	return real_bind(fd, addr, len);
}
