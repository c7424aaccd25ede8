# Sourced by the bench/run_*.sh scripts that compare against an older
# commit (BASELINE_REF): the same benchmark sources built at that commit.
#
#   prepare_baseline ROOT REF TARGET
# makes a detached worktree of REF (BASELINE_DIR, default
# /tmp/orasi-bench-base-REF, kept for the next run), copies this tree's
# bench/ sources the benchmarks need into it (bench/CMakeLists.txt and the
# benchmark files; the library stays REF's), builds TARGET in Release in its
# own build-bench/, and sets baseline_bin to the binary.
#
#   bench_trees ROOT BASELINE TARGET CURRENT_BIN
# sets trees to "label:binary" pairs: the baseline's (when BASELINE is not
# empty, built by prepare_baseline) first, then this tree's CURRENT_BIN.

baseline_sources=(CMakeLists.txt bench_cli.hpp bench_stats.hpp proc_stats.hpp
  child_process.hpp
  etcd_http.hpp put_observers.hpp etcd_propagation_bench.cpp
  registry_publish_bench.cpp)

prepare_baseline() {
  local root="$1" ref="$2" target="$3"
  local dir="${BASELINE_DIR:-/tmp/orasi-bench-base-$ref}" file
  if [[ ! -d "$dir" ]]; then
    echo "+ git worktree add --detach $dir $ref"
    git -C "$root" worktree add --detach "$dir" "$ref" >/dev/null
  fi
  for file in "${baseline_sources[@]}"; do
    cmp -s "$root/bench/$file" "$dir/bench/$file" ||
      cp "$root/bench/$file" "$dir/bench/$file"
  done
  echo "+ cmake + make $target in $dir/build-bench"
  cmake -S "$dir" -B "$dir/build-bench" -DCMAKE_BUILD_TYPE=Release \
    -DORASI_BUILD_TESTS=OFF -DORASI_BUILD_EXAMPLES=OFF -DORASI_BUILD_BENCH=ON \
    >/dev/null
  make -C "$dir/build-bench" -j2 "$target" >/dev/null
  baseline_bin="$dir/build-bench/bench/$target"
}

bench_trees() {
  local root="$1" baseline="$2" target="$3" current_bin="$4"
  trees=("current:$current_bin")
  if [[ -n "$baseline" ]]; then
    prepare_baseline "$root" "$baseline" "$target"
    trees=("baseline:$baseline_bin" "${trees[@]}")
  fi
}
