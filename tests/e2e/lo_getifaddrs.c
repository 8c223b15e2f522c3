/*
 * LD_PRELOAD shim for the e2e tests: make Janus gather ICE candidates on
 * 127.0.0.1 only.
 *
 * Why: Janus 1.1.2 (src/ice.c, janus_ice_setup_local) walks getifaddrs() and
 * skips every interface flagged IFF_LOOPBACK *before* it looks at
 * nat.ice_enforce_list.  With "lo" enforced it therefore adds no address at
 * all, and libnice then gathers on nice_interfaces_get_local_ips(FALSE),
 * i.e. every non-loopback address (eth0 here).  So `ice_enforce_list = "lo"`
 * alone yields candidates on the machine's LAN address, not 127.0.0.1.
 *
 * What: wrap getifaddrs() so that
 *   - IPv4 127.0.0.0/8 entries stay UP/RUNNING but lose IFF_LOOPBACK, so
 *     Janus's gathering loop accepts them ("lo" matches the enforce list);
 *   - every other entry (eth0, ::1, AF_PACKET, ...) is reported down
 *     (IFF_UP and IFF_RUNNING cleared), so Janus, libnice and the transports
 *     skip it.
 * The list is modified in place, so the real freeifaddrs() still frees it.
 * Only the janus process started by tests/e2e/harness.py is preloaded.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stddef.h>

int getifaddrs(struct ifaddrs **ifap) {
	static int (*real_getifaddrs)(struct ifaddrs **) = NULL;
	if(real_getifaddrs == NULL)
		real_getifaddrs = (int (*)(struct ifaddrs **))dlsym(RTLD_NEXT, "getifaddrs");
	if(real_getifaddrs == NULL)
		return -1;
	int rc = real_getifaddrs(ifap);
	if(rc != 0 || ifap == NULL)
		return rc;
	for(struct ifaddrs *ifa = *ifap; ifa != NULL; ifa = ifa->ifa_next) {
		int loopback_v4 = ifa->ifa_addr != NULL && ifa->ifa_addr->sa_family == AF_INET &&
			(ntohl(((struct sockaddr_in *)ifa->ifa_addr)->sin_addr.s_addr) >> 24) == 127;
		if(loopback_v4)
			ifa->ifa_flags &= ~IFF_LOOPBACK;
		else
			ifa->ifa_flags &= ~(IFF_UP | IFF_RUNNING);
	}
	return rc;
}
