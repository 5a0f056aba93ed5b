#include "notify.h"
#include "build_features.h"
#include "log.h"

#ifdef HAVE_LIBSYSTEMD
#include <string.h>
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
#else
void notify_ready(void) {}

void notify_reloading(void) {}

void notify_stopping(void) {}
#endif
