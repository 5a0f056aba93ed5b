#include "gtid.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int parse_number(const char **p, uint64_t max, uint64_t *out) {
  if (!isdigit((unsigned char)**p))
    return -EINVAL;
  uint64_t v = 0;
  while (isdigit((unsigned char)**p)) {
    unsigned digit = (unsigned)(**p - '0');
    if (v > (max - digit) / 10)
      return -EINVAL;
    v = v * 10 + digit;
    (*p)++;
  }
  *out = v;
  return 0;
}

static void skip_space(const char **p) {
  while (**p == ' ' || **p == '\n' || **p == '\r' || **p == '\t')
    (*p)++;
}

int gtid_list_parse(const char *text, struct gtid_list *out) {
  out->n = 0;
  out->items = NULL;
  if (!text)
    return 0;
  size_t commas = 0;
  for (const char *c = text; *c; c++)
    commas += *c == ',';
  const char *p = text;
  skip_space(&p);
  if (!*p)
    return 0;
  out->items = calloc(commas + 1, sizeof(*out->items));
  if (!out->items)
    return -ENOMEM;
  for (;;) {
    uint64_t domain, server, seq;
    skip_space(&p);
    if (parse_number(&p, UINT32_MAX, &domain) || *p++ != '-' ||
        parse_number(&p, UINT32_MAX, &server) || *p++ != '-' ||
        parse_number(&p, UINT64_MAX, &seq)) {
      gtid_list_clear(out);
      return -EINVAL;
    }
    out->items[out->n++] = (struct gtid){(uint32_t)domain, (uint32_t)server, seq};
    skip_space(&p);
    if (!*p)
      return 0;
    if (*p++ != ',') {
      gtid_list_clear(out);
      return -EINVAL;
    }
  }
}

void gtid_list_clear(struct gtid_list *list) {
  free(list->items);
  list->items = NULL;
  list->n = 0;
}

int gtid_list_copy(const struct gtid_list *from, struct gtid_list *to) {
  to->n = 0;
  to->items = NULL;
  if (!from->n)
    return 0;
  to->items = malloc(from->n * sizeof(*to->items));
  if (!to->items)
    return -ENOMEM;
  memcpy(to->items, from->items, from->n * sizeof(*to->items));
  to->n = from->n;
  return 0;
}

uint64_t gtid_list_seq(const struct gtid_list *list, uint32_t domain, int *found) {
  for (size_t i = 0; i < list->n; i++) {
    if (list->items[i].domain == domain) {
      *found = 1;
      return list->items[i].seq;
    }
  }
  *found = 0;
  return 0;
}
