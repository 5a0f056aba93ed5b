#include "notify.h"
#include "build_features.h"
#include "log.h"

#include <errno.h>

#ifdef HAVE_LIBSYSTEMD
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>

/* A failure is logged, never fatal: the service manager then times out and says so itself. */
static void notify(const char *state, const char *what) {
  int rc = sd_notify(0, state);
  if (rc < 0)
    log_event(LOG_WARN, "cannot notify the service manager", "state", what, "err", strerror(-rc));
}

void notify_ready(void) {
  notify("READY=1\nSTATUS=polling and serving", "ready");
}

void notify_reloading(void) {
  notify("RELOADING=1\nSTATUS=reloading the configuration", "reloading");
}

void notify_stopping(void) {
  notify("STOPPING=1\nSTATUS=stopping", "stopping");
}

int notify_listen_fds(int *first) {
  int n = sd_listen_fds(1);
  if (n < 0) {
    log_event(LOG_ERROR, "--web.systemd-socket: cannot read the sockets systemd passed", "err",
              strerror(-n));
    return n;
  }
  if (n == 0) {
    log_event(LOG_ERROR, "--web.systemd-socket: systemd passed no socket (start replmon from a "
                         ".socket unit, see replmon.socket)");
    return -ENOENT;
  }
  for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; fd++) {
    if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0) {
      char text[16];
      snprintf(text, sizeof(text), "%d", fd);
      log_event(LOG_ERROR,
                "--web.systemd-socket: a passed file descriptor is not a listening stream socket "
                "(use ListenStream= in the .socket unit)",
                "fd", text);
      return -ENOTSOCK;
    }
  }
  *first = SD_LISTEN_FDS_START;
  return n;
}
#else
int notify_listen_fds(int *first) {
  (void)first;
  log_event(LOG_ERROR, "--web.systemd-socket: replmon was built without libsystemd");
  return -ENOTSUP;
}

void notify_ready(void) {}

void notify_reloading(void) {}

void notify_stopping(void) {}
#endif
