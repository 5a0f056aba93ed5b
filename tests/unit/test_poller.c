/* The scheduler with a fake probe kind and a virtual clock: the cadence, a poll that
 * overruns its slot, backoff while a target is unreachable and its cap, recovery, failures
 * that do not back off, a reload that keeps or replaces pollers, and a stop that wakes a
 * sleeping poller at once and waits for a slow poll to finish. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "helpers.h"
#include "log.h"
#include "poller.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <time.h>

#define MAX_POLLS 64

/* ---- a virtual clock: waiting jumps to the deadline ---- */

struct vclock {
  pthread_mutex_t lock;
  double now;
};

static double vclock_now(void *ctx) {
  struct vclock *c = ctx;
  pthread_mutex_lock(&c->lock);
  double t = c->now;
  pthread_mutex_unlock(&c->lock);
  return t;
}

static void vclock_advance(struct vclock *c, double seconds) {
  pthread_mutex_lock(&c->lock);
  c->now += seconds;
  pthread_mutex_unlock(&c->lock);
}

/* Time passes until the deadline at once; a stop is seen when the poller checks its flag. */
static int vclock_wait(void *ctx, pthread_cond_t *wake, pthread_mutex_t *lock, double deadline) {
  (void)wake;
  (void)lock;
  struct vclock *c = ctx;
  pthread_mutex_lock(&c->lock);
  if (deadline > c->now)
    c->now = deadline;
  pthread_mutex_unlock(&c->lock);
  return ETIMEDOUT;
}

/* ---- a fake probe kind ---- */

struct fake_settings {
  int address; /* a change means a new connection */
};

struct fake {
  pthread_mutex_t lock;
  pthread_cond_t changed;
  struct vclock *clock;                 /* NULL with the real clock */
  double poll_duration_s;               /* virtual time each poll takes */
  double slow_poll_real_s;              /* real time each poll takes */
  enum probe_reason failure[MAX_POLLS]; /* REASON_NONE: that poll succeeds */
  int polls;
  double at[MAX_POLLS]; /* when each poll started */
  const struct fake_settings *settings_seen[MAX_POLLS];
  int opens, closes;
  bool in_poll;
};

static struct fake fake;

static void *fake_open(const void *settings, const struct probe_timeouts *timeouts) {
  (void)timeouts;
  pthread_mutex_lock(&fake.lock);
  fake.opens++;
  pthread_mutex_unlock(&fake.lock);
  return (void *)settings; /* any non-NULL state */
}

static void fake_close(void *conn) {
  (void)conn;
  pthread_mutex_lock(&fake.lock);
  fake.closes++;
  pthread_mutex_unlock(&fake.lock);
}

static bool fake_same(const void *a, const void *b) {
  return ((const struct fake_settings *)a)->address == ((const struct fake_settings *)b)->address;
}

static void sleep_real(double seconds) {
  struct timespec ts = timespec_from_seconds(seconds);
  nanosleep(&ts, NULL);
}

static int fake_poll(void *conn, const void *settings, const struct probe_timeouts *timeouts,
                     const void *last, void *data, struct probe_error *err) {
  (void)conn;
  (void)timeouts;
  (void)last;
  (void)data;
  pthread_mutex_lock(&fake.lock);
  int i = fake.polls;
  if (i < MAX_POLLS) {
    fake.at[i] = fake.clock ? vclock_now(fake.clock) : clock_monotonic_seconds();
    fake.settings_seen[i] = settings;
  }
  enum probe_reason failure = i < MAX_POLLS ? fake.failure[i] : REASON_NONE;
  fake.in_poll = true;
  pthread_cond_broadcast(&fake.changed);
  pthread_mutex_unlock(&fake.lock);
  if (fake.clock)
    vclock_advance(fake.clock, fake.poll_duration_s);
  if (fake.slow_poll_real_s > 0)
    sleep_real(fake.slow_poll_real_s);
  else if (i >= MAX_POLLS)
    sleep_real(0.001); /* enough: let the test stop it */
  pthread_mutex_lock(&fake.lock);
  fake.polls++;
  fake.in_poll = false;
  pthread_cond_broadcast(&fake.changed);
  pthread_mutex_unlock(&fake.lock);
  if (failure == REASON_NONE)
    return 0;
  probe_error_set(err, failure, "fake failure");
  return -EIO;
}

