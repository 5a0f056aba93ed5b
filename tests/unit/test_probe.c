/* The seconds-to-timespec conversion that every timed wait (sleep, sigtimedwait, a
 * condition variable's deadline) goes through. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "probe.h"

#include <math.h>
#include <time.h>

static void test_timespec_from_seconds(void **state) {
  (void)state;
  struct timespec ts = timespec_from_seconds(0);
  assert_int_equal(ts.tv_sec, 0);
  assert_int_equal(ts.tv_nsec, 0);
  ts = timespec_from_seconds(1.5);
  assert_int_equal(ts.tv_sec, 1);
  assert_int_equal(ts.tv_nsec, 500000000);
  ts = timespec_from_seconds(0.02);
  assert_int_equal(ts.tv_sec, 0);
  assert_int_equal(ts.tv_nsec, 20000000);
  /* A monotonic deadline days after boot keeps its whole seconds exact. */
  ts = timespec_from_seconds(864000.25);
  assert_int_equal(ts.tv_sec, 864000);
  assert_int_equal(ts.tv_nsec, 250000000);
  /* Never a nanosecond field of a whole second, nor a negative time. */
  ts = timespec_from_seconds(nextafter(2.0, 0));
  assert_true(ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000L);
  assert_true(ts.tv_sec == 1 || (ts.tv_sec == 2 && ts.tv_nsec == 0));
  ts = timespec_from_seconds(-3);
  assert_int_equal(ts.tv_sec, 0);
  assert_int_equal(ts.tv_nsec, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_timespec_from_seconds),
  };
  return cmocka_run_group_tests_name("probe", tests, NULL, NULL);
}
