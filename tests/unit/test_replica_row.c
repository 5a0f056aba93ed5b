/* SHOW ALL SLAVES STATUS rows are read by column name: order, extra columns, NULLs and every
 * IO thread state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mariadb.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NCOLS(a) (sizeof(a) / sizeof((a)[0]))

/* A real 10.11 row, trimmed to the columns that matter plus a few neighbours. */
static const char *names[] = {
    "Connection_name", "Slave_SQL_State",       "Master_Host",
    "Master_Port",     "Slave_IO_Running",      "Slave_SQL_Running",
    "Relay_Log_Space", "Seconds_Behind_Master", "Last_IO_Errno",
    "Last_IO_Error",   "Last_SQL_Errno",        "Last_SQL_Error",
    "SQL_Delay",       "Retried_transactions",  "Slave_received_heartbeats",
    "Gtid_Slave_Pos",  "Slave_heartbeat_period"};

static void test_healthy_default_connection(void **state) {
  (void)state;
  const char *values[] = {"",          "Slave has read all relay log",
                          "127.0.0.1", "3307",
                          "Yes",       "Yes",
                          "930",       "0",
                          "0",         "",
                          "0",         "",
                          "0",         "3",
                          "17",        "1-1-5",
                          "30.000"};
  struct replica_status r;
  struct probe_error err = {REASON_NONE, NULL};
  assert_int_equal(mariadb_parse_replica_row(names, values, NCOLS(names), &r, &err), 0);
  assert_string_equal(r.connection, "");
  assert_string_equal(r.master_host, "127.0.0.1");
  assert_int_equal(r.master_port, 3307);
  assert_int_equal(r.io_state, IO_STATE_YES);
  assert_true(r.sql_running);
  assert_true(r.seconds_behind_master == 0);
  assert_true(r.relay_log_space_bytes == 930);
  assert_true(r.retried_transactions == 3);
  assert_true(r.received_heartbeats == 17);
  assert_true(r.heartbeat_period_s == 30);
  assert_true(r.last_io_errno == 0 && r.last_sql_errno == 0 && r.sql_delay_seconds == 0);
  assert_null(r.source);         /* the poller fills it from the configuration */
  assert_false(r.has_time_diff); /* 10.11 has no Master_Slave_time_diff */
  assert_true(isnan(r.time_diff_seconds));
  replica_status_clear(&r);
  assert_null(err.message);
}

/* MariaDB 11.8's row: the 10.11 columns and the three of 11.6 at the end, as a delayed
 * replica (MASTER_DELAY=10) showed them. */
static void test_time_diff_of_11_8(void **state) {
  (void)state;
  const char *n[] = {
      "Connection_name",       "Master_Host",           "Master_Port", "Slave_IO_Running",
      "Slave_SQL_Running",     "Seconds_Behind_Master", "SQL_Delay",   "Master_last_event_time",
      "Slave_last_event_time", "Master_Slave_time_diff"};
  const char *v[] = {"",
                     "127.0.0.1",
                     "3307",
                     "Yes",
                     "Yes",
                     "8",
                     "10",
                     "2026-12-04 22:33:28",
                     "2026-12-04 22:33:19",
                     "9"};
  struct replica_status r;
  struct probe_error err = {REASON_NONE, NULL};
  assert_int_equal(mariadb_parse_replica_row(n, v, NCOLS(n), &r, &err), 0);
  assert_true(r.has_time_diff);
  assert_true(r.time_diff_seconds == 9);
  assert_true(r.seconds_behind_master == 8);
  replica_status_clear(&r);

  /* Before the replica saw any event the three are NULL: the column is there, the value
   * unknown. */
  const char *v_null[] = {"", "127.0.0.1", "3307", "Yes", "Yes", "0", "0", NULL, NULL, NULL};
  assert_int_equal(mariadb_parse_replica_row(n, v_null, NCOLS(n), &r, &err), 0);
  assert_true(r.has_time_diff);
  assert_true(isnan(r.time_diff_seconds));
  assert_true(r.seconds_behind_master == 0);

  /* A node that stops answering keeps knowing it has the column (the series stays). */
  struct mariadb_status known = {.known = true, .n_replicas = 1, .replicas = &r};
  struct mariadb_status unknown = {0};
  r.source = strdup("db2");
  assert_non_null(r.source);
  assert_int_equal(mariadb_status_carry_unknown(&known, &unknown), 0);
  assert_true(unknown.replicas[0].has_time_diff);
  assert_true(isnan(unknown.replicas[0].time_diff_seconds));
  mariadb_status_clear(&unknown);
  replica_status_clear(&r);
  assert_null(err.message);
}

