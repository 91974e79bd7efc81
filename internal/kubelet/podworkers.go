package kubelet

import (
	"context"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
)

// podWorkers serializes syncs per pod UID: at most one sync of a pod runs
// at a time, a request during a sync runs once more after it, and a pod
// with nothing to do has no goroutine. Delayed requests (backoffs,
// retries) are timers, not sleeping goroutines, so an idle hollow node
// costs nothing here.
type podWorkers struct {
	clock clock.WithDelayedExecution
	sync  func(ctx context.Context, uid types.UID) (requeueAfter time.Duration, err error)
	// onError is called with a failed sync's error (for logging).
	onError func(uid types.UID, err error)

	mu      sync.Mutex
	ctx     context.Context
	stopped bool
	wg      sync.WaitGroup
	workers map[types.UID]*podWorker
}

type podWorker struct {
	pending bool // a sync was asked for
	running bool // a goroutine is syncing
	timer   clock.Timer
	due     time.Time     // when timer fires
	retry   time.Duration // current error backoff
}

// Error retries back off from 1s to 30s per pod.
const (
	minRetry = time.Second
	maxRetry = 30 * time.Second
)

func newPodWorkers(ctx context.Context, clk clock.WithDelayedExecution,
	sync func(context.Context, types.UID) (time.Duration, error), onError func(types.UID, error)) *podWorkers {
	return &podWorkers{clock: clk, sync: sync, onError: onError, ctx: ctx, workers: map[types.UID]*podWorker{}}
}

// Enqueue asks for a sync of uid as soon as possible.
func (w *podWorkers) Enqueue(uid types.UID) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	pw := w.worker(uid)
	pw.pending = true
	w.startLocked(uid, pw)
}

// EnqueueAfter asks for a sync of uid after d; an earlier request wins.
func (w *podWorkers) EnqueueAfter(uid types.UID, d time.Duration) {
	if d <= 0 {
		w.Enqueue(uid)
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	pw := w.worker(uid)
	due := w.clock.Now().Add(d)
	if pw.timer != nil {
		if !pw.due.After(due) {
			return
		}
		pw.timer.Stop()
	}
	pw.due = due
	pw.timer = w.clock.AfterFunc(d, func() {
		w.mu.Lock()
		if p, ok := w.workers[uid]; ok && p == pw {
			pw.timer = nil
		}
		w.mu.Unlock()
		w.Enqueue(uid)
	})
}

// Forget drops uid's worker state once the pod is gone for good; a
// running sync finishes first.
func (w *podWorkers) Forget(uid types.UID) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if pw, ok := w.workers[uid]; ok && !pw.running && !pw.pending {
		if pw.timer != nil {
			pw.timer.Stop()
		}
		delete(w.workers, uid)
	}
}

// Stop cancels timers, refuses new work and waits for running syncs
// (which see their context end).
func (w *podWorkers) Stop() {
	w.mu.Lock()
	w.stopped = true
	for _, pw := range w.workers {
		if pw.timer != nil {
			pw.timer.Stop()
		}
	}
	w.mu.Unlock()
	w.wg.Wait()
}

func (w *podWorkers) worker(uid types.UID) *podWorker {
	pw, ok := w.workers[uid]
	if !ok {
		pw = &podWorker{}
		w.workers[uid] = pw
	}
	return pw
}

// startLocked starts uid's goroutine unless it runs. Caller holds w.mu.
func (w *podWorkers) startLocked(uid types.UID, pw *podWorker) {
	if pw.running {
		return
	}
	pw.running = true
	w.wg.Add(1)
	go w.loop(uid, pw)
}

// loop syncs uid while requests are pending, then exits.
func (w *podWorkers) loop(uid types.UID, pw *podWorker) {
	defer w.wg.Done()
	for {
		w.mu.Lock()
		if !pw.pending || w.stopped || w.ctx.Err() != nil {
			pw.running = false
			w.mu.Unlock()
			return
		}
		pw.pending = false
		w.mu.Unlock()

		after, err := w.sync(w.ctx, uid)
		if err != nil {
			if w.ctx.Err() != nil {
				continue
			}
			w.onError(uid, err)
			w.mu.Lock()
			pw.retry = min(max(2*pw.retry, minRetry), maxRetry)
			retry := pw.retry
			w.mu.Unlock()
			if after <= 0 || after > retry {
				after = retry
			}
		} else {
			w.mu.Lock()
			pw.retry = 0
			w.mu.Unlock()
		}
		if after > 0 {
			w.EnqueueAfter(uid, after)
		}
	}
}
