package framework

import (
	"runtime"
	"sync"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
)

// Framework is one scheduling profile: the filters in the order they run
// (a node's first failing filter is its reason, as upstream) and the
// weighted scores. It holds no state between calls, so one Framework may
// be used concurrently.
type Framework struct {
	Filters []FilterPlugin
	Scores  []WeightedScore
	// Parallelism bounds the workers filtering and scoring nodes;
	// 0 means GOMAXPROCS.
	Parallelism int
	// PercentageOfNodesToScore bounds the feasible nodes a decision looks
	// for in large clusters (see NumFeasibleNodesToFind); 0 is adaptive,
	// 100 means every node.
	PercentageOfNodesToScore int
	// OmitScores leaves Diagnosis.Scores empty: a caller that only needs
	// the choice (the scheduler) spares a per-node breakdown a decision.
	OmitScores bool
}

// Schedule picks a node for pod from snap. It returns the node's name, or
// "" when no node fits, and a diagnosis (Message() is the summary then).
// The highest total score wins; ties go to the first node visited, so
// with Parallelism 1 a decision is a pure function of its inputs.
func (f *Framework) Schedule(pod *corev1.Pod, snap *Snapshot) (string, *Diagnosis) {
	node, d, _ := f.ScheduleFrom(NewPodInfo(pod), snap, 0)
	return node, d
}

// ScheduleInfo is Schedule for a precomputed PodInfo.
func (f *Framework) ScheduleInfo(pi *PodInfo, snap *Snapshot) (string, *Diagnosis) {
	node, d, _ := f.ScheduleFrom(pi, snap, 0)
	return node, d
}

// ScheduleFrom is the decision for large clusters: nodes are visited from
// index start (wrapping), and filtering stops once NumFeasibleNodesToFind
// nodes fit, as upstream does. It also returns where the next decision
// should start, so that successive pods see different parts of the
// cluster; the caller keeps that number.
func (f *Framework) ScheduleFrom(pi *PodInfo, snap *Snapshot, start int) (string, *Diagnosis, int) {
	n := len(snap.Nodes)
	d := &Diagnosis{NumNodes: n}
	if n == 0 {
		return "", d, 0
	}
	start = ((start % n) + n) % n
	f = f.ForCycle(pi, snap)
	want := int64(f.NumFeasibleNodesToFind(n))
	scr := getScratch(n)
	defer putScratch(scr)
	statuses, visited := scr.statuses[:n], scr.visited[:n]
	var found atomic.Int64
	f.parallelize(n, func(i int) bool {
		if found.Load() >= want {
			return false
		}
		idx := (start + i) % n
		visited[i] = true
		if statuses[i] = f.filter(pi, snap.Nodes[idx]); statuses[i] == nil {
			found.Add(1)
		}
		return true
	})
	feasible := scr.feasible[:0]
	processed := 0
	for i, st := range statuses {
		if !visited[i] {
			continue
		}
		processed++
		node := snap.Nodes[(start+i)%n]
		if st == nil {
			if len(feasible) < int(want) {
				feasible = append(feasible, node)
			}
			continue
		}
		if d.Failed == nil {
			d.Failed = make(map[string]*Status, n/4)
		}
		d.Failed[node.Name()] = st
	}
	scr.feasible = feasible
	next := (start + processed) % n
	switch len(feasible) {
	case 0:
		return "", d, next
	case 1:
		return feasible[0].Name(), d, next
	}
	best, scores := f.score(pi, feasible, scr)
	if !f.OmitScores {
		d.Scores = scores
	}
	return feasible[best].Name(), d, next
}

// scratch is the memory one decision works in, reused across decisions:
// on a large cluster it is tens of kilobytes a pod, which would otherwise
// be most of what a scheduler allocates.
type scratch struct {
	statuses []*Status
	visited  []bool
	feasible []*NodeInfo
	raw      []int64
}

var scratchPool = sync.Pool{New: func() any { return &scratch{} }}

