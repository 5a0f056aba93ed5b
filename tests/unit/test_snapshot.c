/* The snapshot store: a publish swaps in a new snapshot while readers keep the old one,
 * stale publishes after a reload are dropped, a reload carries results by name, and
 * concurrent publishers and readers never see a torn snapshot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "analysis.h"
#include "helpers.h"

#include <errno.h>
#include <pthread.h>

static const char two_nodes[] = "mariadb:\n"
                                "  - cluster: c\n"
                                "    user: u\n"
                                "    nodes:\n"
                                "      - {name: a, address: 'h:1'}\n"
                                "      - {name: b, address: 'h:2'}\n";

static struct target_result *result_with_server_id(double id) {
  struct target_result *r = mariadb_result();
  assert_non_null(r);
  r->success = true;
  MARIADB(r)->known = true;
  MARIADB(r)->server_id = id;
  return r;
}

static void test_swap_keeps_readers_snapshot(void **state) {
  (void)state;
  struct config *config = config_from_yaml(two_nodes);
  struct snapshot_store *store = snapshot_store_new(config);
  struct snapshot *before = snapshot_store_acquire(store);
  assert_null(before->results[0]);
  assert_int_equal(before->n_targets, 2);

  assert_int_equal(snapshot_store_publish(store, config, 0, result_with_server_id(1)), 0);
  struct snapshot *after = snapshot_store_acquire(store);
  assert_true(after->generation > before->generation);
  assert_null(before->results[0]); /* the reader's snapshot did not change under it */
  assert_true(MARIADB(after->results[0])->server_id == 1);
  assert_null(after->results[1]);

  assert_int_equal(snapshot_store_publish(store, config, 1, result_with_server_id(2)), 0);
  struct snapshot *third = snapshot_store_acquire(store);
  assert_ptr_equal(third->results[0], after->results[0]); /* shared, not copied */
  assert_true(MARIADB(third->results[1])->server_id == 2);
  assert_int_equal(snapshot_store_generation(store), third->generation);

  assert_int_equal(snapshot_store_publish(store, config, 7, result_with_server_id(9)), -ESTALE);
  snapshot_unref(before);
  snapshot_unref(after);
  snapshot_unref(third);
  snapshot_store_free(store);
  config_unref(config);
}

static void test_reload_carries_by_name(void **state) {
  (void)state;
  struct config *old = config_from_yaml(two_nodes);
  struct snapshot_store *store = snapshot_store_new(old);
  snapshot_store_publish(store, old, 0, result_with_server_id(1));
  snapshot_store_publish(store, old, 1, result_with_server_id(2));

  /* Same nodes, another poll interval: everything is carried, by name. */
  struct config *next = config_from_yaml("global: {poll_interval: 2s}\n"
                                         "mariadb:\n"
                                         "  - cluster: c\n"
                                         "    user: u\n"
                                         "    nodes:\n"
                                         "      - {name: a, address: 'h:1'}\n"
                                         "      - {name: b, address: 'h:2'}\n");
  assert_int_equal(snapshot_store_install(store, next), 0);
  struct snapshot *s = snapshot_store_acquire(store);
  assert_ptr_equal(s->config, next);
  assert_true(MARIADB(s->results[0])->server_id == 1);
  assert_true(MARIADB(s->results[1])->server_id == 2);
  snapshot_unref(s);

  /* The nodes change (a dropped, c added): b's result is carried as a copy whose replication
   * source, which was "h:3" under the old list, is now the node c. */
  struct target_result *b = result_with_server_id(22);
  add_replica(b, "", "h:3")->master_port = 3;
  free(MARIADB(b)->replicas[0].master_host);
  MARIADB(b)->replicas[0].master_host = strdup("h");
  assert_int_equal(snapshot_store_publish(store, next, 1, b), 0);
  struct config *third = config_from_yaml("mariadb:\n"
                                          "  - cluster: c\n"
                                          "    user: u\n"
                                          "    nodes:\n"
                                          "      - {name: b, address: 'h:2'}\n"
                                          "      - {name: c, address: 'h:3'}\n");
  assert_int_equal(snapshot_store_install(store, third), 0);
  s = snapshot_store_acquire(store);
  assert_true(MARIADB(s->results[0])->server_id == 22);
  assert_string_equal(MARIADB(s->results[0])->replicas[0].source, "c");
  assert_null(s->results[1]);
  snapshot_unref(s);
  assert_int_equal(snapshot_store_publish(store, next, 0, result_with_server_id(5)), -ESTALE);
  config_unref(third);
  /* A poller of the old configuration can no longer publish. */
  assert_int_equal(snapshot_store_publish(store, old, 0, result_with_server_id(5)), -ESTALE);
  config_unref(old); /* the store released its own reference at install */
  snapshot_store_free(store);
  config_unref(next);
}

struct race {
  struct snapshot_store *store;
  struct config *config;
  size_t index;
};

static void *publisher(void *arg) {
  struct race *race = arg;
  for (int i = 1; i <= 2000; i++)
    snapshot_store_publish(race->store, race->config, race->index,
                           result_with_server_id((double)i));
  return NULL;
}

