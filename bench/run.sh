#!/usr/bin/env bash
# Benchmark: explore against ruff's import graph, pydeps and the tree-sitter
# parse floor, on two pinned real-world corpora. See bench/README.md.
#
# Environment (all optional):
#   RUNS=3             timed runs per tool and corpus; the median is reported
#   THREADS=N          sets RAYON_NUM_THREADS for every tool and passes --threads N
#                      to explore (default: all cores)
#   CORPORA="django homeassistant"   which corpora to run
#   TIMEOUT=300        seconds before a single run of explore/ruff/parse floor is killed
#   PYDEPS_TIMEOUT=600 seconds before a single pydeps run is killed (reported as "> N s")
#   EXPLORE_BIN=path   use this explore binary instead of building one
#   EXPLORE_ARGS="..." extra arguments for the timed explore runs (e.g. to disable a cache)
#   SKIP_BUILD=1       do not run cargo (use what is already in the target dir)
#   REV=commit         build that commit, exported with `git archive` into
#                      bench/.work/src, instead of the working tree (which may
#                      hold someone's unfinished edits)
#   CARGO_TARGET_DIR   honoured as usual by cargo and for locating the binaries
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH_DIR")
WORK=$BENCH_DIR/.work
VENV=$WORK/venv
DL=$WORK/downloads
CORPORA_DIR=$WORK/corpora
LOGS=$WORK/logs

# Pinned versions (checked with `pip index versions NAME`).
RUFF_VERSION=0.17.6
PYDEPS_VERSION=3.0.9
DJANGO_VERSION=5.1.15          # medium corpus: ~880 modules
HOMEASSISTANT_VERSION=2024.1.6 # large corpus: ~6,450 modules, no PEP 695 syntax

RUNS=${RUNS:-3}
CORPORA=${CORPORA:-django homeassistant}
TIMEOUT=${TIMEOUT:-300}
PYDEPS_TIMEOUT=${PYDEPS_TIMEOUT:-600}
# Test code is part of the import graph ruff and pydeps see: include it.
EXPLORE_ARGS="--include-tests ${EXPLORE_ARGS:-}"
if [[ -n ${THREADS:-} ]]; then
    export RAYON_NUM_THREADS=$THREADS
    EXPLORE_ARGS="--threads $THREADS $EXPLORE_ARGS"
fi

log() { printf '==> %s\n' "$*" >&2; }
warn() { printf 'warning: %s\n' "$*" >&2; }

mkdir -p "$WORK" "$DL" "$CORPORA_DIR" "$LOGS"

# --- 1. tools -----------------------------------------------------------------
if [[ ! -x /usr/bin/time ]]; then
    log "installing GNU time (apt-get install -y time)"
    if ! apt-get install -y time >/dev/null 2>&1; then
        apt-get update >/dev/null && apt-get install -y time >/dev/null
    fi
fi

if [[ ! -x $VENV/bin/python ]]; then
    log "creating venv in $VENV"
    python3 -m venv "$VENV"
fi
installed_ruff=$("$VENV/bin/ruff" --version 2>/dev/null || true)
installed_pydeps=$("$VENV/bin/pydeps" --version 2>/dev/null || true)
if [[ $installed_ruff != "ruff $RUFF_VERSION" || $installed_pydeps != "pydeps v$PYDEPS_VERSION" ]]; then
    log "installing ruff==$RUFF_VERSION pydeps==$PYDEPS_VERSION"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check \
        "ruff==$RUFF_VERSION" "pydeps==$PYDEPS_VERSION"
fi
RUFF=$VENV/bin/ruff
PYDEPS=$VENV/bin/pydeps

# --- 2. corpora -----------------------------------------------------------------
# fetch_corpus NAME DIST VERSION: download the pure-Python wheel once and unpack it.
fetch_corpus() {
    local name=$1 dist=$2 version=$3 dest=$CORPORA_DIR/$1
    if [[ -d $dest ]]; then
        return
    fi
    log "downloading $dist==$version"
    "$VENV/bin/pip" download --quiet --disable-pip-version-check --no-deps \
        --only-binary :all: --python-version 3.12 -d "$DL" "$dist==$version"
    local wheel
    wheel=$(ls "$DL"/"$dist"-"$version"-*.whl | head -n 1)
    log "unpacking $(basename "$wheel")"
    rm -rf "$dest.tmp"
    "$VENV/bin/python" -m zipfile -e "$wheel" "$dest.tmp"
    mv "$dest.tmp" "$dest"
}

