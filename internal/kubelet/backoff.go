package kubelet

import (
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// backOff is a per-key exponential delay with upstream's kubelet
// semantics: the first failure is retried at once and sets the delay to
// initial; each later failure within the window doubles it up to max; a
// key untouched for 2×max starts over (so a container that ran for ten
// minutes restarts quickly again).
type backOff struct {
	clock        clock.PassiveClock
	initial, max time.Duration

	mu      sync.Mutex
	entries map[string]*backOffEntry
}

type backOffEntry struct {
	delay      time.Duration
	lastUpdate time.Time
}

func newBackOff(clk clock.PassiveClock, initial, max time.Duration) *backOff {
	return &backOff{clock: clk, initial: initial, max: max, entries: map[string]*backOffEntry{}}
}

// Next records a failure at eventTime and grows the delay.
func (b *backOff) Next(key string, eventTime time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.entries[key]
	if !ok || b.expired(e, eventTime) {
		b.entries[key] = &backOffEntry{delay: b.initial, lastUpdate: eventTime}
		return
	}
	e.delay = min(2*e.delay, b.max)
	e.lastUpdate = eventTime
}

// InBackOffSince reports whether now is within the delay after eventTime
// (a container's exit), and when that delay ends.
func (b *backOff) InBackOffSince(key string, eventTime time.Time) (bool, time.Duration, time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.entries[key]
	if !ok || b.expired(e, eventTime) {
		return false, 0, time.Time{}
	}
	end := eventTime.Add(e.delay)
	return b.clock.Now().Before(end), e.delay, end
}

// InBackOffSinceUpdate reports whether now is within the delay after the
// last failure (an image pull's), and when that delay ends.
func (b *backOff) InBackOffSinceUpdate(key string) (bool, time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.entries[key]
	if !ok {
		return false, time.Time{}
	}
	now := b.clock.Now()
	if b.expired(e, now) {
		return false, time.Time{}
	}
	end := e.lastUpdate.Add(e.delay)
	return now.Before(end), end
}

// Reset forgets key (a successful pull).
func (b *backOff) Reset(key string) {
	b.mu.Lock()
	delete(b.entries, key)
	b.mu.Unlock()
}

// ForgetPrefix drops every key starting with prefix (a pod's keys, once
// the pod is gone).
func (b *backOff) ForgetPrefix(prefix string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k := range b.entries {
		if len(k) >= len(prefix) && k[:len(prefix)] == prefix {
			delete(b.entries, k)
		}
	}
}

func (b *backOff) expired(e *backOffEntry, at time.Time) bool {
	return at.Sub(e.lastUpdate) > 2*b.max
}