static bool fake_backs_off(enum probe_reason reason) {
  return reason == REASON_CONNECT;
}

static bool fake_needs_person(enum probe_reason reason) {
  (void)reason;
  return false;
}

static void *fake_data_new(void) {
  return mariadb_probe_ops.data_new(); /* the analysis reads a MariaDB target's data */
}

static const enum probe_reason fake_reasons[] = {REASON_CONNECT, REASON_QUERY};

static const struct probe_ops fake_ops = {
    .name = "fake",
    .reasons = fake_reasons,
    .n_reasons = 2,
    .same_settings = fake_same,
    .open = fake_open,
    .close = fake_close,
    .data_new = fake_data_new,
    .data_free = NULL, /* set at run time: mariadb_probe_ops.data_free */
    .poll = fake_poll,
    .backs_off = fake_backs_off,
    .needs_person = fake_needs_person,
};

static struct probe_ops ops; /* fake_ops with data_free filled in */

static void fake_reset(struct vclock *clock) {
  pthread_mutex_destroy(&fake.lock);
  pthread_cond_destroy(&fake.changed);
  memset(&fake, 0, sizeof(fake));
  pthread_mutex_init(&fake.lock, NULL);
  pthread_cond_init(&fake.changed, NULL);
  fake.clock = clock;
  for (int i = 0; i < MAX_POLLS; i++)
    fake.failure[i] = REASON_NONE;
  ops = fake_ops;
  ops.data_free = mariadb_probe_ops.data_free;
}

/* Waits (real time, bounded) until the fake has polled n times. */
static void wait_for_polls(int n) {
  double deadline = clock_monotonic_seconds() + 20;
  pthread_mutex_lock(&fake.lock);
  while (fake.polls < n && clock_monotonic_seconds() < deadline) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 10 * 1000 * 1000;
    if (ts.tv_nsec >= 1000000000) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(&fake.changed, &fake.lock, &ts);
  }
  int polls = fake.polls;
  pthread_mutex_unlock(&fake.lock);
  assert_true(polls >= n);
}

/* A configuration of n targets, all of the fake kind with settings[i]. */
static struct config *fake_config(const char *interval, size_t n,
                                  const struct fake_settings *settings) {
  char yaml[1024];
  int len = snprintf(yaml, sizeof(yaml),
                     "global: {poll_interval: %s}\n"
                     "mariadb:\n"
                     "  - cluster: c\n"
                     "    user: u\n"
                     "    nodes:\n",
                     interval);
  for (size_t i = 0; i < n; i++)
    len += snprintf(yaml + len, sizeof(yaml) - (size_t)len,
                    "      - {name: n%zu, address: 'h:%zu'}\n", i, i + 1);
  struct config *config = config_from_yaml(yaml);
  for (size_t i = 0; i < n; i++) {
    config->targets[i].ops = &ops;
    config->targets[i].settings = &settings[i];
  }
  return config;
}

struct run {
  struct vclock clock;
  struct config *config;
  struct snapshot_store *store;
  struct pollers *pollers;
};

/* Sets the fake up (the test then says how it behaves), then run_go starts the pollers. */
static void run_init(struct run *r, const char *interval, const struct fake_settings *settings,
                     size_t n, bool virtual_clock) {
  pthread_mutex_init(&r->clock.lock, NULL);
  r->clock.now = 1000;
  fake_reset(virtual_clock ? &r->clock : NULL);
  r->config = fake_config(interval, n, settings);
  r->store = snapshot_store_new(r->config);
  assert_non_null(r->store);
}

static void run_go(struct run *r) {
  struct poller_clock clock = {vclock_now, vclock_wait, &r->clock};
  assert_int_equal(
      pollers_start_clocked(r->config, r->store, fake.clock ? &clock : NULL, &r->pollers), 0);
}

