#!/usr/bin/env bash
# Runs pytest and turns "no tests collected" (exit 5) into a failure with a clear word:
# a test target that runs nothing is broken, not green.
"$@"
status=$?
if [[ $status -eq 5 ]]; then
  echo "pytest collected no tests: the test selection is wrong or tests are missing" >&2
fi
exit $status
