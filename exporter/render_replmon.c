/* replmon's families about itself: each target's probe success, duration, last success and
 * failures by reason, and each node's health state as the watcher last published it. */
#include "render_families.h"
#include "analysis.h"
#include "health.h"

#include <math.h>

enum probe_value { PROBE_SUCCESS, PROBE_DURATION, PROBE_LAST_SUCCESS };

static void render_probe_family(const struct snapshot *s, struct buf *out, const char *name,
                                const char *help, enum probe_value which) {
  render_family(out, name, "gauge", help);
  for (size_t i = 0; i < s->n_targets; i++) {
    if (!render_selected(s, i))
      continue;
    const struct target *t = &s->config->targets[i];
    const struct target_result *r = s->results[i];
    struct label labels[] = {{"kind", t->ops->name}, {"cluster", t->cluster}, {"node", t->name}};
    double v = which == PROBE_SUCCESS    ? (r && r->success)
               : which == PROBE_DURATION ? (r ? r->duration_s : NAN)
                                         : (r ? r->last_success_unix : 0);
    render_sample(out, name, labels, 3, v);
  }
}

static void render_probe_errors(const struct snapshot *s, struct buf *out) {
  static const char name[] = "replmon_probe_errors_total";
  render_family(out, name, "counter",
                "Failed probes of the target since replmon started, by reason.");
  for (size_t i = 0; i < s->n_targets; i++) {
    if (!render_selected(s, i))
      continue;
    const struct target *t = &s->config->targets[i];
    const struct target_result *r = s->results[i];
    /* Every reason the kind can fail for, from the start. */
    for (size_t k = 0; k < t->ops->n_reasons; k++) {
      enum probe_reason reason = t->ops->reasons[k];
      struct label labels[] = {{"kind", t->ops->name},
                               {"cluster", t->cluster},
                               {"node", t->name},
                               {"reason", probe_reason_name(reason)}};
      render_sample(out, name, labels, 4, r ? r->errors_total[reason] : 0);
    }
  }
}

void render_probes(const struct snapshot *s, struct buf *out) {
  render_probe_family(s, out, "replmon_probe_success",
                      "1 when replmon's last probe of the target succeeded, else 0.",
                      PROBE_SUCCESS);
  render_probe_family(s, out, "replmon_probe_duration_seconds",
                      "How long replmon's last probe of the target took.", PROBE_DURATION);
  render_probe_family(s, out, "replmon_last_success_timestamp_seconds",
                      "Unix time of the target's last successful probe; 0 when it never answered.",
                      PROBE_LAST_SUCCESS);
  render_probe_errors(s, out);
}

/* The health state of every node, from the analysis of the same snapshot as every other
 * family, so that a scrape's states and metrics never disagree. */
void render_states(const struct snapshot *s, struct buf *out) {
  const struct config *c = s->config;
  render_family(
      out, "replmon_target_state", "gauge",
      "The node's health (ok, warning, critical, unknown) as one series per state; the current "
      "one is 1.");
  for (int pass = 0; pass < 2; pass++) {
    if (pass == 1)
      render_family(
          out, "replmon_target_state_since_timestamp_seconds", "gauge",
          "Unix time when the node entered its current health state; NaN before the first "
          "evaluation.");
    for (size_t t = 0; t < s->n_targets; t++) {
      if (!render_selected(s, t))
        continue;
      const struct target *tg = &c->targets[t];
      if (!target_is_node(tg))
        continue; /* part of its XMPP node */
      const struct node_health *e = analysis_target_health(s->analysis, c, t);
      struct label labels[] = {{"cluster", tg->cluster}, {"node", tg->name}, {"state", NULL}};
      if (pass == 1) {
        render_sample(out, "replmon_target_state_since_timestamp_seconds", labels, 2,
                      e ? e->since_unix : NAN);
        continue;
      }
      int state = e ? (int)e->state : HEALTH_UNKNOWN;
      for (int k = 0; k < HEALTH_COUNT; k++) {
        labels[2].value = health_state_name((enum health_state)k);
        render_sample(out, "replmon_target_state", labels, 3, k == state);
      }
    }
  }
}