static void run_stop(struct run *r) {
  pollers_stop(r->pollers);
  snapshot_store_free(r->store);
  config_unref(r->config);
  pthread_mutex_destroy(&r->clock.lock);
}

/* Checks the start times of the first n polls, relative to the first. */
static void expect_times(const double *expected, int n) {
  for (int i = 0; i < n; i++) {
    double at = fake.at[i] - fake.at[0];
    if (fabs(at - expected[i]) > 1e-6)
      fail_msg("poll %d started at +%.3fs, expected +%.3fs", i, at, expected[i]);
  }
}

static const struct fake_settings one[] = {{1}};

static void test_cadence(void **state) {
  (void)state;
  struct run r;
  run_init(&r, "1s", one, 1, true);
  fake.poll_duration_s = 0.25;
  run_go(&r);
  wait_for_polls(6);
  run_stop(&r);
  const double expected[] = {0, 1, 2, 3, 4, 5};
  expect_times(expected, 6);
}

/* A target with a phase (a node of a heartbeat cluster) first polls that share of the
 * interval after the start, then keeps the rhythm. */
static void test_phase(void **state) {
  (void)state;
  struct run r;
  run_init(&r, "2s", one, 1, true);
  r.config->targets[0].phase = 0.25;
  run_go(&r);
  wait_for_polls(3);
  run_stop(&r);
  assert_true(fabs(fake.at[0] - 1000.5) < 1e-9);
  const double expected[] = {0, 2, 4};
  expect_times(expected, 3);
}

/* A poll that overruns its slot: the slots it missed are skipped, the rhythm stays. */
static void test_overrun_skips_slots(void **state) {
  (void)state;
  struct run r;
  run_init(&r, "1s", one, 1, true);
  fake.poll_duration_s = 2.5;
  run_go(&r);
  wait_for_polls(4);
  run_stop(&r);
  const double expected[] = {0, 3, 6, 9};
  expect_times(expected, 4);
}

/* Unreachable: the delay doubles from the poll interval up to 5 s, and one answer brings the
 * cadence back. */
static void test_backoff_cap_and_recovery(void **state) {
  (void)state;
  struct run r;
  run_init(&r, "1s", one, 1, true);
  for (int i = 1; i <= 5; i++)
    fake.failure[i] = REASON_CONNECT;
  run_go(&r);
  wait_for_polls(9);
  run_stop(&r);
  /* 0 ok, 1 fail (next +1), 2 fail (+2), 4 fail (+4), 8 fail (+5 cap), 13 fail (+5), 18 ok. */
  const double expected[] = {0, 1, 2, 4, 8, 13, 18, 19, 20};
  expect_times(expected, 9);
}

/* With a poll interval above 5 s the cap is the interval itself. */
static void test_backoff_cap_is_interval_when_longer(void **state) {
  (void)state;
  assert_true(poller_backoff_seconds(10, 1) == 10);
  assert_true(poller_backoff_seconds(10, 5) == 10);
  assert_true(poller_backoff_seconds(1, 1) == 1);
  assert_true(poller_backoff_seconds(1, 3) == 4);
  assert_true(poller_backoff_seconds(1, 40) == 5);
  assert_true(poller_backoff_seconds(0.5, 2) == 1);
}

/* A failure that says nothing about reachability (a query refused) keeps the cadence, and
 * every failure is counted by reason in the published result. */
static void test_query_failure_keeps_cadence(void **state) {
  (void)state;
  struct run r;
  run_init(&r, "1s", one, 1, true);
  for (int i = 1; i <= 3; i++)
    fake.failure[i] = REASON_QUERY;
  run_go(&r);
  wait_for_polls(6);
  struct snapshot *s = snapshot_store_acquire(r.store);
  run_stop(&r);
  const double expected[] = {0, 1, 2, 3, 4, 5};
  expect_times(expected, 6);
  assert_non_null(s->results[0]);
  assert_true(s->results[0]->errors_total[REASON_QUERY] == 3);
  assert_true(s->results[0]->errors_total[REASON_CONNECT] == 0);
  snapshot_unref(s);
}

