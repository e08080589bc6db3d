# Services the tests need, started on 127.0.0.1. Sourced by .ci/run (which provides log, CACHE and PIDS).
# Each service exports the address the tests read; tests that need a service skip with a reason when its
# address is unset, except under CI=true, where a missing service is a failure.

start_services() {
  : # No service is needed yet: @bounded/core's tests use in-memory stores only.
}