static void test_nulls_and_named_connection(void **state) {
  (void)state;
  const char *values[] = {"from_db3",    "",
                          "db3.example", "3306",
                          "Preparing",   "No",
                          "256",         NULL,
                          "2013",        "error reconnecting to master",
                          "1062",        "Duplicate entry",
                          "10",          "0",
                          "0",           NULL,
                          "0.000"};
  struct replica_status r;
  struct probe_error err = {REASON_NONE, NULL};
  assert_int_equal(mariadb_parse_replica_row(names, values, NCOLS(names), &r, &err), 0);
  assert_string_equal(r.connection, "from_db3");
  assert_int_equal(r.io_state, IO_STATE_PREPARING);
  assert_false(r.sql_running);
  assert_true(isnan(r.seconds_behind_master)); /* NULL stays unknown, not 0 */
  assert_true(r.heartbeat_period_s == 0);      /* MASTER_HEARTBEAT_PERIOD=0: none sent */
  assert_true(r.last_io_errno == 2013);
  assert_true(r.last_sql_errno == 1062);
  assert_string_equal(r.last_sql_error, "Duplicate entry");
  assert_true(r.sql_delay_seconds == 10);
  replica_status_clear(&r);
}

static void test_io_states(void **state) {
  (void)state;
  static const struct {
    const char *text;
    enum replica_io_state state;
  } cases[] = {{"Yes", IO_STATE_YES},
               {"No", IO_STATE_NO},
               {"Connecting", IO_STATE_CONNECTING},
               {"Preparing", IO_STATE_PREPARING}};
  for (size_t i = 0; i < NCOLS(cases); i++) {
    const char *values[] = {"", "",  "h", "1", cases[i].text, "Yes", "0", "0", "0",
                            "", "0", "",  "0", "0",           "0",   "",  "30"};
    struct replica_status r;
    struct probe_error err = {REASON_NONE, NULL};
    assert_int_equal(mariadb_parse_replica_row(names, values, NCOLS(names), &r, &err), 0);
    assert_int_equal(r.io_state, cases[i].state);
    replica_status_clear(&r);
  }
  assert_string_equal(replica_io_state_name(IO_STATE_CONNECTING), "connecting");
  assert_string_equal(replica_io_state_name(IO_STATE_PREPARING), "preparing");
}

static void test_other_order_extra_and_missing_columns(void **state) {
  (void)state;
  /* A later server: columns moved, one added (11.6's Master_Slave_time_diff), and optional
   * ones missing: the row still parses, the missing numbers are NaN. */
  const char *n[] = {"Slave_SQL_Running", "Master_Slave_time_diff",
                     "Slave_IO_Running",  "Master_Port",
                     "Master_Host",       "Connection_name"};
  const char *v[] = {"Yes", "0", "Connecting", "3306", "10.0.0.3", "x"};
  struct replica_status r;
  struct probe_error err = {REASON_NONE, NULL};
  assert_int_equal(mariadb_parse_replica_row(n, v, NCOLS(n), &r, &err), 0);
  assert_int_equal(r.io_state, IO_STATE_CONNECTING);
  assert_string_equal(r.connection, "x");
  assert_true(isnan(r.relay_log_space_bytes) && isnan(r.received_heartbeats));
  assert_true(isnan(r.heartbeat_period_s));
  assert_true(r.has_time_diff && r.time_diff_seconds == 0);
  replica_status_clear(&r);
}

static void test_bad_rows(void **state) {
  (void)state;
  const char *n[] = {"Connection_name", "Master_Host", "Master_Port", "Slave_IO_Running"};
  const char *v[] = {"", "h", "1", "Yes"};
  struct replica_status r;
  struct probe_error err = {REASON_NONE, NULL};
  assert_int_equal(mariadb_parse_replica_row(n, v, NCOLS(n), &r, &err), -EINVAL);
  assert_int_equal(err.reason, REASON_QUERY);
  assert_string_equal(err.message, "SHOW ALL SLAVES STATUS: column Slave_SQL_Running is missing");

  const char *n2[] = {"Connection_name", "Master_Host", "Master_Port", "Slave_IO_Running",
                      "Slave_SQL_Running"};
  const char *v2[] = {"", "h", "1", "Maybe", "Yes"};
  assert_int_equal(mariadb_parse_replica_row(n2, v2, NCOLS(n2), &r, &err), -EINVAL);
  assert_string_equal(err.message, "SHOW ALL SLAVES STATUS: unknown Slave_IO_Running 'Maybe'");
  const char *v3[] = {"", "h", "port", "Yes", "Yes"};
  assert_int_equal(mariadb_parse_replica_row(n2, v3, NCOLS(n2), &r, &err), -EINVAL);
  assert_string_equal(err.message, "SHOW ALL SLAVES STATUS: Master_Port is not a port");
  const char *v4[] = {"", NULL, "1", "Yes", "Yes"};
  assert_int_equal(mariadb_parse_replica_row(n2, v4, NCOLS(n2), &r, &err), -EINVAL);
  assert_string_equal(err.message, "SHOW ALL SLAVES STATUS: column Master_Host is NULL");
  probe_error_clear(&err);
}