declare -A PACKAGE=([django]=django [homeassistant]=homeassistant)
declare -A VERSION=([django]=$DJANGO_VERSION [homeassistant]=$HOMEASSISTANT_VERSION)
for corpus in $CORPORA; do
    if [[ -z ${PACKAGE[$corpus]:-} ]]; then
        echo "unknown corpus '$corpus' (known: ${!PACKAGE[*]})" >&2
        exit 2
    fi
    fetch_corpus "$corpus" "${PACKAGE[$corpus]}" "${VERSION[$corpus]}"
done

# --- 3. build -------------------------------------------------------------------
# SRC is the tree cargo builds: the working tree, or a clean export of REV.
SRC=$ROOT
BUILT_FROM="working tree ($ROOT)"
if [[ -n ${REV:-} ]]; then
    commit=$(git -C "$ROOT" rev-parse --verify "$REV^{commit}")
    SRC=$WORK/src
    BUILT_FROM="commit $(git -C "$ROOT" rev-parse --short "$commit") (git archive into $SRC)"
    if [[ -z ${SKIP_BUILD:-} ]]; then
        log "exporting $commit into $SRC"
        rm -rf "$SRC" && mkdir -p "$SRC"
        git -C "$ROOT" archive "$commit" | tar -x -C "$SRC"
    fi
