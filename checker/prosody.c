#include "prosody.h"
#include "buf.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LABELS 32

static bool name_start(char c) {
  return isalpha((unsigned char)c) || c == '_' || c == ':';
}

static bool name_char(char c) {
  return isalnum((unsigned char)c) || c == '_' || c == ':';
}

/* Parses one sample line [p, end). Label values are unescaped into *scratch. */
static int parse_sample(const char *p, const char *end, struct buf *scratch,
                        const struct exposition_visitor *visitor, void *ctx) {
  size_t offsets[2 * MAX_LABELS + 1];
  size_t n_labels = 0;
  buf_reset(scratch);
  const char *name = p;
  if (p == end || !name_start(*p))
    return -EINVAL;
  while (p < end && name_char(*p))
    p++;
  offsets[0] = scratch->len;
  buf_append(scratch, name, (size_t)(p - name));
  buf_putc(scratch, '\0');
  if (p < end && *p == '{') {
    p++;
    while (p < end && *p != '}') {
      if (n_labels == MAX_LABELS || !name_start(*p))
        return -EINVAL;
      const char *label = p;
      while (p < end && name_char(*p))
        p++;
      offsets[1 + 2 * n_labels] = scratch->len;
      buf_append(scratch, label, (size_t)(p - label));
      buf_putc(scratch, '\0');
      if (p + 1 >= end || p[0] != '=' || p[1] != '"')
        return -EINVAL;
      p += 2;
      offsets[2 + 2 * n_labels] = scratch->len;
      for (;;) {
        if (p >= end)
          return -EINVAL;
        if (*p == '"')
          break;
        if (*p == '\\') {
          if (p + 1 >= end)
            return -EINVAL;
          p++;
          buf_putc(scratch, *p == 'n' ? '\n' : *p);
        } else {
          buf_putc(scratch, *p);
        }
        p++;
      }
      buf_putc(scratch, '\0');
      p++; /* the closing quote */
      n_labels++;
      if (p < end && *p == ',')
        p++;
      else if (p < end && *p != '}')
        return -EINVAL;
    }
    if (p >= end)
      return -EINVAL;
    p++; /* } */
  }
  if (p >= end || *p != ' ')
    return -EINVAL;
  while (p < end && *p == ' ')
    p++;
  const char *value_start = p;
  while (p < end && *p != ' ')
    p++;
  char value_text[64];
  size_t value_len = (size_t)(p - value_start);
  if (value_len == 0 || value_len >= sizeof(value_text))
    return -EINVAL;
  memcpy(value_text, value_start, value_len);
  value_text[value_len] = '\0';
  char *value_end;
  double value = strtod(value_text, &value_end);
  if (*value_end)
    return -EINVAL;
  /* An optional timestamp may follow; it is not needed here. */
  if (scratch->failed)
    return -ENOMEM;
  const char *names[MAX_LABELS], *values[MAX_LABELS];
  for (size_t i = 0; i < n_labels; i++) {
    names[i] = scratch->data + offsets[1 + 2 * i];
    values[i] = scratch->data + offsets[2 + 2 * i];
  }
  struct exposition_sample sample = {scratch->data + offsets[0], names, values, n_labels, value};
  visitor->sample(&sample, ctx);
  return 0;
}

/* A comment line [p, end): reports "# TYPE <name> ..." to visitor->family. */
static int parse_comment(const char *p, const char *end, struct buf *scratch,
                         const struct exposition_visitor *visitor, void *ctx) {
  static const char type_tag[] = "# TYPE ";
  size_t tag_len = sizeof(type_tag) - 1;
  if (!visitor->family || (size_t)(end - p) <= tag_len || memcmp(p, type_tag, tag_len) != 0)
    return 0;
  p += tag_len;
  const char *name = p;
  if (!name_start(*p))
    return -EINVAL;
  while (p < end && name_char(*p))
    p++;
  if (p < end && *p != ' ')
    return -EINVAL;
  buf_reset(scratch);
  buf_append(scratch, name, (size_t)(p - name));
  buf_putc(scratch, '\0');
  if (scratch->failed)
    return -ENOMEM;
  visitor->family(scratch->data, ctx);
  return 0;
}

