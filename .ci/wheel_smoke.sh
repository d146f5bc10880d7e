#!/usr/bin/env bash
# Wheel smoke test (README "Installing from a wheel"): build the wheel from a clean copy of
# the source, install it into a fresh virtual environment outside the tree (torch first:
# TORCH is pinned to the CPU wheel on disk, an unpinned torch pulls the CUDA build), then
# from an empty directory: insr --version, insr cases, insr run advection1d --steps 3
# (the log must land under ./outputs), insr render on that run, and a run from inside
# ./outputs (the folder outputs/advection1d/ must not be taken for the case).
#   .ci/wheel_smoke.sh            (PY=python3 TORCH=torch==2.13.0 KEEP=1 to keep the temp dir)
set -euo pipefail
SRC="$(cd "$(dirname "$0")/.." && pwd)"
PY="${PY:-python3}"
TORCH="${TORCH:-torch==2.13.0}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/insr-wheel-smoke.XXXXXX")"
if [ -z "${KEEP:-}" ]; then trap 'rm -rf "$WORK"' EXIT; fi
t0=$SECONDS
step() { printf '== wheel smoke [%3ss] %s\n' "$((SECONDS - t0))" "$*"; }
fail() { echo "wheel smoke FAILED: $*" >&2; exit 1; }

# 1. the wheel, built from the files git knows (tracked + untracked, not ignored): no stale
#    build/ or egg-info of the checkout can leak into it
step "build the wheel ($WORK)"
mkdir "$WORK/src" "$WORK/dist"
(cd "$SRC" && git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
    [ -e "$f" ] && printf '%s\0' "$f"
done | tar --null -T - -cf -) | tar -xf - -C "$WORK/src"
"$PY" -m pip wheel -q --no-deps -w "$WORK/dist" "$WORK/src"
WHEEL="$(ls "$WORK"/dist/insr-*.whl)"
# every file under insr/data is in the wheel
listing="$("$PY" -m zipfile -l "$WHEEL" | awk '{print $1}')"
shipped="$(cd "$WORK/src" && find insr/data -type f -name '*.toml' | sort)"
[ -n "$shipped" ] || fail "no data files under insr/data"
for f in $shipped; do
    grep -qx "$f" <<<"$listing" || fail "$f is not in $(basename "$WHEEL")"
done
step "$(basename "$WHEEL"): $(wc -l <<<"$shipped") data files"

# 2. a clean virtual environment: torch first (pinned), then the wheel and its dependencies
step "venv + $TORCH + wheel"
"$PY" -m venv "$WORK/venv"
BIN="$WORK/venv/bin"
"$BIN/pip" install -q "$TORCH"
"$BIN/pip" install -q "$WHEEL"

# 3. from an empty directory, nothing of the source tree in sight
mkdir "$WORK/empty"
cd "$WORK/empty"
unset PYTHONPATH INSR_OUTPUTS
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
where="$("$BIN/python" -c 'import insr; print(insr.__file__)')"
case "$where" in "$WORK/venv/"*) ;; *) fail "insr imported from $where, not the venv" ;; esac

step "insr --version"
"$BIN/insr" --version | grep -q '^insr [0-9]' || fail "insr --version"

step "insr cases"
cases="$("$BIN/insr" cases)"
echo "$cases" | grep -q advection1d || fail "insr cases does not list advection1d: $cases"
echo "$cases" | grep -q shipped || fail "insr cases does not mark shipped cases"

step "insr run advection1d --steps 3"
log="$("$BIN/insr" run advection1d --steps 3 -q | tail -n 1)"
case "$log" in "$WORK/empty/outputs/advection1d/"*/run.h5) ;; *) fail "log at '$log', not ./outputs" ;; esac
[ -f "$log" ] || fail "no log file $log"

step "insr render"
"$BIN/insr" render "$(dirname "$log")" -q
[ -s "$(dirname "$log")/render-all.gif" ] || fail "render wrote no render-all.gif"

step "cd outputs && insr run advection1d --steps 1"
cd "$WORK/empty/outputs"
log2="$("$BIN/insr" run advection1d --steps 1 --name inner -q | tail -n 1)"
[ "$log2" = "$WORK/empty/outputs/outputs/advection1d/inner/run.h5" ] || fail "inner log '$log2'"

step "ok"
