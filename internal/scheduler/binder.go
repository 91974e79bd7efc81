package scheduler

import (
	"context"
	"sync"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/client-go/tools/events"
)

// The scheduler's writes run on a bounded number of goroutines. Unbounded,
// a burst of decisions puts thousands of requests in flight at once: past
// the server's HTTP/2 stream limit (250 per connection by default) the
// client opens more connections, each a TLS handshake on both ends, and
// every request starts on a fresh goroutine whose stack must grow through
// client-go. A fixed pool of binders keeps one connection busy instead,
// and lets the scheduling goroutine wait when binding falls behind.
const (
	// bindWorkers bounds the bindings in flight.
	bindWorkers = 64
	// eventWorkers bounds the event writes in flight.
	eventWorkers = 16
)

// bindRequest is a decided pod waiting for its binding.
type bindRequest struct {
	key  string
	pod  *corev1.Pod // the assumed copy, spec.nodeName set
	node string
}

// runBinders binds the requests sent to s.binds until ctx ends, on
// bindWorkers goroutines, and returns once they have stopped.
func (s *Scheduler) runBinders(ctx context.Context) {
	var wg sync.WaitGroup
	for range bindWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case r := <-s.binds:
					s.bind(ctx, r.key, r.pod, r.node)
				}
			}
		}()
	}
	wg.Wait()
}

// enqueueBind hands a decision to the binders, waiting while they are all
// busy and their queue is full. It returns false once ctx has ended.
func (s *Scheduler) enqueueBind(ctx context.Context, r bindRequest) bool {
	select {
	case s.binds <- r:
		return true
	case <-ctx.Done():
		return false
	}
}

// boundedSink lets at most cap(slots) event writes run at once; the
// broadcaster's goroutine per event waits for a slot.
type boundedSink struct {
	sink  events.EventSink
	slots chan struct{}
}

var _ events.EventSink = (*boundedSink)(nil)

func newBoundedSink(sink events.EventSink, n int) *boundedSink {
	return &boundedSink{sink: sink, slots: make(chan struct{}, n)}
}

func (b *boundedSink) acquire(ctx context.Context) error {
	select {
	case b.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *boundedSink) Create(ctx context.Context, ev *eventsv1.Event) (*eventsv1.Event, error) {
	if err := b.acquire(ctx); err != nil {
		return nil, err
	}
	defer func() { <-b.slots }()
	return b.sink.Create(ctx, ev)
}

func (b *boundedSink) Update(ctx context.Context, ev *eventsv1.Event) (*eventsv1.Event, error) {
	if err := b.acquire(ctx); err != nil {
		return nil, err
	}
	defer func() { <-b.slots }()
	return b.sink.Update(ctx, ev)
}

func (b *boundedSink) Patch(ctx context.Context, old *eventsv1.Event, data []byte) (*eventsv1.Event, error) {
	if err := b.acquire(ctx); err != nil {
		return nil, err
	}
	defer func() { <-b.slots }()
	return b.sink.Patch(ctx, old, data)
}