static void *reader(void *arg) {
  struct race *race = arg;
  double last[2] = {0, 0};
  for (int i = 0; i < 4000; i++) {
    struct snapshot *s = snapshot_store_acquire(race->store);
    for (size_t t = 0; t < 2; t++) {
      if (s->results[t]) {
        double id = MARIADB(s->results[t])->server_id;
        if (id < last[t]) /* each target's results only move forward */
          abort();
        last[t] = id;
      }
    }
    snapshot_unref(s);
  }
  return NULL;
}

static void test_concurrent_publish_and_read(void **state) {
  (void)state;
  struct config *config = config_from_yaml(two_nodes);
  struct snapshot_store *store = snapshot_store_new(config);
  struct race races[2] = {{store, config, 0}, {store, config, 1}};
  pthread_t threads[4];
  pthread_create(&threads[0], NULL, publisher, &races[0]);
  pthread_create(&threads[1], NULL, publisher, &races[1]);
  pthread_create(&threads[2], NULL, reader, &races[0]);
  pthread_create(&threads[3], NULL, reader, &races[0]);
  for (int i = 0; i < 4; i++)
    pthread_join(threads[i], NULL);
  struct snapshot *s = snapshot_store_acquire(store);
  assert_true(MARIADB(s->results[0])->server_id == 2000);
  assert_true(MARIADB(s->results[1])->server_id == 2000);
  assert_int_equal(s->generation, 4000);
  snapshot_unref(s);
  snapshot_store_free(store);
  config_unref(config);
}

/* Each published snapshot carries the analysis of exactly its results: a broken link is
 * critical in the very snapshot that shows it, the cluster of the result is analysed again
 * and every other cluster's analysis is shared, not recomputed. */
static void test_analysis_follows_each_publish(void **state) {
  (void)state;
  struct config *config = config_from_yaml("mariadb:\n"
                                           "  - cluster: c\n"
                                           "    user: u\n"
                                           "    nodes:\n"
                                           "      - {name: a, address: 'h:1'}\n"
                                           "      - {name: b, address: 'h:2'}\n"
                                           "  - cluster: d\n"
                                           "    user: u\n"
                                           "    nodes:\n"
                                           "      - {name: e, address: 'h:3'}\n");
  struct snapshot_store *store = snapshot_store_new(config);
  struct snapshot *first = snapshot_store_acquire(store);
  assert_non_null(first->analysis);
  assert_int_equal(first->analysis->n_nodes, 3);
  assert_int_equal(first->analysis->nodes[0]->state, HEALTH_UNKNOWN);

  struct target_result *a = result_with_server_id(1);
  struct replica_status *link = add_replica(a, "", "b");
  link->io_state = IO_STATE_NO; /* the IO thread stopped */
  link->sql_running = true;
  assert_int_equal(snapshot_store_publish(store, config, 0, a), 0);
  struct snapshot *second = snapshot_store_acquire(store);
  const struct node_health *h = analysis_target_health(second->analysis, config, 0);
  assert_non_null(h);
  assert_int_equal(h->state, HEALTH_CRITICAL);
  assert_non_null(strstr(h->reason, "replication from b broken: IO no"));
  assert_ptr_equal(analysis_find_node(second->analysis, "a"), h);
  assert_ptr_not_equal(second->analysis->groups[0], first->analysis->groups[0]);
  assert_ptr_equal(second->analysis->groups[1], first->analysis->groups[1]); /* shared */
  assert_true(second->analysis->groups[0]->links[0].up == 0);

  struct target_result *again = result_with_server_id(1);
  MARIADB(again)->log_bin = MARIADB(again)->log_slave_updates = 1; /* every check passes */
  MARIADB(again)->read_only = 0;
  MARIADB(again)->binlog_format = strdup("ROW");
  link = add_replica(again, "", "b");
  link->io_state = IO_STATE_YES;
  link->sql_running = true;
  assert_int_equal(snapshot_store_publish(store, config, 0, again), 0);
  struct snapshot *third = snapshot_store_acquire(store);
  h = analysis_target_health(third->analysis, config, 0);
  assert_string_equal(h->reason, "replicating, lag 0.0s");
  assert_int_equal(h->state, HEALTH_OK);
  assert_true(third->analysis->groups[0]->links[0].up == 1);
  /* The reader of the second snapshot still sees its own judgement. */
  assert_int_equal(analysis_target_health(second->analysis, config, 0)->state, HEALTH_CRITICAL);
  snapshot_unref(first);
  snapshot_unref(second);
  snapshot_unref(third);
  snapshot_store_free(store);
  config_unref(config);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_swap_keeps_readers_snapshot),
      cmocka_unit_test(test_reload_carries_by_name),
      cmocka_unit_test(test_concurrent_publish_and_read),
      cmocka_unit_test(test_analysis_follows_each_publish),
  };
  return cmocka_run_group_tests_name("snapshot", tests, NULL, NULL);
}