/* A reload keeps the poller (and its connection) of a target whose settings did not change,
 * which goes on with the new configuration, and replaces the poller of one that changed. */
static void test_reload_keeps_or_replaces(void **state) {
  (void)state;
  static const struct fake_settings before[] = {{1}, {2}};
  static const struct fake_settings after[] = {{1}, {3}};
  struct run r;
  run_init(&r, "100ms", before, 2, false);
  run_go(&r);
  wait_for_polls(4);
  pthread_mutex_lock(&fake.lock);
  assert_int_equal(fake.opens, 2);
  pthread_mutex_unlock(&fake.lock);
  struct config *next = fake_config("100ms", 2, after);
  assert_int_equal(snapshot_store_install(r.store, next), 0);
  assert_int_equal(pollers_reload(&r.pollers, next, r.store), 0);
  pthread_mutex_lock(&fake.lock);
  assert_int_equal(fake.closes, 1); /* the changed target's old one, joined by the reload */
  int polls = fake.polls;
  pthread_mutex_unlock(&fake.lock);
  wait_for_polls(polls + 10);
  pthread_mutex_lock(&fake.lock);
  assert_int_equal(fake.opens, 3); /* one new connection (its thread opens it), for the changed
                                      target only */
  pthread_mutex_unlock(&fake.lock);
  pthread_mutex_lock(&fake.lock);
  bool kept_saw_new = false, replaced_saw_new = false;
  for (int i = polls; i < fake.polls && i < MAX_POLLS; i++) {
    kept_saw_new = kept_saw_new || fake.settings_seen[i] == &after[0];
    replaced_saw_new = replaced_saw_new || fake.settings_seen[i] == &after[1];
  }
  pthread_mutex_unlock(&fake.lock);
  assert_true(kept_saw_new);
  assert_true(replaced_saw_new);
  config_unref(r.config);
  r.config = next;
  run_stop(&r);
  assert_int_equal(fake.closes, 3);
}

/* A stop wakes a poller that sleeps for a long interval at once. */
static void test_stop_wakes_sleeper(void **state) {
  (void)state;
  struct run r;
  run_init(&r, "60s", one, 1, false);
  run_go(&r);
  wait_for_polls(1);
  double started = clock_monotonic_seconds();
  run_stop(&r);
  assert_true(clock_monotonic_seconds() - started < 5); /* not the 60 s interval */
  assert_int_equal(fake.polls, 1);
}

/* A stop during a slow poll waits for that poll and starts no other. */
static void test_stop_during_slow_poll(void **state) {
  (void)state;
  struct run r;
  run_init(&r, "100ms", one, 1, false);
  fake.slow_poll_real_s = 0.3;
  run_go(&r);
  pthread_mutex_lock(&fake.lock);
  while (!fake.in_poll)
    pthread_cond_wait(&fake.changed, &fake.lock);
  int polls = fake.polls;
  pthread_mutex_unlock(&fake.lock);
  run_stop(&r);
  assert_false(fake.in_poll);
  assert_int_equal(fake.polls, polls + 1);
  assert_int_equal(fake.closes, 1);
}

int main(void) {
  log_setup(LOG_ERROR, LOG_LOGFMT);
  pthread_mutex_init(&fake.lock, NULL);
  pthread_cond_init(&fake.changed, NULL);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cadence),
      cmocka_unit_test(test_phase),
      cmocka_unit_test(test_overrun_skips_slots),
      cmocka_unit_test(test_backoff_cap_and_recovery),
      cmocka_unit_test(test_backoff_cap_is_interval_when_longer),
      cmocka_unit_test(test_query_failure_keeps_cadence),
      cmocka_unit_test(test_reload_keeps_or_replaces),
      cmocka_unit_test(test_stop_wakes_sleeper),
      cmocka_unit_test(test_stop_during_slow_poll),
  };
  return cmocka_run_group_tests_name("poller", tests, NULL, NULL);
}
