#!/usr/bin/env bash
# The reservoir command as a user meets it: bad input is one line naming the bad word and the
# valid choices, with exit status 2; replay reproduces a deadlock's trace hash; JSON carries
# the fields the issue names; a timeline is drawn.
set -uo pipefail
bin=${1:?usage: cli_test.sh path/to/reservoir}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0 passes=0

fail() { echo "cli: FAIL: $*" >&2; fails=$((fails + 1)); }
pass() { passes=$((passes + 1)); }

# bad_input "words expected in the message" args...
bad_input() {
	local want=$1
	shift
	local out rc
	out=$("$bin" "$@" 2>&1 >/dev/null)
	rc=$?
	if [ $rc -ne 2 ]; then
		fail "'$*' exited $rc, not 2"
	elif [ "$(printf '%s\n' "$out" | wc -l)" -ne 1 ]; then
		fail "'$*' said more than one line: $out"
	elif [[ $out != *"$want"* ]]; then
		fail "'$*' said '$out', which lacks '$want'"
	else
		pass
	fi
}

bad_input "nosuch" run nosuch
bad_input "s1-crypt-swap-reserves" run nosuch
bad_input "mempool" run s1-crypt-swap-reserves --policy nokey=1
bad_input "2016" run s1-crypt-swap-reserves --policy mempool=2015
bad_input "anon_pages" run s1-crypt-swap-reserves --param nosuch=1
bad_input "1..3000" run s1-crypt-swap-reserves --param anon_pages=0
bad_input "12x" run s1-crypt-swap-reserves --seed 12x
bad_input "sim, os" run s1-crypt-swap-reserves --backend gpu
bad_input "text, json" run s1-crypt-swap-reserves --format xml
bad_input ".svg" run s1-crypt-swap-reserves --plot out.jpg
bad_input "--policy" run s1-crypt-swap-reserves --bogus 1
bad_input "needs a value" run s1-crypt-swap-reserves --seed
bad_input "1..1000000" matrix --seeds 0
bad_input "text, md, json, csv" matrix --format yaml
bad_input "--verbose" list --verbose extra
# Issue 13's command-line cases: each refused in one line before any run.
bad_input "' -1'" run s1-crypt-swap-reserves --seed " -1"
bad_input "'-1'" run s1-crypt-swap-reserves --seed -1
bad_input "empty item" run s1-crypt-swap-reserves --policy mempool=2016,
bad_input "empty item" run s1-crypt-swap-reserves --policy mempool=2016,,oom=reaper
bad_input "empty item" run s1-crypt-swap-reserves --policy ""
bad_input "given twice" run s1-crypt-swap-reserves --policy mempool=2016,mempool=revert
bad_input "'-1' is not an integer in 1..1000000" matrix --seeds -1
bad_input "--jobs" matrix --jobs " 2"
bad_input "--seconds" stress --seconds -1
bad_input "dirty=1024 and buffers=1" run s5-nofs-bufio-loop --param buffers=1 --param dirty=1024
bad_input "cannot write '/nonexistent-dir/x.svg'" run s1-crypt-swap-reserves \
	--plot /nonexistent-dir/x.svg
bad_input "cannot write '/nonexistent-dir/t.tsv'" run s1-crypt-swap-reserves \
	--trace /nonexistent-dir/t.tsv
bad_input "is a directory" run s1-crypt-swap-reserves --trace "$tmp"
bad_input "--out: cannot create '/nonexistent-dir/report'" matrix --seeds 100 \
	--out /nonexistent-dir/report
touch "$tmp/file"
bad_input "not a directory" matrix --seeds 100 --out "$tmp/file"
bad_input "--backend sim" replay s1-crypt-swap-reserves --backend os
bad_input "--timeout" run s1-crypt-swap-reserves --timeout 0
bad_input "--timeout" run s1-crypt-swap-reserves --timeout 5s
# A path check leaves nothing behind.
if [ -e /nonexistent-dir ] || [ -n "$(ls "$tmp" | grep -v '^file$')" ]; then
	fail "a refused path left a file: $(ls "$tmp")"
