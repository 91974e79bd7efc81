package apiserver

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Reasons a request is rejected, as upstream's
// apiserver_flowcontrol_rejected_requests_total labels them.
const (
	rejectQueueFull        = "queue-full"
	rejectTimeout          = "time-out"
	rejectConcurrencyLimit = "concurrency-limit"
	rejectCancelled        = "cancelled"
)

// rejection is why a priority level turned a request away.
type rejection struct{ reason string }

func (r *rejection) Error() string { return "flow control: request rejected: " + r.reason }

// levelConfig is one priority level, as a PriorityLevelConfiguration
// would describe it.
type levelConfig struct {
	name string
	// exempt levels are never limited or queued.
	exempt bool
	// shares is the level's nominalConcurrencyShares: its part of the
	// server's total concurrency.
	shares int
	// reject turns requests over the limit away at once instead of
	// queuing them (upstream's limitResponse type Reject).
	reject bool
	// queueLength is upstream's queueLengthLimit: how many requests one
	// queue holds.
	queueLength int
	// handSize is how many queues upstream deals each flow (0 is 1): a
	// flow may have handSize*queueLength requests waiting.
	handSize int
	// queues bounds how many flows may wait at once; with queueLength it
	// bounds the level's waiting requests.
	queues int
}

// level hands out a priority level's seats. Requests over the limit wait
// in one FIFO queue per flow (a flow is a flow schema and a distinguisher,
// normally the user); a freed seat goes to the next flow in round-robin
// order, so a flow that floods the level waits behind its own requests
// and cannot starve the others. Safe for concurrent use.
type level struct {
	cfg     levelConfig
	limit   int           // seats
	timeout time.Duration // longest wait in a queue

	mu        sync.Mutex
	executing int
	waiting   int
	flows     map[string]*flowQueue // flows with waiting requests
	ring      []*flowQueue          // the same flows, in round-robin order
	next      int                   // ring index served next
}

// flowQueue is one flow's waiting requests, oldest first.
type flowQueue struct {
	key     string
	waiters []*waiter
}

// waiter is a queued request. ready is closed when it is given a seat;
// admitted (under the level's lock) says so too.
type waiter struct {
	ready    chan struct{}
	admitted bool
}

// flowQueueLength is how many requests one flow may have waiting.
func (c levelConfig) flowQueueLength() int { return max(c.handSize, 1) * c.queueLength }

func newLevel(cfg levelConfig, limit int, timeout time.Duration) *level {
	return &level{cfg: cfg, limit: max(limit, 1), timeout: timeout, flows: map[string]*flowQueue{}}
}

// acquire waits for a seat for a request of flow. It returns the function
// that gives the seat back (call it exactly once) or a *rejection: the
// flow's queue or the level is full, the wait exceeded the level's queue
// timeout, or ctx ended first. queued, if not nil, is called when the
// request starts to wait; waited is how long it did.
func (l *level) acquire(ctx context.Context, flow string, queued func()) (release func(), waited time.Duration, err error) {
	if l.cfg.exempt {
		return func() {}, 0, nil
	}
	l.mu.Lock()
	if l.executing < l.limit && l.waiting == 0 {
		l.executing++
		l.mu.Unlock()
		return l.releaseFunc(), 0, nil
	}
	if l.cfg.reject {
		l.mu.Unlock()
		return nil, 0, &rejection{rejectConcurrencyLimit}
	}
	fq := l.flows[flow]
	if fq != nil && len(fq.waiters) >= l.cfg.flowQueueLength() || l.waiting >= l.cfg.queues*l.cfg.queueLength ||
		fq == nil && len(l.ring) >= l.cfg.queues {
		l.mu.Unlock()
		return nil, 0, &rejection{rejectQueueFull}
	}
	if fq == nil {
		fq = &flowQueue{key: flow}
		l.flows[flow] = fq
		l.ring = append(l.ring, fq)
	}
	w := &waiter{ready: make(chan struct{})}
	fq.waiters = append(fq.waiters, w)
	l.waiting++
	l.mu.Unlock()
	if queued != nil {
		queued()
	}

	start := time.Now()
	timer := time.NewTimer(l.timeout)
	defer timer.Stop()
	reason := ""
	select {
	case <-w.ready:
		return l.releaseFunc(), time.Since(start), nil
	case <-timer.C:
		reason = rejectTimeout
	case <-ctx.Done():
		reason = rejectCancelled
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if w.admitted { // a seat came as the wait ended: take it
		return l.releaseFunc(), time.Since(start), nil
	}
	l.removeLocked(fq, w)
	return nil, time.Since(start), &rejection{reason}
}

// releaseFunc gives a seat back once, however often it is called.
func (l *level) releaseFunc() func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			l.executing--
			l.dispatchLocked()
			l.mu.Unlock()
		})
	}
}

// dispatchLocked gives free seats to waiting requests, one flow at a time
// in round-robin order.
func (l *level) dispatchLocked() {
	for l.executing < l.limit && l.waiting > 0 {
		if l.next >= len(l.ring) {
			l.next = 0
		}
		fq := l.ring[l.next]
		w := fq.waiters[0]
		fq.waiters[0] = nil
		fq.waiters = fq.waiters[1:]
		l.waiting--
		l.executing++
		w.admitted = true
		close(w.ready)
		if len(fq.waiters) == 0 {
			l.dropFlowLocked(l.next) // the next flow moves into this index
		} else {
			l.next++
		}
	}
}

// removeLocked takes a waiter that gave up out of its flow's queue.
func (l *level) removeLocked(fq *flowQueue, w *waiter) {
	i := slices.Index(fq.waiters, w)
	if i < 0 {
		return
	}
	fq.waiters = slices.Delete(fq.waiters, i, i+1)
	l.waiting--
	if len(fq.waiters) == 0 {
		l.dropFlowLocked(slices.Index(l.ring, fq))
	}
}

// dropFlowLocked forgets the flow at ring index i, which has nothing
// waiting, keeping the round-robin position.
func (l *level) dropFlowLocked(i int) {
	fq := l.ring[i]
	delete(l.flows, fq.key)
	l.ring = slices.Delete(l.ring, i, i+1)
	if i < l.next {
		l.next--
	}
}

// stats reports the level's executing and waiting requests.
func (l *level) stats() (executing, waiting int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.executing, l.waiting
}

// nominalLimits divides total seats among the limited levels in
// proportion to their shares, rounding up as upstream does:
// ceil(total * shares / sum of shares). Exempt levels get none.
func nominalLimits(total int, levels []levelConfig) map[string]int {
	sum := 0
	for _, c := range levels {
		if !c.exempt {
			sum += c.shares
		}
	}
	limits := map[string]int{}
	for _, c := range levels {
		if c.exempt || sum == 0 {
			continue
		}
		limits[c.name] = max(1, (total*c.shares+sum-1)/sum)
	}
	return limits
}
