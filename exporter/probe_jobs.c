/* /probe?target=NODE: each request probes one configured node now, on a thread of its own,
 * while a second thread bounds the wait by Prometheus' scrape timeout. */
#include "probe_jobs.h"
#include "config.h"
#include "poller.h"
#include "probe.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct probe_jobs {
  struct snapshot_store *store; /* borrowed */
  struct build_info build;
  pthread_mutex_t lock; /* guards the /probe requests in flight, so stop can end them */
  pthread_cond_t probes_done;
  struct probe_job *probes; /* a list through probe_job.next */
  unsigned in_flight;       /* requests not yet completed */
  bool stopping;
};

/* One /probe request: a worker probes while a waiter bounds the wait; whoever finishes
 * second frees it. */
struct probe_job {
  struct probe_job *next; /* in jobs->probes */
  pthread_mutex_t lock;
  pthread_cond_t done_cond;
  int refs;
  bool done;
  bool abandon; /* the server is stopping: answer now */
  struct config *config;
  size_t index;
  double timeout_s;
  struct target_result *result;
  struct probe_jobs *jobs;
  struct MHD_Connection *connection;
  char *body; /* the answer, built by the waiter; freed with the job */
  size_t body_len;
};

static void probe_job_unref(struct probe_job *job) {
  pthread_mutex_lock(&job->lock);
  int refs = --job->refs;
  pthread_mutex_unlock(&job->lock);
  if (refs)
    return;
  target_result_unref(job->result);
  config_unref(job->config);
  pthread_cond_destroy(&job->done_cond);
  pthread_mutex_destroy(&job->lock);
  free(job->body);
  free(job);
}

/* Takes job off the list of /probe requests in flight. */
static void probe_unlink(struct probe_jobs *jobs, struct probe_job *job) {
  pthread_mutex_lock(&jobs->lock);
  for (struct probe_job **p = &jobs->probes; *p; p = &(*p)->next) {
    if (*p == job) {
      *p = job->next;
      break;
    }
  }
  pthread_mutex_unlock(&jobs->lock);
}

static void *probe_worker(void *arg) {
  struct probe_job *job = arg;
  struct target_result *r = poller_probe_once(job->config, job->index, job->timeout_s);
  pthread_mutex_lock(&job->lock);
  job->result = r;
  job->done = true;
  pthread_cond_signal(&job->done_cond);
  pthread_mutex_unlock(&job->lock);
  probe_job_unref(job);
  return NULL;
}

static void *probe_waiter(void *arg) {
  struct probe_job *job = arg;
  struct timespec deadline = timespec_from_seconds(clock_monotonic_seconds() + job->timeout_s);
  pthread_mutex_lock(&job->lock);
  while (!job->done && !job->abandon)
    if (pthread_cond_timedwait(&job->done_cond, &job->lock, &deadline) == ETIMEDOUT)
      break;
  struct target_result *r = job->result ? target_result_ref(job->result) : NULL;
  pthread_mutex_unlock(&job->lock);
  if (!r) {
    /* The node did not answer in time: say so rather than make Prometheus wait. */
    r = target_result_new(job->config->targets[job->index].ops);
    if (r) {
      r->reason = REASON_TIMEOUT;
      r->errors_total[REASON_TIMEOUT] = 1;
      r->duration_s = job->timeout_s;
      r->error = strdup("no answer within the scrape timeout");
    }
  }
  struct buf body = BUF_INIT;
  struct snapshot *s = r ? snapshot_new_single(job->config, job->index, r) : NULL;
  if (s)
    render_metrics(s, &job->jobs->build, &body);
  else
    target_result_unref(r);
  snapshot_unref(s);
  job->body = buf_steal(&body, &job->body_len);
  /* Off the list before the resume: once resumed, the request may complete and free us. */
  probe_unlink(job->jobs, job);
  MHD_resume_connection(job->connection);
  return NULL;
}

