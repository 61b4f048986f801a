#!/usr/bin/env bash
# Runs every cargo-fuzz target in props/fuzz/ for a bounded time.
#
#   bash .ci/fuzz.sh            # 30 s per target (CI)
#   FUZZ_SECONDS=600 bash .ci/fuzz.sh [TARGET...]   # longer runs
#
# Needs the nightly toolchain (libFuzzer instrumentation); installs
# cargo-fuzz if it is missing. Without nightly it says so and exits 0 only
# when FUZZ_OPTIONAL=1 (CI sets nothing: a missing nightly fails).
# Seeds are committed in props/fuzz/seeds/TARGET/; what a run adds goes to
# target/fuzz-corpus/TARGET/ (not committed); a crash is written to
# props/fuzz/artifacts/TARGET/ and fails the script. Each target prints its
# executions per second.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-30}

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "fuzz: the nightly toolchain is not installed (rustup toolchain install nightly);" >&2
  echo "fuzz: cargo-fuzz needs it for libFuzzer's instrumentation." >&2
  if [ "${FUZZ_OPTIONAL:-0}" = 1 ]; then echo "fuzz: skipped (FUZZ_OPTIONAL=1)"; exit 0; fi
  exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz"
  cargo install -q --locked cargo-fuzz
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo +nightly fuzz list --fuzz-dir props/fuzz)
fi
# Debug assertions on (-a): the driver's own checks count as findings.
cargo +nightly fuzz build -a -s none --fuzz-dir props/fuzz
status=0
for t in "${targets[@]}"; do
  corpus=target/fuzz-corpus/$t
  mkdir -p "$corpus"
  log=target/fuzz-corpus/$t.log
  if cargo +nightly fuzz run -a -s none --fuzz-dir props/fuzz "$t" "$corpus" "props/fuzz/seeds/$t" -- \
      -max_total_time="$seconds" -timeout=20 -print_final_stats=1 >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    echo "fuzz: $t: ${runs:-?} runs in ${seconds} s, ${rate:-?} execs/s, corpus $(ls "$corpus" | wc -l) inputs"
  else
    echo "fuzz: $t FAILED; the end of its log ($log):" >&2
    tail -40 "$log" >&2
    status=1
  fi
done
exit $status
