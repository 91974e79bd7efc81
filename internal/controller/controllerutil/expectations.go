package controllerutil

import (
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// DefaultExpectationsTimeout is how long a controller trusts its own
// expectations before it syncs anyway: a lost watch event must not stall a
// controller forever.
const DefaultExpectationsTimeout = 5 * time.Minute

// Expectations records, per controller key, how many creations a controller
// has issued but not yet seen in its cache and which deletions (by pod key)
// it has issued but not yet seen. While a key has unmet expectations the
// controller must not count dependents from its cache, or it would create
// (or delete) twice. It is safe for concurrent use.
type Expectations struct {
	mu      sync.Mutex
	clock   clock.PassiveClock
	timeout time.Duration
	items   map[string]*expectation
}

type expectation struct {
	adds      int
	deletes   map[string]struct{}
	timestamp time.Time
}

// NewExpectations returns empty expectations. A zero timeout means
// DefaultExpectationsTimeout; a nil clock means the real clock.
func NewExpectations(clk clock.PassiveClock, timeout time.Duration) *Expectations {
	if clk == nil {
		clk = clock.RealClock{}
	}
	if timeout <= 0 {
		timeout = DefaultExpectationsTimeout
	}
	return &Expectations{clock: clk, timeout: timeout, items: map[string]*expectation{}}
}

// Satisfied reports whether key may be synced: it has no record, every
// expected event has been observed, or the record is older than the timeout.
func (e *Expectations) Satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.items[key]
	if !ok {
		return true
	}
	if x.adds <= 0 && len(x.deletes) == 0 {
		return true
	}
	return e.clock.Since(x.timestamp) > e.timeout
}

// ExpectCreations replaces key's record with n expected creations.
func (e *Expectations) ExpectCreations(key string, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.items[key] = &expectation{adds: n, timestamp: e.clock.Now()}
}

// ExpectDeletions replaces key's record with the given expected deletions
// (dependent keys, namespace/name).
func (e *Expectations) ExpectDeletions(key string, dependents []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := &expectation{deletes: make(map[string]struct{}, len(dependents)), timestamp: e.clock.Now()}
	for _, d := range dependents {
		x.deletes[d] = struct{}{}
	}
	e.items[key] = x
}

// CreationObserved lowers key's expected creations by one: a dependent was
// seen in the cache, or a create call failed and will never be seen.
func (e *Expectations) CreationObserved(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.items[key]; ok && x.adds > 0 {
		x.adds--
	}
}

// DeletionObserved removes dependent from key's expected deletions; a
// dependent that was not expected is ignored.
func (e *Expectations) DeletionObserved(key, dependent string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.items[key]; ok {
		delete(x.deletes, dependent)
	}
}

// Delete forgets key (its owner is gone).
func (e *Expectations) Delete(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.items, key)
}
