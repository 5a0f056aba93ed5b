/* Prosody through mod_http_openmetrics: sessions, s2s connections and MUC rooms from the
 * exposition text. */
#ifndef REPLMON_PROSODY_H
#define REPLMON_PROSODY_H

#include "http_client.h"
#include "xmpp.h"

#include <stddef.h>

/* One sample of an exposition text: labels holds n name/value pairs (values unescaped); the
 * strings live only during the call. */
struct exposition_sample {
  const char *name;
  const char *const *label_names;
  const char *const *label_values;
  size_t n_labels;
  double value;
};

/* What exposition_parse reports: each "# TYPE <name> <type>" line to family (may be NULL: a
 * family can be declared without any sample yet), each sample to sample. */
struct exposition_visitor {
  void (*family)(const char *name, void *ctx);
  void (*sample)(const struct exposition_sample *sample, void *ctx);
};

/* Parses the Prometheus/OpenMetrics text format strictly enough to refuse what is not one
 * (an HTML page, a truncated line). Returns 0, or -EINVAL with *err naming the line. */
int exposition_parse(const char *text, size_t len, const struct exposition_visitor *visitor,
                     void *ctx, struct probe_error *err);

/* Fills c2s_sessions, s2s_in, s2s_out and muc_rooms of *out (nothing else) from Prosody 0.12's
 * openmetrics text:
 *   c2s_sessions  prosody_mod_c2s__connections{type="c2s"}
 *   s2s_in        prosody_mod_s2s__connections_inbound{type="s2sin"}
 *   s2s_out       prosody_mod_s2s__connections_outbound{type="s2sout"}
 *   muc_rooms     prosody_mod_muc__live_room (rooms in memory, over every MUC component)
 * each summed over hosts and IP families. Only authenticated connections count: the
 * c2s_unauthed, s2sin_unauthed and s2sout_unauthed types are streams still negotiating.
 * A family that is declared but has no sample yet (the module is loaded, nothing ever
 * connected) is 0; a family not declared at all (s2s disabled, no MUC component) is NaN.
 * Returns 0, or a negative errno with *err set (then *out is unchanged). */
int prosody_parse(const char *text, size_t len, struct xmpp_status *out, struct probe_error *err);

/* GET metrics_url, then prosody_parse. Returns 0 or a negative errno with *err set. */
int prosody_poll(struct http_client *client, const char *metrics_url, struct xmpp_status *out,
                 struct probe_error *err);

#endif
