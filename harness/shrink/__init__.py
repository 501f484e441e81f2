"""`etcd-harness shrink`: rerun a failing plan with less until the smallest plan that
still shows the same anomaly is left.

Why a delta-debugging loop and not Hypothesis's shrinker: testing one candidate is a
live cluster run of several seconds whose outcome is nondeterministic. Hypothesis's
shrinker assumes a cheap, deterministic test it may call thousands of times over the
raw choices that drew the plan, and a change of one choice redraws everything after it,
so a candidate would not even keep the operations that broke etcd. A greedy ddmin over
the plan's own parts (clients, each client's program, watchers, faults) plus halving of
its numbers (duration, fault lengths, value size, members) needs tens of runs, keeps
every operation it does not remove byte-identical (client ids and the seed stay), and
takes a retry count per candidate for flaky bugs and a time budget as a whole.

Before any of that, a watch anomaly is distilled (:mod:`.distill`): the history names
the writes, the compaction and the watch behind it, and replaying just those from one
client (:mod:`.script`, :mod:`.replay`, :mod:`.distilled`) turns a deterministic bug that
random traffic hits once in many runs into a test that fails every time.

Modules: :mod:`.candidates` (the reductions, pure functions over plans),
:mod:`.search` (the loop, with tries and budget and a pluggable reproducer),
:mod:`.live` (the reproducer that runs a real cluster), :mod:`.output` (the files),
:mod:`.calls` (a one-client reproduction as typed ``etcd_recorder`` calls).
"""