int probe_jobs_start(struct probe_jobs *jobs, struct MHD_Connection *connection, const char *name,
                     double timeout, void **req_cls) {
  struct snapshot *s = snapshot_store_acquire(jobs->store);
  long index = -1;
  for (size_t i = 0; i < s->n_targets && index < 0; i++) {
    /* Only configured node names: /probe never connects to an address from a request. */
    const struct target *t = &s->config->targets[i];
    if (target_is_node(t) && strcmp(t->name, name) == 0)
      index = (long)i;
  }
  struct config *config = index >= 0 ? config_ref(s->config) : NULL;
  snapshot_unref(s);
  if (index < 0)
    return PROBE_UNKNOWN_TARGET;
  struct probe_job *job = calloc(1, sizeof(*job));
  if (!job) {
    config_unref(config);
    return -ENOMEM;
  }
  pthread_mutex_init(&job->lock, NULL);
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&job->done_cond, &attr);
  pthread_condattr_destroy(&attr);
  job->refs = 2; /* the worker's, and the request's (released when it completes) */
  job->config = config;
  job->index = (size_t)index;
  job->timeout_s = timeout;
  job->jobs = jobs;
  job->connection = connection;
  *req_cls = job;
  pthread_mutex_lock(&jobs->lock);
  job->next = jobs->probes;
  jobs->probes = job;
  jobs->in_flight++;
  job->abandon = jobs->stopping;
  pthread_mutex_unlock(&jobs->lock);
  MHD_suspend_connection(connection);
  pthread_t worker, waiter;
  pthread_attr_t tattr;
  pthread_attr_init(&tattr);
  pthread_attr_setdetachstate(&tattr, PTHREAD_CREATE_DETACHED);
  bool ok = pthread_create(&worker, &tattr, probe_worker, job) == 0;
  if (!ok) { /* no worker: the waiter answers at once with a timeout */
    job->refs--;
    job->done = true;
  }
  if (pthread_create(&waiter, &tattr, probe_waiter, job) != 0) {
    /* Without a waiter nobody answers: resume now; the request finds no body (500). */
    pthread_attr_destroy(&tattr);
    probe_unlink(jobs, job);
    MHD_resume_connection(connection);
    return 0;
  }
  pthread_attr_destroy(&tattr);
  return 0;
}

const char *probe_jobs_body(const struct probe_job *job, size_t *len) {
  *len = job->body_len;
  return job->body;
}

void probe_jobs_completed(struct probe_job *job) {
  struct probe_jobs *jobs = job->jobs;
  probe_job_unref(job);
  pthread_mutex_lock(&jobs->lock);
  jobs->in_flight--;
  pthread_cond_broadcast(&jobs->probes_done);
  pthread_mutex_unlock(&jobs->lock);
}

struct probe_jobs *probe_jobs_new(struct snapshot_store *store, const struct build_info *build) {
  struct probe_jobs *jobs = calloc(1, sizeof(*jobs));
  if (!jobs)
    return NULL;
  jobs->store = store;
  jobs->build = *build;
  pthread_mutex_init(&jobs->lock, NULL);
  pthread_cond_init(&jobs->probes_done, NULL);
  return jobs;
}

int probe_jobs_stop(struct probe_jobs *jobs) {
  pthread_mutex_lock(&jobs->lock);
  jobs->stopping = true;
  for (struct probe_job *job = jobs->probes; job; job = job->next) {
    pthread_mutex_lock(&job->lock);
    job->abandon = true;
    pthread_cond_signal(&job->done_cond);
    pthread_mutex_unlock(&job->lock);
  }
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 3;
  while (jobs->in_flight > 0)
    if (pthread_cond_timedwait(&jobs->probes_done, &jobs->lock, &until) == ETIMEDOUT)
      break;
  bool stuck = jobs->in_flight > 0;
  pthread_mutex_unlock(&jobs->lock);
  return stuck ? -ETIMEDOUT : 0;
}

void probe_jobs_free(struct probe_jobs *jobs) {
  if (!jobs)
    return;
  pthread_mutex_destroy(&jobs->lock);
  pthread_cond_destroy(&jobs->probes_done);
  free(jobs);
}
