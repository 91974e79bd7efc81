package scheduler

import (
	"container/heap"
	"sync"
	"time"
)

// itemState is where a key is in the scheduling queue.
type itemState int

const (
	stateActive        itemState = iota // waiting in the active heap
	stateBackoff                        // waiting for its backoff to end
	stateUnschedulable                  // waiting for a cluster event
	stateInFlight                       // popped: being scheduled or bound
)

// qItem is one pending pod, by key ("namespace/name").
type qItem struct {
	key      string
	priority int32
	// enqueued orders equal priorities first come, first served; a
	// failed attempt re-stamps it, so a retry queues behind the pods of
	// its priority that waited meanwhile (as upstream stamps it).
	enqueued time.Time
	state    itemState
	index    int // in the active heap
	// attempts counts failures; backoff is initial * 2^(attempts-1).
	attempts     int
	backoffUntil time.Time
	// since is when the item entered the unschedulable set.
	since time.Time
	// rejectedBy are the plugins that found the pod unschedulable in its
	// last attempt; a cluster event that concerns one of them retries it.
	// Empty: only events that concern every plugin (MoveAll) do.
	rejectedBy []string
	// popCycle is the queue's event count when the item was popped: an
	// event after it that concerns the attempt's failure may have made
	// the pod schedulable (retry with backoff rather than park it).
	popCycle int64
	// requeue marks an in-flight item whose pod changed meanwhile.
	requeue bool
}

// queue is the scheduling queue: an active heap (priority, then age), a
// backoff set whose entries become active when their backoff ends, and an
// unschedulable set that waits for a cluster event that may help it (Move,
// MoveAll) or maxUnschedulable. It holds keys only; the pods are read from
// the lister when popped. Time comes from now, so tests drive it.
type queue struct {
	mu   sync.Mutex
	cond *sync.Cond
	now  func() time.Time

	initialBackoff, maxBackoff, maxUnschedulable time.Duration

	items  map[string]*qItem
	active activeHeap
	// parked are the items in the unschedulable set, so that events walk
	// them only, not every pending pod.
	parked map[string]*qItem
	// events counts cluster events (Move, MoveAll); lastAll is the count
	// at the last MoveAll and lastFor at the last Move concerning each
	// plugin.
	events  int64
	lastAll int64
	lastFor map[string]int64
	closed  bool
}

func newQueue(now func() time.Time, initialBackoff, maxBackoff, maxUnschedulable time.Duration) *queue {
	q := &queue{now: now, initialBackoff: initialBackoff, maxBackoff: maxBackoff,
		maxUnschedulable: maxUnschedulable, items: map[string]*qItem{},
		parked: map[string]*qItem{}, lastFor: map[string]int64{}}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// Add enqueues a new pending pod, or notes that a known one changed: a
// parked (unschedulable) pod is retried once its backoff ends, an
// in-flight one after its current attempt.
func (q *queue) Add(key string, priority int32) {
	q.mu.Lock()
	defer q.mu.Unlock()
	it := q.items[key]
	if it == nil {
		it = &qItem{key: key, priority: priority, enqueued: q.now()}
		q.items[key] = it
		q.pushActive(it)
		return
	}
	switch it.state {
	case stateActive:
		if it.priority != priority {
			it.priority = priority
			heap.Fix(&q.active, it.index)
		}
	case stateInFlight:
		it.priority = priority
		it.requeue = true
	case stateBackoff:
		it.priority = priority
	case stateUnschedulable:
		it.priority = priority
		q.unpark(it, q.now())
	}
}

// Delete forgets a key (the pod was deleted or bound by someone else).
func (q *queue) Delete(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	it := q.items[key]
	if it == nil {
		return
	}
	if it.state == stateActive {
		heap.Remove(&q.active, it.index)
	}
	delete(q.items, key)
	delete(q.parked, key)
}

// Pop blocks until a key is active and returns it, marked in flight, with
// its attempt count; ok is false once the queue is closed.
func (q *queue) Pop() (key string, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.active) == 0 && !q.closed {
		q.cond.Wait()
	}
	if q.closed {
		return "", false
	}
	it := heap.Pop(&q.active).(*qItem)
	it.state = stateInFlight
	it.popCycle = q.events
	it.requeue = false
	return it.key, true
}

// Done ends an in-flight attempt that succeeded (or found nothing to do):
// the key leaves the queue unless its pod changed meanwhile.
func (q *queue) Done(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	it := q.items[key]
	if it == nil || it.state != stateInFlight {
		return
	}
	if it.requeue {
		q.pushActive(it)
		return
	}
	delete(q.items, key)
}