else
	pass
fi

# A run that cannot be set up is an error with its reason, never a verdict: the matrix says
# how many, shows the cell as error and exits 1 (before issue 13 it printed progress, exit 0).
out=$(ulimit -v 20000; "$bin" matrix --seeds 1 --jobs 1 --scenario s4-global-reserve-pool 2>&1)
rc=$?
if [ $rc -ne 1 ] || [[ $out != *"could not be set up"* ]] || [[ $out == *" progress"* ]]; then
	fail "matrix under ulimit -v 20000: rc $rc: $out"
else
	pass
fi
out=$(ulimit -v 20000; "$bin" run s4-global-reserve-pool 2>&1)
rc=$?
if [ $rc -ne 1 ] || [[ $out == *"livelock"* ]] || [[ $out == *"progress"* ]]; then
	fail "run under ulimit -v 20000: rc $rc: $out"
else
	pass
fi

# A deadlock, replayed bit for bit.
out=$("$bin" replay s5-nofs-bufio-loop --policy bufio=gfp-fs,loop=plain --param case=1 --seed 7)
rc=$?
if [ $rc -ne 0 ] || [[ $out != *"deadlock"* ]] || [[ $out != *"(identical)"* ]]; then
	fail "replay of a deadlock: rc $rc: $out"
else
	pass
fi

# A stuck run on real threads ends with its verdict and chain (it hung, silent, before).
start=$(date +%s)
out=$(timeout 60 "$bin" run s4-global-reserve-pool --policy reservation=watermarks --backend os \
	--timeout 2 2>&1)
rc=$?
if [ $rc -ne 0 ] || [[ $out != *"on os: deadlock"* ]] || [[ $out != *'thread "fs_writer"'* ]] ||
	[ $(($(date +%s) - start)) -gt 20 ]; then
	fail "a stuck os run: rc $rc after $(($(date +%s) - start)) s: $out"
else
	pass
fi

# Every --format json output parses as JSON (replay's verdict on the copy is inside it).
for cmd in "run s1-crypt-swap-reserves" "replay s5-nofs-bufio-loop --param case=1 --seed 7" \
	"matrix --seeds 2 --jobs 2 --scenario s3-oom-mutex-livelock"; do
	# shellcheck disable=SC2086
	if ! "$bin" $cmd --format json | python3 -c 'import json, sys; json.load(sys.stdin)'; then
		fail "'$cmd --format json' is not JSON"
	else
		pass
	fi
done

# JSON: the fields a script reads.
json=$("$bin" run s3-oom-mutex-livelock --policy mempool=revert,oom=no-reaper --format json)
for field in '"scenario": ' '"policy": ' '"seed": ' '"verdict": "livelock"' '"trace_hash": ' \
	'"counters": {'; do
	if [[ $json != *"$field"* ]]; then fail "run JSON lacks $field"; else pass; fi
done
json=$("$bin" matrix --seeds 2 --jobs 2 --format json)
for field in '"scenario": ' '"policy": "mempool=' '"runs": 2' '"deadlock": ' \
	'"verdict": ' '"first_bad_seed": ' '"checker": "predicted"' '"checker": "silent"'; do
	if [[ $json != *"$field"* ]]; then fail "matrix JSON lacks $field"; else pass; fi
done

# A timeline, and the same run with and without it.
plain=$("$bin" run s4-global-reserve-pool --policy reservation=watermarks --seed 3 | grep 'trace hash')
drawn=$("$bin" run s4-global-reserve-pool --policy reservation=watermarks --seed 3 \
	--plot "$tmp/s4.svg" | grep 'trace hash')
if [ "$plain" != "$drawn" ]; then
	fail "sampling changed the run: '$plain' vs '$drawn'"
elif ! grep -q '<svg' "$tmp/s4.svg" || [ "$(wc -l <"$tmp/s4.svg.tsv")" -lt 100 ]; then
	fail "no timeline drawn"
else
	pass
