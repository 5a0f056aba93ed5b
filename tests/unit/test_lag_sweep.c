/* The heartbeat lag estimator against a simulated pair, at every phase: the source is polled
 * (and written) once per interval, the replica at its own phase, each publishes its result a
 * moment after its poll, and the analysis runs at every publish with the latest result of
 * each, as in replmon. The replica applies each heartbeat a fixed delay after it was written.
 * - Delays: at every publish the estimate lies within half a write interval of the delay, or
 *   is 0 for a replica less than one write interval behind.
 * - Freezes: the source stops answering at any moment of its poll; its stuck poll fails
 *   later. Once its last completed poll is older than an interval and the margin, the
 *   estimate lies within half a write interval of how long the replica has received nothing
 *   (or of its delay, while it still applies what came before the freeze), and it never
 *   runs ahead of that by more. From then on the analysis runs again with no new poll, as
 *   replmon's main loop does (ANALYSIS_REFRESH_STEPS), and the lag grows with the clock: a
 *   freeze shows as THRESHOLD_S of lag within half an interval of THRESHOLD_S after it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "analysis.h"
#include "pair.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_POLLS 2048
#define INSERT_HALF_S 0.0004 /* half the INSERT: NOW(6) is taken this long before its middle */
#define READ_AT_S 0.001      /* the middle of the replica's SELECT, into its poll */
#define PUBLISH_AFTER_S 0.001
#define SOURCE_OFFSET_S 3.5 /* the source's clock runs ahead of replmon's */
#define TOLERANCE_S 0.002   /* arithmetic and the INSERT's own duration */
#define STUCK_POLL_S 2.6    /* a poll stuck on a frozen node fails after this (query timeout) */
#define THRESHOLD_S 3.0     /* how soon a freeze shows as this much lag */

/* One simulated run. */
struct sim {
  double interval; /* poll interval = write interval */
  double delay;    /* the replica applies each write this long after it */
  double phase;    /* the replica's polls start this long after the source's */
  double write_at; /* the middle of the heartbeat INSERT, into the source's poll */
  double freeze;   /* the source stops answering then (INFINITY: never) */
  double end;      /* simulated time */
  double latency;  /* from the replica's read to its publish (a slow poll) */
};

/* What a run saw. */
struct outcome {
  double worst;    /* the largest |estimate - true lag| where the bound applies */
  double crossing; /* from the freeze to the first estimate above THRESHOLD_S, or NaN */
};

struct event {
  double at;
  bool source; /* a publish of the source, else of the replica */
  bool ok;     /* the source's poll succeeded */
  int poll;
};

static int by_time(const void *a, const void *b) {
  double x = ((const struct event *)a)->at, y = ((const struct event *)b)->at;
  return x < y ? -1 : x > y;
}

/* The analysis at now; *growing: the result grows with the clock, so it describes now rather
 * than the replica's read; *refresh_at: when replmon analyses again with no new poll. */
static double estimate(const struct pair_node *replica, const struct pair_node *source,
                       double interval, double now, bool *growing, double *refresh_at) {
  double until;
  double lag = pair_heartbeat_lag(replica, source, true, interval, now, &until);
  *growing = until <= now;
  *refresh_at = *growing ? analysis_next_refresh(now, interval, lag) : until;
  return lag;
}

/* The source's polls: each writes and publishes unless the node froze first; the first one
 * caught by the freeze fails STUCK_POLL_S after the freeze, the next ones every interval. */
static int source_events(const struct sim *s, double *write, struct event *events, int n) {
  int n_polls = (int)(s->end / s->interval);
  double failing = NAN;
  for (int k = 0; k < n_polls; k++) {
    double start = k * s->interval;
    write[k] = start + s->write_at;
    double published = write[k] + INSERT_HALF_S + PUBLISH_AFTER_S;
    if (published <= s->freeze) {
      events[n++] = (struct event){published, true, true, k};
      continue;
    }
    if (write[k] + INSERT_HALF_S > s->freeze)
      write[k] = NAN; /* frozen before it committed: never written */
    if (isnan(failing))
      failing = fmax(start, s->freeze) + STUCK_POLL_S;
    else if (start > failing)
      failing = start + PUBLISH_AFTER_S;
    else
      continue; /* the stuck poll still holds the poller */
    events[n++] = (struct event){failing, true, false, k};
  }
  return n;
}

