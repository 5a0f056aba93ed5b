/* Tells the service manager (systemd, Type=notify) where the daemon is in its life: ready once
 * it listens and polls, reloading while a reload runs, stopping when it shuts down. Without
 * libsystemd at build time, or without $NOTIFY_SOCKET at run time, these do nothing. */
#ifndef REPLMON_NOTIFY_H
#define REPLMON_NOTIFY_H

void notify_ready(void);
void notify_reloading(void);
void notify_stopping(void);

#endif