// getScratch returns a scratch with room for n nodes, statuses and
// visited zeroed.
func getScratch(n int) *scratch {
	s := scratchPool.Get().(*scratch)
	if cap(s.statuses) < n {
		s.statuses = make([]*Status, n)
		s.visited = make([]bool, n)
	}
	return s
}

// putScratch clears what refers to the decision and pools s.
func putScratch(s *scratch) {
	clear(s.statuses[:cap(s.statuses)])
	clear(s.visited[:cap(s.visited)])
	clear(s.feasible[:cap(s.feasible)])
	s.feasible = s.feasible[:0]
	scratchPool.Put(s)
}

// minFeasibleNodesToFind is the least number of feasible nodes a decision
// looks for before it stops filtering.
const minFeasibleNodesToFind = 100

// NumFeasibleNodesToFind is how many feasible nodes are enough in a
// cluster of n: all of them below 100 nodes or at PercentageOfNodesToScore
// 100; else that percentage (adaptive when 0: 50% less 1% per 125 nodes,
// at least 5%), and at least 100.
func (f *Framework) NumFeasibleNodesToFind(n int) int {
	if n < minFeasibleNodesToFind || f.PercentageOfNodesToScore >= 100 {
		return n
	}
	pct := f.PercentageOfNodesToScore
	if pct <= 0 {
		pct = max(5, 50-n/125)
	}
	return max(n*pct/100, minFeasibleNodesToFind)
}

// filter runs the filters on one node and returns the first failure.
func (f *Framework) filter(pi *PodInfo, n *NodeInfo) *Status {
	for _, p := range f.Filters {
		if st := p.Filter(pi, n); st != nil {
			if st.Plugin == "" {
				st.Plugin = p.Name()
			}
			return st
		}
	}
	return nil
}

// score runs every score plugin on every feasible node, normalizes and
// weights them. It returns the index of the best node (the first of the
// highest totals) and, unless f.OmitScores, every node's scores.
func (f *Framework) score(pi *PodInfo, nodes []*NodeInfo, scr *scratch) (int, []NodeScore) {
	f.preScore(pi, nodes)
	n, k := len(nodes), len(f.Scores)
	if cap(scr.raw) < n*k {
		scr.raw = make([]int64, n*k)
	}
	// raw holds each plugin's scores for all nodes, one plugin after the
	// other, as Normalize takes them.
	raw := scr.raw[:n*k]
	f.parallelize(n, func(i int) bool {
		for j, ws := range f.Scores {
			raw[j*n+i] = ws.Plugin.Score(pi, nodes[i])
		}
		return true
	})
	for j, ws := range f.Scores {
		if nz, ok := ws.Plugin.(ScoreNormalizer); ok {
			nz.Normalize(raw[j*n : (j+1)*n])
		}
	}
	best, bestTotal := 0, int64(0)
	var out []NodeScore
	var flat []int64
	if !f.OmitScores {
		out = make([]NodeScore, n)
		flat = make([]int64, n*k)
	}
	for i, node := range nodes {
		var total int64
		for j, ws := range f.Scores {
			total += raw[j*n+i] * ws.Weight
		}
		if i == 0 || total > bestTotal {
			best, bestTotal = i, total
		}
		if out == nil {
			continue
		}
		s := NodeScore{Node: node.Name(), Total: total, ByPlugin: flat[i*k : (i+1)*k]}
		for j := range f.Scores {
			s.ByPlugin[j] = raw[j*n+i]
		}
		out[i] = s
	}
	return best, out
}

// chunk is how many nodes a worker claims at a time: big enough that the
// atomic counter is not contended, small enough to balance.
const chunk = 64

// parallelize calls fn(i) for i in [0, n) on up to Parallelism workers,
// each taking chunks of indexes in order; once fn returns false no new
// chunk is started.
func (f *Framework) parallelize(n int, fn func(i int) bool) {
	workers := f.Parallelism
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, (n+chunk-1)/chunk)
	if workers <= 1 {
		for i := 0; i < n; i++ {
			if !fn(i) {
				return
			}
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				start := int(next.Add(chunk)) - chunk
				if start >= n {
					return
				}
				for i := start; i < min(start+chunk, n); i++ {
					if !fn(i) {
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}