fi
# ...with one lane per task, the deadlock marked, and the tasks' waits named.
if grep -q '^# lanes' "$tmp/s4.svg.tsv" && grep -q '>fs_writer<' "$tmp/s4.svg" &&
	grep -q '>deadlock<' "$tmp/s4.svg" && grep -q '>kswapd0<' "$tmp/s4.svg"; then
	pass
else
	fail "the timeline has no lanes: $(grep -c '' "$tmp/s4.svg.tsv") table lines"
fi

# --lockdep: case A of the 2020 dm-bufio/loop thread is a cycle in the counters and the report; a fixed policy has
# none; the flag takes no value.
cycles() {
	"$bin" run "$@" --format json | python3 -c '
import json, sys
j = json.load(sys.stdin)
c = j["counters"].get("lockdep_cycles")
print("missing" if c is None else "some" if c > 0 else "none", "io:loop0" in j["report"])'
}
got=$(cycles s5-nofs-bufio-loop --policy bufio=gfp-io,loop=noio --lockdep)
[ "$got" = "some True" ] && pass || fail "--lockdep on case A gave '$got'"
got=$(cycles s1-crypt-swap-reserves --lockdep --seed 2)
[ "$got" = "none False" ] && pass || fail "--lockdep on s1's fixed policy gave '$got'"
got=$(cycles s1-crypt-swap-reserves --seed 2)
[ "$got" = "missing False" ] && pass || fail "without --lockdep the counter is there: '$got'"

# --predict: the paths apart, which finish, and in which the checker finds case A's cycle.
got=$(cycles s5-nofs-bufio-loop --policy bufio=gfp-io,loop=noio --predict)
[ "$got" = "some True" ] && pass || fail "--predict on case A gave '$got'"
got=$(cycles s5-nofs-bufio-loop --policy bufio=gfp-fs,loop=noio --predict)
[ "$got" = "none False" ] && pass || fail "--predict on case A's fix gave '$got'"
# The matrix's checker column: no cell warns but the racy case 2 (whose two seeds here may
# miss its race), and every s5 deadlock of cases A and B was predicted.
csv=$("$bin" matrix --seeds 2 --jobs 2 --format csv)
if [[ $(head -1 <<<"$csv") != *",checker" ]] || grep ',warned$' <<<"$csv" | grep -qv ',case=2,' ||
	grep '^s5-nofs-bufio-loop,case=[01],.*,deadlock,' <<<"$csv" | grep -qv ',predicted$'; then
	fail "matrix checker column: $(grep -E 'warned|^s5.*deadlock' <<<"$csv")"
else
	pass
fi

# explore: bad input refused in one line; a failing cell's failures counted and told apart;
# a fixed cell has none.
bad_input "random, swarm, pct:d=D" explore s1-crypt-swap-reserves --strategy swarmy --runs 10
bad_input "pct:d: '0' is not an integer in 1..16" explore s1-crypt-swap-reserves \
	--strategy pct:d=0 --runs 10
bad_input "unknown setting 'q=1' of pct" explore s1-crypt-swap-reserves --strategy pct:q=1 \
	--runs 10
bad_input "needs --runs N" explore s1-crypt-swap-reserves --strategy random
bad_input "needs --strategy" explore s1-crypt-swap-reserves --runs 5
bad_input "--runs: '0' is not an integer" explore s1-crypt-swap-reserves --strategy random \
	--runs 0
bad_input "nosuch" explore nosuch --strategy random --runs 5
explored() {
	"$bin" explore "$@" --format json | python3 -c '
import json, sys
j = json.load(sys.stdin)
print(j["runs"], j["failures"], len(j["distinct"]), j["runs_to_first_failure"],
      "pct_bound" in j)'
}
got=$(explored s5-nofs-bufio-loop --policy bufio=gfp-io,loop=noio --strategy pct:d=2 --runs 40)
[[ $got == "40 40 "[12]" 1 True" ]] && pass || fail "explore of case A under PCT gave '$got'"
got=$(explored s5-nofs-bufio-loop --policy bufio=gfp-fs,loop=noio --strategy random --runs 40)
[ "$got" = "40 0 0 -1 False" ] && pass || fail "explore of case A's fix gave '$got'"