static void test_carry_unknown(void **state) {
  (void)state;
  const char *values[] = {"", "",  "127.0.0.1", "3307", "Yes", "Yes", "930", "0", "0",
                          "", "0", "",          "0",    "0",   "0",   "",    "30"};
  struct mariadb_status known = {.known = true, .server_id = 1, .read_only = 0};
  known.replicas = calloc(1, sizeof(*known.replicas));
  assert_non_null(known.replicas);
  struct probe_error err = {REASON_NONE, NULL};
  assert_int_equal(mariadb_parse_replica_row(names, values, NCOLS(names), &known.replicas[0], &err),
                   0);
  known.replicas[0].source = strdup("db2");
  known.n_replicas = 1;
  struct mariadb_status unknown = {0};
  assert_int_equal(mariadb_status_carry_unknown(&known, &unknown), 0);
  assert_false(unknown.known);
  assert_true(isnan(unknown.server_id) && isnan(unknown.read_only));
  assert_int_equal(unknown.n_replicas, 1);
  assert_string_equal(unknown.replicas[0].source, "db2");
  assert_string_equal(unknown.replicas[0].connection, "");
  assert_true(isnan(unknown.replicas[0].relay_log_space_bytes));
  assert_true(isnan(unknown.replicas[0].heartbeat_period_s));
  /* What had arrived is kept, so that the next good poll tells progress from it. */
  assert_true(unknown.replicas[0].received_heartbeats == known.replicas[0].received_heartbeats);
  assert_int_equal(unknown.replicas[0].gtid_io_pos.n, known.replicas[0].gtid_io_pos.n);
  mariadb_status_clear(&known);
  mariadb_status_clear(&unknown);
  assert_int_equal(mariadb_status_carry_unknown(NULL, &unknown), 0);
  assert_int_equal(unknown.n_replicas, 0);
}

/* The information_schema lists of the variables SELECT, as 10.11 and 11.8 answer them. */
static void test_server_values(void **state) {
  (void)state;
  struct mariadb_binlog_retention r;
  struct mariadb_semisync ss;
  mariadb_parse_server_values(
      "RPL_SEMI_SYNC_MASTER_TIMEOUT=500,EXPIRE_LOGS_DAYS=0.500000,"
      "RPL_SEMI_SYNC_MASTER_ENABLED=ON,BINLOG_EXPIRE_LOGS_SECONDS=43200,"
      "RPL_SEMI_SYNC_SLAVE_ENABLED=OFF",
      "BINLOG_BYTES_WRITTEN=12345,RPL_SEMI_SYNC_MASTER_CLIENTS=1,RPL_SEMI_SYNC_MASTER_NO_TX=2,"
      "RPL_SEMI_SYNC_MASTER_STATUS=OFF,RPL_SEMI_SYNC_MASTER_YES_TX=7,RPL_SEMI_SYNC_SLAVE_STATUS="
      "OFF",
      &r, &ss);
  assert_true(r.expire_s == 43200);
  assert_true(isnan(r.max_total_size_bytes)); /* 10.11 has no max_binlog_total_size */
  assert_true(r.bytes_written == 12345);
  assert_true(ss.master_enabled == 1 && ss.slave_enabled == 0);
  assert_true(ss.master_timeout_s == 0.5);
  assert_true(ss.master_status == 0 && ss.slave_status == 0);
  assert_true(ss.master_clients == 1 && ss.master_yes_tx == 7 && ss.master_no_tx == 2);

  /* Only the days (an old server), a size limit, junk, and nothing at all. */
  mariadb_parse_server_values("expire_logs_days=2,MAX_BINLOG_TOTAL_SIZE=1048576,NOEQUALS,"
                              "RPL_SEMI_SYNC_MASTER_ENABLED=maybe,=5,UNKNOWN_THING=3",
                              NULL, &r, &ss);
  assert_true(r.expire_s == 2 * 86400);
  assert_true(r.max_total_size_bytes == 1048576);
  assert_true(isnan(r.bytes_written));
  assert_true(isnan(ss.master_enabled) && isnan(ss.master_status));
  mariadb_parse_server_values(NULL, "", &r, &ss);
  assert_true(isnan(r.expire_s) && isnan(ss.master_timeout_s));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_healthy_default_connection),
      cmocka_unit_test(test_nulls_and_named_connection),
      cmocka_unit_test(test_time_diff_of_11_8),
      cmocka_unit_test(test_io_states),
      cmocka_unit_test(test_other_order_extra_and_missing_columns),
      cmocka_unit_test(test_bad_rows),
      cmocka_unit_test(test_carry_unknown),
      cmocka_unit_test(test_server_values),
  };
  return cmocka_run_group_tests_name("replica_row", tests, NULL, NULL);
}
