/* Prosody through mod_http_openmetrics: c2s sessions from the exposition text. */
#ifndef REPLMON_PROSODY_H
#define REPLMON_PROSODY_H

#include "http_client.h"
#include "xmpp.h"

#include <stddef.h>

/* Called for every sample of an exposition text. labels holds n name/value pairs (values
 * unescaped); the strings live only during the call. */
struct exposition_sample {
  const char *name;
  const char *const *label_names;
  const char *const *label_values;
  size_t n_labels;
  double value;
};
typedef void (*exposition_visitor)(const struct exposition_sample *sample, void *ctx);

/* Parses the Prometheus/OpenMetrics text format strictly enough to refuse what is not one
 * (an HTML page, a truncated line). Returns 0, or -EINVAL with *err naming the line. */
int exposition_parse(const char *text, size_t len, exposition_visitor visit, void *ctx,
                     struct probe_error *err);

/* The sum of prosody_mod_c2s__connections over type="c2s"; no such sample means 0. */
int prosody_parse_c2s(const char *text, size_t len, double *sessions, struct probe_error *err);

/* GET metrics_url, then prosody_parse_c2s. Returns 0 or a negative errno with *err set. */
int prosody_poll(struct http_client *client, const char *metrics_url, struct xmpp_status *out,
                 struct probe_error *err);

#endif
