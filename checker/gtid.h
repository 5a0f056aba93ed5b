/* MariaDB GTID positions ("1-1-5,2-2-7"): one domain-server-sequence triple per domain. */
#ifndef REPLMON_GTID_H
#define REPLMON_GTID_H

#include <stddef.h>
#include <stdint.h>

struct gtid {
  uint32_t domain;
  uint32_t server_id;
  uint64_t seq;
};

struct gtid_list {
  size_t n;
  struct gtid *items; /* owned */
};

/* Parses a position such as @@gtid_binlog_pos or Gtid_IO_Pos; "" and NULL are the empty list.
 * Spaces and newlines around the commas are allowed. Returns 0, -EINVAL for text that is not
 * a position (*out is then empty), or -ENOMEM. */
int gtid_list_parse(const char *text, struct gtid_list *out);
void gtid_list_clear(struct gtid_list *list);
int gtid_list_copy(const struct gtid_list *from, struct gtid_list *to);

/* The sequence number of domain in list; found is false (and 0 returned) when absent. */
uint64_t gtid_list_seq(const struct gtid_list *list, uint32_t domain, int *found);

#endif
