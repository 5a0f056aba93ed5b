/* The heartbeat lag estimator against a simulated pair, at every phase: the source is polled
 * (and written) once per interval, the replica at its own phase, each publishes its result a
 * moment after its poll, and the analysis runs at every publish with the latest result of
 * each, as in replmon. The replica applies each heartbeat a fixed delay after it was written.
 * At every publish the estimate must lie within half a write interval of that delay, or be 0
 * for a replica that is less than one write interval behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pair.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_EVENTS 2048
#define INSERT_HALF_S 0.0004 /* half the INSERT: NOW(6) is taken this long before its middle */
#define READ_AT_S 0.001      /* the middle of the replica's SELECT, into its poll */
#define PUBLISH_AFTER_S 0.001
#define SOURCE_OFFSET_S 3.5 /* the source's clock runs ahead of replmon's */
#define TOLERANCE_S 0.002   /* arithmetic and the INSERT's own duration */

static const double delays[] = {0, 0.3, 1, 2.5, 10};
#define PHASES 40

/* One simulated run. */
struct sim {
  double interval; /* poll interval = write interval */
  double delay;    /* the replica applies each write this long after it */
  double phase;    /* the replica's polls start this long after the source's */
  double write_at; /* the middle of the heartbeat INSERT, into the source's poll */
  double end;      /* simulated time */
};

struct event {
  double at;
  bool source; /* a publish of the source, else of the replica */
  int poll;
};

static int by_time(const void *a, const void *b) {
  double x = ((const struct event *)a)->at, y = ((const struct event *)b)->at;
  return x < y ? -1 : x > y;
}

static double estimate(const struct pair_node *replica, const struct pair_node *source,
                       double interval) {
  return pair_heartbeat_lag(replica, source, true, interval);
}

/* Runs one simulation; returns the worst |estimate - delay| and fails the test when an
 * estimate breaks the bound. */
static double run(const struct sim *s) {
  double write[MAX_EVENTS]; /* the source's writes, by poll */
  static struct event events[2 * MAX_EVENTS];
  int n_polls = (int)(s->end / s->interval), n = 0;
  assert_true(n_polls < MAX_EVENTS);
  for (int k = 0; k < n_polls; k++) {
    write[k] = k * s->interval + s->write_at;
    events[n++] = (struct event){write[k] + INSERT_HALF_S + PUBLISH_AFTER_S, true, k};
    events[n++] =
        (struct event){s->phase + k * s->interval + READ_AT_S + PUBLISH_AFTER_S, false, k};
  }
  qsort(events, (size_t)n, sizeof(events[0]), by_time);

  struct mariadb_status src = {0}, rep = {0};
  mariadb_status_clear(&src);
  mariadb_status_clear(&rep);
  src.known = true;
  src.server_id = src.memory.server_id = 1;
  src.read_only = 0;
  src.memory.clock_offset_s = SOURCE_OFFSET_S;
  struct heartbeat_row row;
  rep.known = rep.heartbeat_read = true;
  rep.heartbeats = &row;
  struct pair_node source = {"db1", NULL, true}, replica = {"db2", NULL, true};
  double worst = 0;
  for (int e = 0; e < n; e++) {
    const struct event *ev = &events[e];
    if (ev->source) {
      mariadb_memory_note_write(&src.memory, write[ev->poll]);
      source.status = &src;
    } else {
      /* The replica's read: the newest write it has applied by then. */
      rep.read_unix = s->phase + ev->poll * s->interval + READ_AT_S;
      rep.n_heartbeats = 0;
      for (int k = n_polls - 1; k >= 0; k--) {
        if (write[k] + s->delay <= rep.read_unix) {
          row = (struct heartbeat_row){1, write[k] - INSERT_HALF_S + SOURCE_OFFSET_S};
          rep.n_heartbeats = 1;
          break;
        }
      }
      replica.status = &rep;
    }
    if (!source.status || !replica.status || rep.n_heartbeats == 0)
      continue;
    double lag = estimate(&replica, &source, s->interval);
    double error = fabs(lag - s->delay);
    if (isnan(lag) || error > s->interval / 2 + TOLERANCE_S ||
        (lag == 0 && s->delay >= s->interval))
      fail_msg("interval %.2f s, delay %.2f s, replica phase %.4f s, write at %.4f s: at "
               "%.4f s (replica read at %.4f s) the lag is %.4f s",
               s->interval, s->delay, s->phase, s->write_at, ev->at, rep.read_unix, lag);
    if (error > worst)
      worst = error;
  }
  return worst;
}

/* Every delay, 40 phases of the replica's polls against the source's, and three places of the
 * write in the source's poll (a quick poll, and slow ones that write late). */
static void sweep(double interval) {
  static const double write_at[] = {0.003, 0.3, 0.8};
  for (size_t d = 0; d < sizeof(delays) / sizeof(delays[0]); d++) {
    double worst = 0;
    for (size_t w = 0; w < sizeof(write_at) / sizeof(write_at[0]); w++) {
      for (int p = 0; p < PHASES; p++) {
        struct sim s = {interval, delays[d], (p + 0.37) / PHASES * interval, write_at[w] * interval,
                        delays[d] + 20 * interval};
        double e = run(&s);
        if (e > worst)
          worst = e;
      }
    }
    printf("    interval %.2f s, delay %5.2f s: worst error %.3f s over %d phases\n", interval,
           delays[d], worst, PHASES * (int)(sizeof(write_at) / sizeof(write_at[0])));
  }
}

static void test_sweep_one_second(void **state) {
  (void)state;
  sweep(1.0);
}

/* A quarter-second interval: ten seconds of delay are 40 writes, more than replmon
 * remembers, so the write that followed the applied one is taken one interval after it. */
static void test_sweep_quarter_second(void **state) {
  (void)state;
  sweep(0.25);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sweep_one_second),
      cmocka_unit_test(test_sweep_quarter_second),
  };
  return cmocka_run_group_tests_name("lag_sweep", tests, NULL, NULL);
}