int exposition_parse(const char *text, size_t len, const struct exposition_visitor *visitor,
                     void *ctx, struct probe_error *err) {
  struct buf scratch = BUF_INIT;
  const char *p = text, *end = text + len;
  size_t line_no = 0;
  int rc = 0;
  while (p < end) {
    line_no++;
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    const char *line_end = eol ? eol : end;
    if (!eol) {
      /* A last line without its newline: a body cut short. */
      rc = -EINVAL;
    } else if (line_end > p && *p == '#') {
      rc = parse_comment(p, line_end, &scratch, visitor, ctx);
    } else if (line_end > p) {
      rc = parse_sample(p, line_end, &scratch, visitor, ctx);
    }
    if (rc) {
      size_t shown = (size_t)(line_end - p) < 60 ? (size_t)(line_end - p) : 60;
      probe_error_set(err, REASON_PARSE, "not an OpenMetrics answer: line %zu: '%.*s'", line_no,
                      (int)shown, p);
      break;
    }
    p = line_end + 1;
  }
  buf_free(&scratch);
  return rc;
}

/* What replmon reads from Prosody's families; see prosody.h. */
enum prosody_count { COUNT_C2S, COUNT_S2S_IN, COUNT_S2S_OUT, COUNT_MUC_ROOMS, N_COUNTS };

static const struct {
  const char *family;
  const char *type; /* the value of the `type` label that counts; NULL: every sample */
} prosody_counts[N_COUNTS] = {
    [COUNT_C2S] = {"prosody_mod_c2s__connections", "c2s"},
    [COUNT_S2S_IN] = {"prosody_mod_s2s__connections_inbound", "s2sin"},
    [COUNT_S2S_OUT] = {"prosody_mod_s2s__connections_outbound", "s2sout"},
    [COUNT_MUC_ROOMS] = {"prosody_mod_muc__live_room", NULL},
};

struct prosody_sums {
  bool declared[N_COUNTS];
  double sum[N_COUNTS];
};

static int count_of(const char *family) {
  for (int i = 0; i < N_COUNTS; i++) {
    if (strcmp(family, prosody_counts[i].family) == 0)
      return i;
  }
  return -1;
}

static void declare_family(const char *name, void *ctx) {
  int i = count_of(name);
  if (i >= 0)
    ((struct prosody_sums *)ctx)->declared[i] = true;
}

static bool has_type(const struct exposition_sample *s, const char *type) {
  for (size_t i = 0; i < s->n_labels; i++) {
    if (strcmp(s->label_names[i], "type") == 0)
      return strcmp(s->label_values[i], type) == 0;
  }
  return false;
}

static void add_sample(const struct exposition_sample *s, void *ctx) {
  struct prosody_sums *sums = ctx;
  int i = count_of(s->name);
  if (i < 0)
    return;
  sums->declared[i] = true; /* a sample without its TYPE line is still the family */
  if (!isnan(s->value) && (!prosody_counts[i].type || has_type(s, prosody_counts[i].type)))
    sums->sum[i] += s->value;
}

int prosody_parse(const char *text, size_t len, struct xmpp_status *out, struct probe_error *err) {
  static const struct exposition_visitor visitor = {declare_family, add_sample};
  struct prosody_sums sums = {{false}, {0}};
  int rc = exposition_parse(text, len, &visitor, &sums, err);
  if (rc)
    return rc;
  double value[N_COUNTS];
  for (int i = 0; i < N_COUNTS; i++)
    value[i] = sums.declared[i] ? sums.sum[i] : NAN;
  out->c2s_sessions = value[COUNT_C2S];
  out->s2s_in = value[COUNT_S2S_IN];
  out->s2s_out = value[COUNT_S2S_OUT];
  out->muc_rooms = value[COUNT_MUC_ROOMS];
  return 0;
}

int prosody_poll(struct http_client *client, const char *metrics_url, struct xmpp_status *out,
                 struct probe_error *err) {
  xmpp_status_reset(out);
  struct http_answer answer;
  int rc = http_client_request(client, metrics_url, NULL,
                               "application/openmetrics-text; version=1.0.0, text/plain;q=0.5",
                               &answer, err);
  if (rc)
    return rc;
  if (answer.status == 401 || answer.status == 403) {
    probe_error_set(err, REASON_AUTH,
                    "HTTP %ld: check openmetrics_allow_ips / openmetrics_allow_cidr on Prosody",
                    answer.status);
    rc = -EACCES;
  } else if (answer.status != 200) {
    probe_error_set(err, REASON_HTTP, "HTTP status %ld from the metrics URL", answer.status);
    rc = -EIO;
  } else {
    out->up = true;
    rc = prosody_parse(answer.body, answer.len, out, err);
    if (rc)
      out->up = false;
  }
  http_answer_clear(&answer);
  return rc;
}