/* The analysis at now of the nodes' latest results, checked against the truth: the replica
 * applies each write delay after it, and after the freeze nothing new. */
static void check(const struct sim *s, const struct pair_node *replica,
                  const struct pair_node *source, double now, struct outcome *out,
                  double *refresh_at) {
  double r = replica->status->read_unix;
  bool growing;
  double lag = estimate(replica, source, s->interval, now, &growing, refresh_at);
  /* What the estimate describes: the replica as read, or as it is now when it grows. */
  double at = growing ? now : r;
  double truth = at - fmin(at - s->delay, s->freeze);
  double error = fabs(lag - truth);
  /* The bound holds before a freeze and once it can be seen: the source's last completed
   * poll ended before it, so an interval and the margin later it is stale. */
  bool bound =
      at < s->freeze || at > s->freeze + s->interval * (1 + PAIR_STALE_MARGIN) + TOLERANCE_S;
  if (isnan(lag) || (bound && error > s->interval / 2 + TOLERANCE_S) ||
      lag > truth + s->interval / 2 + TOLERANCE_S || (bound && lag == 0 && truth >= s->interval))
    fail_msg("interval %.2f s, delay %.2f s, replica phase %.4f s, write at %.4f s, freeze "
             "at %.4f s: at %.4f s (replica read at %.4f s) the lag is %.4f s, not %.4f s",
             s->interval, s->delay, s->phase, s->write_at, s->freeze, now, r, lag, truth);
  if (bound && error > out->worst)
    out->worst = error;
  if (isnan(out->crossing) && lag > THRESHOLD_S && isfinite(s->freeze))
    out->crossing = now - s->freeze;
}

/* Runs one simulation, failing the test when an estimate breaks the bound: the analysis runs
 * at every publish, and in between when the last one asked to (a growing lag). */
