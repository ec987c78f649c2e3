#!/usr/bin/env bash
# The GPU measurement of the serving forward (issue 14), in one run on a GPU
# host that has only PyTorch (with its CUDA LibTorch), CMake and nvcc:
#
#   1. builds core/ alone against PyTorch's LibTorch with the fused CUDA
#      kernels (Release, sm_90 unless CUDAARCHS says otherwise);
#   2. checks correctness: the kernel against its host reference
#      (cuda_kernel_test, when GoogleTest is installed), and the pooled
#      forward -- fused kernel and ATen reference -- against every profile
#      composed and run alone (backbone_benchmark --check=1, fp16 tolerance);
#   3. measures, in one process, BERT-base shape, fp16, seq 128, 1,000
#      distinct X-PEFT hard profiles: bare and pooled (and the cached
#      previous design, and the ATen paths) seq/s and their ratios at
#      batch 64 and 256; device bytes per resident profile; 1,000,000
#      X-PEFT hard profiles with a shared head resident in one pool;
#   4. runs, in the same session, HF BertModel bare and the HF PEFT
#      mixed-adapter baseline (gpu_anchor_bench.py, gpu_design_probe.py,
#      from $MASKSERVE_BENCH_DIR, default ./.device/bench: copy
#      ../shared/bench there before the run, it travels with the tree);
#   5. prints one JSON line (all figures) and a short table, and writes
#      both under $OUT (default ./gpu-bench-out).
#
#   scripts/gpu_bench.sh            # on the GPU host, from the repo root
#
# Fits one 10-minute device call: a cold build of core/ takes ~3-4 min on
# 16 cores; the figures ~3 min.
set -uo pipefail
started=$(date +%s)
# Past this many seconds the HF reference runs are skipped, so that the
# whole script stays inside one 10-minute device call.
deadline=${MASKSERVE_GPU_BENCH_DEADLINE_S:-500}
cd "$(dirname "$0")/.."
root=$(pwd)
out=${OUT:-$root/gpu-bench-out}
build=${MASKSERVE_GPU_BUILD_DIR:-/tmp/maskserve-gpu-build}
bench_dir=${MASKSERVE_BENCH_DIR:-$root/.device/bench}
jobs=${MASKSERVE_JOBS:-$(nproc)}
mkdir -p "$out"
log() { echo "[gpu_bench $(date +%T)] $*" >&2; }

prefix=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
torch_cuda=$(python3 -c 'import torch;print(torch.version.cuda)')
nvcc_cuda=$(nvcc --version 2> /dev/null | sed -n 's/.*release \([0-9.]*\).*/\1/p')
log "PyTorch CUDA $torch_cuda, nvcc CUDA $nvcc_cuda"
[ "${torch_cuda%%.*}" = "${nvcc_cuda%%.*}" ] \
  || log "warning: the kernels link CUDA $nvcc_cuda's runtime next to PyTorch's $torch_cuda"
generator=()
command -v ninja > /dev/null && generator=(-G Ninja)
log "configuring against LibTorch at $prefix"
cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DMASKSERVE_CORE_ONLY=ON -DMASKSERVE_CUDA=ON -DMASKSERVE_USE_PCH=ON \
  -DCMAKE_CUDA_ARCHITECTURES="${CUDAARCHS:-90}" -DCMAKE_PREFIX_PATH="$prefix" \
  > "$out/configure.log" 2>&1 || { tail -40 "$out/configure.log"; exit 1; }
targets=(backbone_benchmark)
# The kernel's own test exists when GoogleTest was found.
cmake --build "$build" --target help 2> /dev/null | grep -q cuda_kernel_test \
  && targets+=(cuda_kernel_test)
log "building ${targets[*]} with $jobs jobs"
start=$(date +%s)
cmake --build "$build" -j "$jobs" --target "${targets[@]}" > "$out/build.log" 2>&1 \
  || { tail -60 "$out/build.log"; exit 1; }
log "built in $(($(date +%s) - start)) s"

kernel_test="skipped (no GoogleTest on this host)"
if [ -x "$build/core/cuda/cuda_kernel_test" ]; then
  if "$build/core/cuda/cuda_kernel_test" > "$out/cuda_kernel_test.log" 2>&1; then
    kernel_test="pass"
  else
    kernel_test="FAIL"
    tail -40 "$out/cuda_kernel_test.log"
  fi
  log "cuda_kernel_test: $kernel_test"