// Failed ends an in-flight attempt that failed. An unschedulable pod,
// rejected by the plugins named in rejectedBy, is parked until a cluster
// event that concerns one of them (or every plugin), unless such an event
// happened during the attempt: then it backs off, as does any other
// failure.
func (q *queue) Failed(key string, unschedulable bool, rejectedBy ...string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	it := q.items[key]
	if it == nil || it.state != stateInFlight {
		return
	}
	it.attempts++
	now := q.now()
	it.enqueued = now
	it.backoffUntil = now.Add(q.backoffFor(it.attempts))
	it.rejectedBy = rejectedBy
	switch {
	case it.requeue:
		q.pushActive(it)
	case unschedulable && !q.movedSince(it.popCycle, rejectedBy):
		it.state, it.since = stateUnschedulable, now
		q.parked[key] = it
	default:
		it.state = stateBackoff
	}
}

// movedSince says whether an event after the count cycle concerned any of
// plugins (q.mu held).
func (q *queue) movedSince(cycle int64, plugins []string) bool {
	if q.lastAll > cycle {
		return true
	}
	for _, p := range plugins {
		if q.lastFor[p] > cycle {
			return true
		}
	}
	return false
}

// backoffFor is initial * 2^(attempts-1), at most maxBackoff.
func (q *queue) backoffFor(attempts int) time.Duration {
	d := q.initialBackoff
	for i := 1; i < attempts && d < q.maxBackoff; i++ {
		d *= 2
	}
	return min(d, q.maxBackoff)
}

// MoveAll is a cluster event that may make any parked pod schedulable
// (a node added, resources freed): each goes to active, or to backoff if
// its backoff has not ended yet.
func (q *queue) MoveAll() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.events++
	q.lastAll = q.events
	now := q.now()
	for _, it := range q.parked {
		q.unpark(it, now)
	}
}

// Move is a cluster event that concerns only plugins (an assigned pod
// added or relabelled concerns inter-pod affinity and topology spread):
// the parked pods one of them rejected are moved as MoveAll moves them,
// as upstream's queueing hints do. It is cheap when nothing is parked, so
// it may be called for every binding.
func (q *queue) Move(plugins ...string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.events++
	for _, p := range plugins {
		q.lastFor[p] = q.events
	}
	now := q.now()
	for _, it := range q.parked {
		if rejectedByAny(it, plugins) {
			q.unpark(it, now)
		}
	}
}

func rejectedByAny(it *qItem, plugins []string) bool {
	for _, r := range it.rejectedBy {
		for _, p := range plugins {
			if r == p {
				return true
			}
		}
	}
	return false
}

// unpark moves a parked item to active, or to backoff if its backoff has
// not ended yet (q.mu held).
func (q *queue) unpark(it *qItem, now time.Time) {
	delete(q.parked, it.key)
	if now.Before(it.backoffUntil) {
		it.state = stateBackoff
	} else {
		q.pushActive(it)
	}
}

// Flush activates items whose backoff ended and retries those parked
// longer than maxUnschedulable. The owner calls it about once a second.
func (q *queue) Flush() {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.now()
	for _, it := range q.items {
		switch {
		case it.state == stateBackoff && !now.Before(it.backoffUntil):
			q.pushActive(it)
		case it.state == stateUnschedulable && now.Sub(it.since) >= q.maxUnschedulable:
			delete(q.parked, it.key)
			q.pushActive(it)
		}
	}
}

// Close wakes Pop for good.
func (q *queue) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.cond.Broadcast()
}

// Len counts keys per state, for tests and metrics.
func (q *queue) Len() (active, backoff, unschedulable, inFlight int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, it := range q.items {
		switch it.state {
		case stateActive:
			active++
		case stateBackoff:
			backoff++
		case stateUnschedulable:
			unschedulable++
		case stateInFlight:
			inFlight++
		}
	}
	return
}

// pushActive moves it into the active heap (q.mu held).
func (q *queue) pushActive(it *qItem) {
	it.state = stateActive
	heap.Push(&q.active, it)
	q.cond.Signal()
}

// activeHeap orders by priority (higher first), then enqueue time.
type activeHeap []*qItem

func (h activeHeap) Len() int { return len(h) }
func (h activeHeap) Less(i, j int) bool {
	if h[i].priority != h[j].priority {
		return h[i].priority > h[j].priority
	}
	return h[i].enqueued.Before(h[j].enqueued)
}
func (h activeHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *activeHeap) Push(x any) {
	it := x.(*qItem)
	it.index = len(*h)
	*h = append(*h, it)
}
func (h *activeHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return it
}