# Schedule files: a failing run written down replays to the same trace; cut short it goes on
# as the run it was cut from; another build's, or a broken file, is refused in one line.
sched=$tmp/case-a.sched
"$bin" run s5-nofs-bufio-loop --policy bufio=gfp-io,loop=noio --strategy pct:d=2 --seed 3 \
	--save-schedule "$sched" >/dev/null
if out=$("$bin" replay --schedule "$sched") && [[ $out == *"(identical)"* ]]; then
	pass
else
	fail "replay of a saved schedule: $out"
fi
python3 - "$sched" "$tmp/half.sched" <<'PY'
import sys
lines = open(sys.argv[1]).read().split("\n")
ids = []
for l in lines:
    if l.startswith("ids "):
        for t in l[4:].split():
            i, _, c = t.partition("*")
            ids += [i] * int(c or 1)
half = ids[: len(ids) // 2]
out = [l for l in lines if not l.startswith(("ids ", "decisions ", "end")) and l]
out += ["decisions %d" % len(half), "ids " + " ".join(half), "end", ""]
open(sys.argv[2], "w").write("\n".join(out))
PY
if out=$("$bin" replay --schedule "$tmp/half.sched") &&
	[[ $out == *"then the seed's strategy"*"(identical)"* ]]; then
	pass
else
	fail "a schedule cut in half did not go on as its run: $out"
fi
sed 's/^build .*/build 0000000000000000/' "$sched" >"$tmp/other.sched"
bad_input "recorded by build 0000000000000000" replay --schedule "$tmp/other.sched"
if "$bin" replay --schedule "$tmp/other.sched" --force >/dev/null; then pass; else
	fail "--force did not replay another build's schedule"; fi
grep -v '^end$' "$sched" >"$tmp/truncated.sched"
bad_input "truncated: no 'end' line" replay --schedule "$tmp/truncated.sched"
sed 's/^ids \([0-9]*\)/ids x\1/' "$sched" >"$tmp/bad-id.sched"
bad_input "not a thread id 'x" replay --schedule "$tmp/bad-id.sched"
sed 's/^strategy .*/strategy pct:d=0/' "$sched" >"$tmp/bad-strategy.sched"
bad_input "pct:d: '0' is not an integer in 1..16" replay --schedule "$tmp/bad-strategy.sched"
printf 'hello\n' >"$tmp/junk.sched"
bad_input "not a reservoir schedule" replay --schedule "$tmp/junk.sched"
bad_input "cannot read schedule" replay --schedule "$tmp/missing.sched"
bad_input "need the simulator" run s5-nofs-bufio-loop --backend os --strategy pct:d=2
# Coverage and "sometimes" properties: an exploration that never sees one exits 1 naming it.
if out=$("$bin" explore s5-nofs-bufio-loop --param free=1000 --strategy random --runs 5 2>&1); then
	fail "an exploration that reached no sometimes property exited 0"
elif [[ $out != *'"reclaim reaches a dirty buffer" never happened in 5 runs'* ]]; then
	fail "unreached property not named: $out"
else
	pass
fi
got=$("$bin" explore s3-oom-mutex-livelock --strategy random --runs 5 --format json | python3 -c '
import json, sys
j = json.load(sys.stdin)
print(j["coverage"]["oom_kill"]["runs"], j["sometimes"]["the OOM killer chooses a victim"])')
[ "$got" = "5 5" ] && pass || fail "explore coverage of s3: '$got'"

# shrink: the shrunk schedule fails the same way and replays exactly; a schedule that does not
# fail is refused.
if out=$("$bin" shrink "$sched" --out "$tmp/shrunk.sched" --format json) &&
	python3 -c '
import json, sys
j = json.loads(sys.argv[1])
assert j["verdict"] == "deadlock", j
assert j["after"]["decisions"] <= j["before"]["decisions"], j
assert j["after"]["preemptions"] <= j["before"]["preemptions"], j' "$out" &&
	again=$("$bin" replay --schedule "$tmp/shrunk.sched") && [[ $again == *"(identical)"* ]] &&
	[[ $("$bin" replay --schedule "$tmp/shrunk.sched" --format json) == *'"verdict": "deadlock"'* ]]
then pass; else fail "shrink: $out / $again"; fi
# shrink --plot draws the shrunk run, which still replays exactly.
if out=$("$bin" shrink "$sched" --out "$tmp/plotted.sched" --plot "$tmp/shrunk.svg") &&
	grep -q '^# lanes' "$tmp/shrunk.svg.tsv" && grep -q '<svg' "$tmp/shrunk.svg" &&
	[[ $("$bin" replay --schedule "$tmp/plotted.sched") == *"(identical)"* ]]; then
	pass
else
	fail "shrink --plot: $out"
fi
bad_input ".svg" shrink "$sched" --plot out.jpg
# shrink_racy NAME SCENARIO POLICY ASSERTIONS: the random walk's first failure of SCENARIO under
# POLICY, shrunk; the shrink's JSON (j) must pass the python ASSERTIONS and the shrunk schedule
# replay exactly.
shrink_racy() {
	local name=$1 scenario=$2 policy=$3 checks=$4 out
	"$bin" explore "$scenario" --policy "$policy" --strategy random --runs 100 \
		--save-schedule "$tmp/$name.sched" >/dev/null 2>&1
	if out=$("$bin" shrink "$tmp/$name.sched" --out "$tmp/$name-shrunk.sched" --format json) &&
		python3 -c "
import json, sys
j = json.loads(sys.argv[1])
assert j['verdict'] == 'deadlock', j
$checks" "$out" &&
		[[ $("$bin" replay --schedule "$tmp/$name-shrunk.sched") == *"(identical)"* ]]
	then pass; else fail "shrink of $name: $out"; fi
}
# shrink_random_walk_to_no_preemption: s6's race lost on a random walk that preempts at
# most of its ~500 decisions; one preemption-free prefix decides it (96 went to 38 before).
shrink_racy s6 s6-daemon-parked-io iowait=completion-only "
assert j['before']['preemptions'] >= 10, j
assert j['after']['preemptions'] <= 2, j
assert j['after']['deciding'] * 10 < j['before']['decisions'], j"
# shrink_depth_one_bug_to_one_deviation: s7's late worker must take a request first, one choice
# among twelve idle workers; the prefix pass left 20 preemptions, one deviation from the
# preemption-free run needs at most one.
shrink_racy s7 s7-daemon-io-flusher ioflusher=late-cleared "
assert j['before']['preemptions'] >= 100, j
assert j['after']['preemptions'] <= 1, j"
"$bin" run s5-nofs-bufio-loop --policy bufio=gfp-fs,loop=noio --save-schedule "$tmp/ok.sched" \
	>/dev/null
bad_input "does not fail (progress): nothing to shrink" shrink "$tmp/ok.sched"
bad_input "needs a schedule file" shrink
bad_input "--budget: '0' is not an integer" shrink "$sched" --budget 0
if out=$("$bin" run s3-oom-mutex-livelock --strategy pct:d=2 --check-determinism) &&
	[[ $out == "determinism: two runs, the same "* ]]; then pass; else
	fail "--check-determinism on a scenario: $out"; fi
bad_input "need the simulator" run s3-oom-mutex-livelock --backend os --check-determinism
if out=$("$bin" explore s5-nofs-bufio-loop --param case=2 --strategy pct:d=2 --runs 40 \
	--check-determinism) && [[ $out == *"determinism: every run repeated the same decisions"* ]]
then pass; else fail "explore --check-determinism: $out"; fi

# Sharded runs: four shards of the matrix under GNU parallel, merged, print exactly what the
# unsharded run prints; shards of different runs, a missing or doubled shard, and a bad
# --shard are refused in one line.
"$bin" matrix --seeds 6 --jobs 2 --format csv >"$tmp/whole.csv" 2>/dev/null
parallel --will-cite "\"$bin\" matrix --seeds 6 --jobs 1 --shard {}/4 >\"$tmp/shard{}.json\" \
	2>/dev/null" ::: 1 2 3 4
if "$bin" merge "$tmp"/shard{1,2,3,4}.json --format csv >"$tmp/merged.csv" &&
	cmp -s "$tmp/whole.csv" "$tmp/merged.csv"; then pass; else
	fail "the merged shards differ from the whole run: $(diff "$tmp/whole.csv" "$tmp/merged.csv" | head -5)"
fi
"$bin" matrix --seeds 3 --jobs 2 --shard 2/4 >"$tmp/other.json" 2>/dev/null
bad_input "shards of different runs" merge "$tmp/shard1.json" "$tmp/other.json" \
	"$tmp/shard3.json" "$tmp/shard4.json"
bad_input "shard 4/4 is missing" merge "$tmp"/shard{1,2,3}.json
bad_input "given twice" merge "$tmp/shard1.json" "$tmp/shard1.json"
bad_input "is not I/N with 1 <= I <= N" matrix --shard 3/2
bad_input "is not I/N with 1 <= I <= N" matrix --shard 0/2
bad_input "is not I/N" matrix --shard half
bad_input "not a matrix shard" merge "$sched"
# An exploration sharded three ways prints, merged, what the whole one prints.
"$bin" explore s5-nofs-bufio-loop --policy bufio=gfp-io,loop=noio --param case=2 \
	--strategy pct:d=2 --runs 120 --jobs 2 >"$tmp/explore-whole.txt"
parallel --will-cite "\"$bin\" explore s5-nofs-bufio-loop --policy bufio=gfp-io,loop=noio \
	--param case=2 --strategy pct:d=2 --runs 120 --jobs 1 --shard {}/3 \
	>\"$tmp/explore{}.json\"" ::: 1 2 3
if "$bin" merge "$tmp"/explore{1,2,3}.json >"$tmp/explore-merged.txt" &&
	cmp -s "$tmp/explore-whole.txt" "$tmp/explore-merged.txt"; then pass; else
	fail "merged exploration differs: $(diff "$tmp/explore-whole.txt" "$tmp/explore-merged.txt" | head -5)"
fi
bad_input "shard 3/3 is missing" merge "$tmp"/explore{1,2}.json
# Swarm draws the scenario's optional behaviours per seed: sharded and merged, the same
# failures by option; the first failure's schedule records what was drawn and replays.
swarm_args="s4-global-reserve-pool --policy reservation=watermarks --param race=1 --strategy swarm --runs 150"
"$bin" explore $swarm_args --jobs 2 --save-schedule "$tmp/swarm.sched" >"$tmp/swarm-whole.txt"
parallel --will-cite "\"$bin\" explore $swarm_args --jobs 1 --shard {}/3 >\"$tmp/swarm{}.json\"" ::: 1 2 3
if "$bin" merge "$tmp"/swarm{1,2,3}.json | grep -v "schedule of the first" >"$tmp/swarm-merged.txt" &&
	grep -v "schedule of the first" "$tmp/swarm-whole.txt" | cmp -s - "$tmp/swarm-merged.txt" &&
	grep -q "swarm options" "$tmp/swarm-merged.txt" && grep -q "hold=1: " "$tmp/swarm-merged.txt"; then
	pass
else
	fail "swarm's merged exploration differs or lacks its options: $(head -c 600 "$tmp/swarm-merged.txt")"
fi
# Its first failure (seed 4) drew hold=1, the option that triggers it.
if grep -q "^param hold 1$" "$tmp/swarm.sched" &&
	"$bin" replay --schedule "$tmp/swarm.sched" >"$tmp/swarm-replay.txt" 2>&1; then
	pass
else
	fail "swarm's schedule does not replay: $(tail -3 "$tmp/swarm-replay.txt")"
fi
bad_input "--shard prints its part" explore s5-nofs-bufio-loop --strategy random --runs 4 \
	--shard 1/2 --format json

echo "cli: $passes checks passed, $fails failed"
[ $fails -eq 0 ]