fi

log "backbone_benchmark (check, bare/pooled/cached, 1M profiles)"
"$build/core/benchmarks/backbone_benchmark" --shape=base --device=cuda --dtype=float16 \
  --batches=64,256 --seq_lens=128 --profiles=1000 --min_seconds=1 --rounds=3 --check=1 \
  --million=1000000 > "$out/backbone_benchmark.txt" 2> "$out/backbone_benchmark.err"
bench_rc=$?
cat "$out/backbone_benchmark.txt"
[ $bench_rc -eq 0 ] || { log "backbone_benchmark exited $bench_rc"; cat "$out/backbone_benchmark.err"; }

hf=()
for script_args in "gpu_anchor_bench.py 64" "gpu_anchor_bench.py 256" "gpu_design_probe.py 64"; do
  set -- $script_args
  if [ $(($(date +%s) - started)) -gt "$deadline" ]; then
    log "past ${deadline} s: skipping $script_args"
  elif [ -f "$bench_dir/$1" ]; then
    log "HF reference: $script_args"
    left=$((580 - ($(date +%s) - started)))
    line=$(timeout $((left < 240 ? left : 240)) python3 "$bench_dir/$1" "$2" 2> "$out/hf_$1_$2.err" | tail -1)
    if [ -n "$line" ]; then
      # A last line that is not JSON is kept as a string.
      python3 -c 'import json,sys; json.loads(sys.argv[1])' "$line" 2> /dev/null \
        || line=$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$line")
      hf+=("{\"script\":\"$1\",\"arg\":$2,\"result\":$line}")
    fi
  else
    log "no $bench_dir/$1: copy ../shared/bench to .device/bench before the run"
  fi
done

python3 - "$out" "$kernel_test" "$bench_rc" ${hf[@]+"${hf[@]}"} << 'PY'
import json, sys
out, kernel_test, bench_rc, hf = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
def parse(text):
    try:
        return json.loads(text)
    except ValueError:
        return {"unparsed": text[:200]}
ours = None
for line in open(f"{out}/backbone_benchmark.txt"):
    if line.startswith("{"):
        ours = parse(line)
        break
refs = [parse(h) for h in hf]
summary = {"cuda_kernel_test": kernel_test, "benchmark_exit": bench_rc, "maskserve": ours,
           "hf": refs}
line = json.dumps(summary)
print(line)
open(f"{out}/gpu_bench.json", "w").write(line + "\n")
rows = []
if ours and "results" in ours:
    for r in ours["results"]:
        rows.append((f"maskserve batch {r['batch']}", r.get("bare_seq_per_s"),
                     r.get("pooled_seq_per_s"), r.get("pooled_ratio")))
        if "cached_seq_per_s" in r:
            rows.append((f"  cached composed, batch {r['batch']}", r.get("bare_seq_per_s"),
                         r.get("cached_seq_per_s"), r.get("cached_ratio")))
        if "pooled_aten_seq_per_s" in r:
            rows.append((f"  ATen path, batch {r['batch']}", r.get("bare_aten_seq_per_s"),
                         r.get("pooled_aten_seq_per_s"), r.get("pooled_aten_ratio")))
for ref in refs:
    res = ref.get("result", {})
    if ref.get("script") == "gpu_anchor_bench.py" and isinstance(res, dict):
        bare = res.get("bare_seq_s")
        for key, value in res.items():
            if key.endswith("_seq_s") and key != "bare_seq_s":
                rows.append((f"HF {key[:-6]} batch {ref['arg']}", bare, value,
                             value / bare if bare else None))
fmt = lambda v: "-" if v is None else (f"{v:.3f}" if isinstance(v, float) and v < 10 else f"{v:.0f}")
print(f"{'variant':40} {'bare seq/s':>12} {'mixed seq/s':>12} {'ratio':>7}")
for name, bare, mixed, ratio in rows:
    print(f"{name:40} {fmt(bare):>12} {fmt(mixed):>12} {fmt(ratio):>7}")
if ours and "context" in ours:
    ctx = ours["context"]
    for key in ("check", "check_max_abs_fused_vs_alone", "check_max_abs_fused_vs_aten",
                "device_bytes_per_resident_profile", "device_bytes_per_cached_composed_profile",
                "million_profiles", "million_pool_device_bytes", "million_device_allocated_bytes"):
        print(f"{key:40} {ctx.get(key, '-')}")
PY
