package storage

import (
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// append decodes events once, adds them to the buffer and returns them.
// Only the run goroutine calls it.
func (c *watchCache) append(events []*clientv3.Event) []*cachedEvent {
	batch := make([]*cachedEvent, len(events))
	for i, ev := range events {
		batch[i] = newCachedEvent(c.s, c.intern, ev)
	}
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range batch {
		e.at = now
		if c.ready {
			// The state holds every key's current object: applyLocked
			// finds the previous state there.
			c.applyLocked(e)
		} else {
			if l := c.latest[e.key]; l != nil && e.prevData != nil && l.rev == e.prevRev && l.cur != nil {
				e.prevSrc, e.prevData = l.cur, nil
			}
			if e.deleted {
				delete(c.latest, e.key)
			} else {
				c.latest[e.key] = e
			}
		}
		if old := c.ring.push(e); old != nil {
			c.forgetLocked(old)
		}
		c.headRev = e.rev
	}
	c.notifyLocked()
	c.expireLocked(now)
	return batch
}

// expireLocked drops the events older than the window.
func (c *watchCache) expireLocked(now time.Time) {
	for {
		old := c.ring.oldest()
		if old == nil || now.Sub(old.at) <= c.window {
			return
		}
		c.ring.pop()
		c.forgetLocked(old)
	}
}

// forgetLocked accounts for old leaving the buffer.
func (c *watchCache) forgetLocked(old *cachedEvent) {
	c.startRev = old.rev
	if c.latest[old.key] == old {
		delete(c.latest, old.key)
	}
}

// blockedSend is an event waiting for room in a subscription's channel.
type blockedSend struct {
	sub  *subscription
	item cacheItem
}

// dispatch offers each event to every subscription that joined before it,
// in order. A full
// channel is waited for only as long as the time budget allows, because
// every other watcher waits too; a subscription still full then is cut,
// and its client resumes from the last revision it got.
func (c *watchCache) dispatch(batch []*cachedEvent) {
	var blocked []blockedSend
	var targets []*subscription
	for _, e := range batch {
		blocked = blocked[:0]
		targets = c.subs.targets(targets[:0], e, c.index)
		for _, sub := range targets {
			if sub.cut {
				continue
			}
			ev, ok, err := sub.filter.convert(e)
			if !ok && err == nil {
				continue
			}
			item := cacheItem{event: ev, rev: e.rev, err: err}
			select {
			case sub.input <- item:
			default:
				blocked = append(blocked, blockedSend{sub, item})
			}
		}
		if len(blocked) > 0 {
			c.waitFor(blocked)
		}
		c.dispatched.Store(e.rev)
	}
}

// waitFor delivers the blocked sends within the time budget and cuts the
// subscriptions that stay full.
func (c *watchCache) waitFor(blocked []blockedSend) {
	start := time.Now()
	budget := c.budget.take(start)
	timer := time.NewTimer(budget)
	defer timer.Stop()
	expired := false
	for _, b := range blocked {
		if !expired {
			select {
			case b.sub.input <- b.item:
				continue
			case <-b.sub.done:
				continue // the watcher has ended and unsubscribes
			case <-timer.C:
				expired = true
			}
		}
		select {
		case b.sub.input <- b.item:
		case <-b.sub.done:
		default:
			c.s.log.Debug("closing a watcher that does not keep up", "key", b.sub.filter.key)
			c.cut(b.sub)
			c.unsubscribe(b.sub)
		}
	}
	c.budget.giveBack(budget - time.Since(start))
}

// timeBudget bounds how long dispatch waits for slow watchers: at most
// maxWait at once, refilled at refill per second, so a stream of slow
// watchers cannot stall the others for long.
type timeBudget struct {
	maxWait, refill time.Duration
	avail           time.Duration
	last            time.Time
}

// Upstream's watch cache waits in the same way, with a similar budget.
const (
	dispatchMaxWait = 100 * time.Millisecond
	dispatchRefill  = 50 * time.Millisecond
)

func newTimeBudget() timeBudget {
	return timeBudget{maxWait: dispatchMaxWait, refill: dispatchRefill, avail: dispatchMaxWait, last: time.Now()}
}

// take returns all the budget available now.
func (b *timeBudget) take(now time.Time) time.Duration {
	b.avail += time.Duration(float64(b.refill) * now.Sub(b.last).Seconds())
	b.avail = min(b.avail, b.maxWait)
	b.last = now
	d := b.avail
	b.avail = 0
	return d
}

// giveBack returns what a wait did not use.
func (b *timeBudget) giveBack(d time.Duration) {
	b.avail = min(b.maxWait, b.avail+max(d, 0))
}

// eventRing is a FIFO of at most max events in revision order. Its
// buffer starts small and doubles as events arrive, so a quiet resource
// holds little.
type eventRing struct {
	buf        []*cachedEvent
	start, len int
	max        int
}

// initialRing is the buffer's first size.
const initialRing = 256

func newEventRing(max int) eventRing {
	return eventRing{buf: make([]*cachedEvent, min(max, initialRing)), max: max}
}

// push appends e and returns the event it pushed out, if the ring was full.
func (r *eventRing) push(e *cachedEvent) *cachedEvent {
	var old *cachedEvent
	if r.len == len(r.buf) && len(r.buf) < r.max {
		grown := make([]*cachedEvent, min(r.max, 2*len(r.buf)))
		for i := range r.len {
			grown[i] = r.buf[(r.start+i)%len(r.buf)]
		}
		r.buf, r.start = grown, 0
	}
	if r.len == len(r.buf) {
		old = r.pop()
	}
	r.buf[(r.start+r.len)%len(r.buf)] = e
	r.len++
	return old
}

// oldest is the first event, nil if none.
func (r *eventRing) oldest() *cachedEvent {
	if r.len == 0 {
		return nil
	}
	return r.buf[r.start]
}

// pop removes and returns the first event.
func (r *eventRing) pop() *cachedEvent {
	e := r.buf[r.start]
	r.buf[r.start] = nil
	r.start = (r.start + 1) % len(r.buf)
	r.len--
	return e
}

// after returns the events with a revision greater than rev, oldest first.
func (r *eventRing) after(rev int64) []*cachedEvent {
	// Binary search: revisions increase along the ring.
	lo, hi := 0, r.len
	for lo < hi {
		mid := (lo + hi) / 2
		if r.buf[(r.start+mid)%len(r.buf)].rev <= rev {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	out := make([]*cachedEvent, 0, r.len-lo)
	for i := lo; i < r.len; i++ {
		out = append(out, r.buf[(r.start+i)%len(r.buf)])
	}
	return out
}

func (r *eventRing) clear() {
	clear(r.buf)
	r.start, r.len = 0, 0
}