static struct outcome run(const struct sim *s) {
  static double write[MAX_POLLS]; /* the source's writes, by poll; NaN when there was none */
  static struct event events[2 * MAX_POLLS];
  int n_polls = (int)(s->end / s->interval);
  assert_true(n_polls < MAX_POLLS);
  int n = source_events(s, write, events, 0);
  for (int k = 0; k < n_polls; k++)
    events[n++] =
        (struct event){s->phase + k * s->interval + READ_AT_S + s->latency, false, true, k};
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
  struct pair_node source = {"db1", NULL, true, NAN}, replica = {"db2", NULL, true, NAN};
  struct outcome out = {0, NAN};
  /* Until the source's last poll: after it, it would look stuck without being frozen. */
  double stop = (n_polls - 1) * s->interval;
  for (int e = 0; e < n && events[e].at <= stop; e++) {
    const struct event *ev = &events[e];
    if (ev->source) {
      if (ev->ok)
        mariadb_memory_note_write(&src.memory, write[ev->poll]);
      src.known = source.up = ev->ok;
      source.polled_unix = ev->at;
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
    double refresh_at;
    check(s, &replica, &source, ev->at, &out, &refresh_at);
    double next = fmin(stop, e + 1 < n ? events[e + 1].at : s->end);
    while (refresh_at < next)
      check(s, &replica, &source, refresh_at, &out, &refresh_at);
  }
  return out;
}

static const double write_at[] = {0.003, 0.3, 0.8}; /* quick polls, and slow ones */
#define N_WRITE_AT (int)(sizeof(write_at) / sizeof(write_at[0]))

/* From the replica's read to its publish, in intervals: a quick poll, and a slow one (the
 * source may turn late meanwhile). */
static const double latency[] = {PUBLISH_AFTER_S, 0.4};
#define N_LATENCY (int)(sizeof(latency) / sizeof(latency[0]))

/* Every delay, 40 phases of the replica's polls against the source's, three places of the
 * write in the source's poll and two latencies of the replica's publish. */
static void sweep_delays(double interval) {
  static const double delays[] = {0, 0.3, 1, 2.5, 10};
  enum { PHASES = 40 };
  for (size_t d = 0; d < sizeof(delays) / sizeof(delays[0]); d++) {
    double worst = 0;
    for (int w = 0; w < N_WRITE_AT; w++) {
      for (int l = 0; l < N_LATENCY; l++) {
        for (int p = 0; p < PHASES; p++) {
          struct sim s = {interval,
                          delays[d],
                          (p + 0.37) / PHASES * interval,
                          write_at[w] * interval,
                          INFINITY,
                          delays[d] + 20 * interval,
                          latency[l] * interval};
          worst = fmax(worst, run(&s).worst);
        }
      }
    }
    printf("    interval %.2f s, delay %5.2f s: worst error %.3f s over %d runs\n", interval,
           delays[d], worst, PHASES * N_WRITE_AT * N_LATENCY);
  }
}

static void test_sweep_one_second(void **state) {
  (void)state;
  sweep_delays(1.0);
}

/* A quarter-second interval: ten seconds of delay are 40 writes, more than replmon
 * remembers, so the write that followed the applied one is taken one interval after it. */
static void test_sweep_quarter_second(void **state) {
  (void)state;
  sweep_delays(0.25);
}

/* The source freezes at 20 moments of its write interval, against 10 phases of the replica,
 * the three places of the write and the two latencies: the bound holds from an interval and the
 * margin after the freeze, and THRESHOLD_S of lag shows within half an interval of THRESHOLD_S
 * after it (plus one refresh step), whenever the replica is read: the lag grows with the clock. */
static void sweep_freeze(double interval, double delay) {
  enum { FREEZES = 20, PHASES = 10 };
  double worst = 0, first = INFINITY, last = -INFINITY;
  for (int w = 0; w < N_WRITE_AT; w++) {
    for (int l = 0; l < N_LATENCY; l++) {
      for (int p = 0; p < PHASES; p++) {
        for (int f = 0; f < FREEZES; f++) {
          double freeze = 10 * interval + delay + (f + 0.53) / FREEZES * interval;
          struct sim s = {interval,
                          delay,
                          (p + 0.29) / PHASES * interval,
                          write_at[w] * interval,
                          freeze,
                          freeze + THRESHOLD_S + 4 * interval,
                          latency[l] * interval};
          struct outcome o = run(&s);
          worst = fmax(worst, o.worst);
          assert_false(isnan(o.crossing));
          first = fmin(first, o.crossing);
          last = fmax(last, o.crossing);
        }
      }
    }
  }
  printf("    interval %.2f s, delay %.2f s, frozen source: worst error %.3f s; %.1f s of lag "
         "%.3f to %.3f s after the freeze, over %d runs\n",
         interval, delay, worst, THRESHOLD_S, first, last,
         FREEZES * PHASES * N_WRITE_AT * N_LATENCY);
  assert_true(first > THRESHOLD_S - interval / 2 - TOLERANCE_S);
  double step = fmax(interval / ANALYSIS_REFRESH_STEPS, THRESHOLD_S / ANALYSIS_REFRESH_RELATIVE);
  /* A replica that still applies what came before the freeze shows that it has it all only
   * at a read, which a slow poll publishes later. */
  assert_true(last <=
              THRESHOLD_S + interval / 2 + step + latency[N_LATENCY - 1] * interval + TOLERANCE_S);
}

static void test_freeze(void **state) {
  (void)state;
  sweep_freeze(1.0, 0);
  sweep_freeze(1.0, 2.5);
  sweep_freeze(0.25, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sweep_one_second),
      cmocka_unit_test(test_sweep_quarter_second),
      cmocka_unit_test(test_freeze),
  };
  return cmocka_run_group_tests_name("lag_sweep", tests, NULL, NULL);
}