fi
TARGET_DIR=${CARGO_TARGET_DIR:-$SRC/target}
[[ $TARGET_DIR == /* ]] || TARGET_DIR=$SRC/$TARGET_DIR
FLOOR=$TARGET_DIR/release/examples/parse_floor
EXPLORE=${EXPLORE_BIN:-$TARGET_DIR/release/explore}
BUILD_FAILED= # tools whose build failed: an older binary left in the target dir is not used
if [[ -z ${SKIP_BUILD:-} ]]; then
    log "cargo build --release --bin explore --example parse_floor ($BUILT_FROM)"
    if ! (cd "$SRC" && cargo build --release --bin explore --example parse_floor) \
        >"$LOGS/build.log" 2>&1; then
        warn "combined build failed (see $LOGS/build.log); trying each target alone"
        (cd "$SRC" && cargo build --release --example parse_floor) \
            >"$LOGS/build-floor.log" 2>&1 || {
            warn "parse_floor did not build"
            BUILD_FAILED+=" parse_floor"
        }
        if [[ -z ${EXPLORE_BIN:-} ]]; then
            (cd "$SRC" && cargo build --release --bin explore) \
                >"$LOGS/build-explore.log" 2>&1 || {
                warn "explore did not build"
                BUILD_FAILED+=" explore"
            }
        fi
    fi
fi

# --- 4. timed runs --------------------------------------------------------------
# Results are kept as "wall cpu peak_kib" per run in RES[corpus/tool], and the
# state in STATUS[corpus/tool]: ok, failed (exit N), timeout (> N s) or missing.
declare -A RES STATUS
TOOLS=(explore ruff pydeps parse_floor)

# tool_available TOOL: whether its binary is there (and was just built).
tool_available() {
    [[ " $BUILD_FAILED " != *" $1 "* ]] || return 1
    case $1 in
        explore) [[ -x $EXPLORE ]] ;;
        parse_floor) [[ -x $FLOOR ]] ;;
        ruff) [[ -x $RUFF ]] ;;
        pydeps) [[ -x $PYDEPS ]] ;;
    esac
}

# run_once TOOL CORPUS: one timed run, appends to RES or sets STATUS on failure.
run_once() {
    local tool=$1 corpus=$2 dir=$CORPORA_DIR/$2 limit=$TIMEOUT
    local key=$corpus/$tool timing=$LOGS/time.txt err=$LOGS/$corpus-$tool.stderr
    local -a cmd
    case $tool in
        # shellcheck disable=SC2206 # EXPLORE_ARGS is split on purpose
        explore) cmd=("$EXPLORE" "$dir" --format json --quiet $EXPLORE_ARGS) ;;
        ruff) cmd=("$RUFF" analyze graph --isolated .) ;;
        pydeps)
            limit=$PYDEPS_TIMEOUT
            cmd=("$PYDEPS" "${PACKAGE[$corpus]}" --no-config --no-output --nodot
                --max-bacon 0 --show-deps)
            ;;
        parse_floor) cmd=("$FLOOR" "$dir") ;;
    esac
    local rc=0
    (cd "$dir" && /usr/bin/time -f '%e %U %S %M' -o "$timing" \
        timeout "$limit" "${cmd[@]}" >/dev/null 2>"$err") || rc=$?
    if [[ $rc -eq 124 ]]; then
        STATUS[$key]="timeout (> $limit s)"
    elif [[ $rc -ne 0 ]]; then
        STATUS[$key]="failed (exit $rc)"
        warn "$tool on $corpus exited $rc; last lines of $err:"
        tail -n 5 "$err" >&2 || true
    else
        local wall user sys kib
        read -r wall user sys kib < <(tail -n 1 "$timing")
        RES[$key]+="$wall $(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }') $kib"$'\n'
        STATUS[$key]=ok
    fi
}

# median COLUMN < rows: median of one whitespace-separated column.
median() {
    sort -g -k"$1,$1" | awk -v c="$1" '{ v[NR] = $c }
        END { if (NR == 0) exit; if (NR % 2) print v[(NR + 1) / 2];
              else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo
echo "ruff $RUFF_VERSION, pydeps $PYDEPS_VERSION, Django $DJANGO_VERSION, homeassistant $HOMEASSISTANT_VERSION"
if [[ -n ${EXPLORE_BIN:-} ]]; then
    echo "explore: $EXPLORE (EXPLORE_BIN)"
elif [[ -n ${SKIP_BUILD:-} ]]; then
    echo "explore: $EXPLORE (not rebuilt: SKIP_BUILD)"
else
    echo "explore: $EXPLORE, built from the $BUILT_FROM"
fi
echo "threads: ${RAYON_NUM_THREADS:-all $(nproc) cores}, runs per tool: $RUNS"
# Other work on the machine (a build, say) skews every number: say so.
loadavg() { cut -d' ' -f1 /proc/loadavg; }
echo "load average before: $(loadavg)"
if awk -v l="$(loadavg)" 'BEGIN { exit !(l >= 1) }'; then
    warn "the machine is busy (1-minute load $(loadavg)): timings will be noisy"
fi

for corpus in $CORPORA; do
    dir=$CORPORA_DIR/$corpus
    nfiles=$(find "$dir" -type f \( -name '*.py' -o -name '*.pyi' \) | wc -l)
    log "$corpus: $nfiles Python files in $dir"
    for tool in "${TOOLS[@]}"; do
        tool_available "$tool" || STATUS[$corpus/$tool]=missing
    done
    # One untimed pass so that every tool sees the same warm page cache.
    [[ ${STATUS[$corpus/parse_floor]:-} == missing ]] || "$FLOOR" "$dir" 2>/dev/null || true
    # explore's timings only mean something if it writes a real report: keep
    # one (it is also what the edge comparison reads) and check it first.
    if [[ ${STATUS[$corpus/explore]:-} != missing ]]; then
        rc=0
        # shellcheck disable=SC2086 # EXPLORE_ARGS is split on purpose
        "$EXPLORE" "$dir" --format json --quiet $EXPLORE_ARGS >"$WORK/explore-$corpus.json" \
            2>"$LOGS/$corpus-explore-json.stderr" || rc=$?
        if [[ $rc -ne 0 ]]; then
            STATUS[$corpus/explore]="failed (exit $rc)"
            warn "explore on $corpus exited $rc; last lines of $LOGS/$corpus-explore-json.stderr:"
            tail -n 5 "$LOGS/$corpus-explore-json.stderr" >&2 || true
        elif ! python3 -c 'import json, sys
report = json.load(open(sys.argv[1], encoding="utf-8"))
sys.exit(not isinstance(report, dict) or not isinstance(report.get("imports"), list))' \
            "$WORK/explore-$corpus.json" 2>/dev/null; then
            STATUS[$corpus/explore]="failed (no JSON report with .imports)"
            warn "explore on $corpus did not print a JSON object with an imports list"
        fi
    fi
    for ((run = 1; run <= RUNS; run++)); do
        for tool in "${TOOLS[@]}"; do
            case ${STATUS[$corpus/$tool]:-} in missing | timeout* | failed*) continue ;; esac
            log "$corpus: run $run/$RUNS: $tool"
            run_once "$tool" "$corpus"
        done
    done
    if [[ ${STATUS[$corpus/parse_floor]:-} == ok ]]; then
        cat "$LOGS/$corpus-parse_floor.stderr" >&2
    fi
done

# --- 5. table ---------------------------------------------------------------------
declare -A WALL CPU PEAK
echo
echo "load average after: $(loadavg)"
printf '%-14s %-12s %9s %9s %10s  %s\n' corpus tool "wall s" "CPU s" "peak MiB" status
for corpus in $CORPORA; do
    for tool in "${TOOLS[@]}"; do
        key=$corpus/$tool
        status=${STATUS[$key]:-missing}
        if [[ $status == ok ]]; then
            WALL[$key]=$(printf '%s' "${RES[$key]}" | median 1)
            CPU[$key]=$(printf '%s' "${RES[$key]}" | median 2)
            PEAK[$key]=$(printf '%s' "${RES[$key]}" | median 3 | awk '{ printf "%.1f", $1 / 1024 }')
            printf '%-14s %-12s %9.2f %9.2f %10s  %s\n' "$corpus" "$tool" \
                "${WALL[$key]}" "${CPU[$key]}" "${PEAK[$key]}" "ok (median of $RUNS)"
        else
            printf '%-14s %-12s %9s %9s %10s  %s\n' "$corpus" "$tool" - - - "$status"
        fi
    done
done

# ratio NAME A B TARGET_OP TARGET [lower]: prints A/B with its target, or why
# it can't; "lower" means A is only a lower bound (a timed-out run).
ratio() {
    local name=$1 a=$2 b=$3 op=$4 target=$5 bound=${6:-}
    if [[ -z $a || -z $b ]]; then
        printf '  %-36s %8s   (target %s %s)\n' "$name" n/a "$op" "$target"
        return
    fi
    awk -v n="$name" -v a="$a" -v b="$b" -v op="$op" -v t="$target" -v lb="$bound" 'BEGIN {
        if (b == 0) { printf "  %-36s %8s   (target %s %s)\n", n, "inf", op, t; exit }
        r = a / b; ok = (op == "<=") ? (r <= t) : (r >= t);
        verdict = ok ? "met" : (lb == "" ? "MISSED" : "unknown, lower bound");
        printf "  %-36s %s%7.2f   (target %s %s: %s)\n", n, lb == "" ? " " : ">", r, op, t, verdict }'
}

echo
for corpus in $CORPORA; do
    echo "$corpus:"
    ratio "explore wall / parse floor wall" "${WALL[$corpus/explore]:-}" \
        "${WALL[$corpus/parse_floor]:-}" '<=' 1.25
    # Not a target, but steadier than wall time when the machine is busy.
    ratio "  (same in CPU time)" "${CPU[$corpus/explore]:-}" \
        "${CPU[$corpus/parse_floor]:-}" '<=' 1.25
    pydeps_wall=${WALL[$corpus/pydeps]:-} bound=
    if [[ ${STATUS[$corpus/pydeps]:-} == timeout* ]]; then
        pydeps_wall=$PYDEPS_TIMEOUT bound=lower
    fi
    ratio "pydeps wall / explore wall" "$pydeps_wall" "${WALL[$corpus/explore]:-}" '>=' 5 $bound
    ratio "explore peak RSS / ruff peak RSS" "${PEAK[$corpus/explore]:-}" \
        "${PEAK[$corpus/ruff]:-}" '<=' 3
done

# --- 6. edge agreement with ruff ----------------------------------------------------
echo
for corpus in $CORPORA; do
    dir=$CORPORA_DIR/$corpus
    if [[ ${STATUS[$corpus/explore]:-} != ok || ${STATUS[$corpus/ruff]:-} != ok ]]; then
        echo "$corpus: edge agreement skipped (explore: ${STATUS[$corpus/explore]:-missing}, ruff: ${STATUS[$corpus/ruff]:-missing})"
        continue
    fi
    (cd "$dir" && "$RUFF" analyze graph --isolated . >"$WORK/ruff-$corpus.json" 2>/dev/null)
    python3 "$BENCH_DIR/compare_edges.py" --name "$corpus" --root "$dir" \
        --explore "$WORK/explore-$corpus.json" --ruff "$WORK/ruff-$corpus.json" \
        --ruff-cwd "$dir" --diff-out "$WORK/diff-$corpus.txt" ||
        echo "$corpus: compare_edges.py failed"
done
