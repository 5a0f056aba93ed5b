/* Tells the service manager (systemd, Type=notify) where the daemon is in its life: ready once
 * it listens and polls, reloading while a reload runs, stopping when it shuts down. Without
 * libsystemd at build time, or without $NOTIFY_SOCKET at run time, these do nothing. */
#ifndef REPLMON_NOTIFY_H
#define REPLMON_NOTIFY_H

void notify_ready(void);
void notify_reloading(void);
void notify_stopping(void);

/* Socket activation (--web.systemd-socket): the listening stream sockets the service manager
 * passed, numbered from *first (taken over by the caller; $LISTEN_FDS and friends are unset).
 * Returns how many (at least 1), or a negative errno after logging why: -ENOENT when none was
 * passed, -ENOTSOCK when one is not a listening stream socket, -ENOTSUP without libsystemd. */
int notify_listen_fds(int *first);

#endif
