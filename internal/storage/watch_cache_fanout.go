package storage

import (
	"errors"
	"slices"
	"sync"

	"k8s.io/apimachinery/pkg/runtime"
)

// fanout is the set of a shared watch's subscriptions. Joining and
// leaving cost O(1) under its own lock: at 5,000 nodes a kubelet's watch
// ends and another starts dozens of times a second, and a set copied on
// each change made those copies (of every subscription and of the index
// below) a tenth of the server's allocations.
//
// A subscription joins at a revision (subscription.from, the cache's head
// when it subscribed): it replays the buffer up to there, and dispatch
// offers it only later events. So dispatch may read the set as it is when
// the event goes out, not as it was when the event was buffered.
//
// Subscriptions that name an index value (WatchOptions.IndexValue) are
// kept by that value: an event is offered only to those of the values of
// its object before and after the change, plus every unindexed one. With
// a kubelet per node watching its node's pods, an event costs a couple of
// index lookups instead of a predicate call per kubelet.
type fanout struct {
	mu        sync.Mutex
	all       []*subscription
	unindexed []*subscription
	byValue   map[string][]*subscription
}

// add puts sub in f.
func (f *fanout) add(sub *subscription) {
	f.mu.Lock()
	defer f.mu.Unlock()
	sub.member = true
	sub.allAt = len(f.all)
	f.all = append(f.all, sub)
	if !sub.indexed {
		sub.groupAt = len(f.unindexed)
		f.unindexed = append(f.unindexed, sub)
		return
	}
	if f.byValue == nil {
		f.byValue = map[string][]*subscription{}
	}
	group := f.byValue[sub.indexValue]
	sub.groupAt = len(group)
	f.byValue[sub.indexValue] = append(group, sub)
}

// remove takes sub out of f; it may have left already.
func (f *fanout) remove(sub *subscription) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !sub.member {
		return
	}
	sub.member = false
	f.all = swapRemove(f.all, sub.allAt, func(moved *subscription, at int) { moved.allAt = at })
	moveGroup := func(moved *subscription, at int) { moved.groupAt = at }
	if !sub.indexed {
		f.unindexed = swapRemove(f.unindexed, sub.groupAt, moveGroup)
		return
	}
	if rest := swapRemove(f.byValue[sub.indexValue], sub.groupAt, moveGroup); len(rest) > 0 {
		f.byValue[sub.indexValue] = rest
	} else {
		delete(f.byValue, sub.indexValue)
	}
}

// swapRemove removes s[i] by moving the last element into its place,
// which moved is told of.
func swapRemove(s []*subscription, i int, moved func(*subscription, int)) []*subscription {
	last := len(s) - 1
	if i != last {
		s[i] = s[last]
		moved(s[i], i)
	}
	s[last] = nil // no longer referenced from the backing array
	return s[:last]
}

// takeAll empties f and returns what it held.
func (f *fanout) takeAll() []*subscription {
	f.mu.Lock()
	defer f.mu.Unlock()
	all := f.all
	for _, sub := range all {
		sub.member = false
	}
	f.all, f.unindexed, f.byValue = nil, nil, nil
	return all
}

// targets appends to dst the subscriptions that may want e: those in f now
// that joined before e and whose index values (or lack of one) may want
// it. index is the store's WatchIndex (nil when it has none).
func (f *fanout) targets(dst []*subscription, e *cachedEvent, index func(runtime.Object) string) []*subscription {
	var cur, prev string
	var hasCur, hasPrev bool
	err := errNoIndex
	if index != nil {
		cur, prev, hasCur, hasPrev, err = e.indexValues(index)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.byValue) == 0 || err != nil {
		// Without an index every watcher is offered e; with an index
		// value that cannot be computed, every watcher of the key gets
		// the error, which convert reports.
		return joinedBefore(dst, f.all, e.rev)
	}
	dst = joinedBefore(dst, f.unindexed, e.rev)
	if hasCur {
		dst = joinedBefore(dst, f.byValue[cur], e.rev)
	}
	if hasPrev && (!hasCur || prev != cur) {
		dst = joinedBefore(dst, f.byValue[prev], e.rev)
	}
	return dst
}

// joinedBefore appends to dst the subscriptions of subs that joined
// before rev.
func joinedBefore(dst, subs []*subscription, rev int64) []*subscription {
	dst = slices.Grow(dst, len(subs))
	for _, sub := range subs {
		if sub.from < rev {
			dst = append(dst, sub)
		}
	}
	return dst
}

// errNoIndex: the store has no WatchIndex.
var errNoIndex = errors.New("no watch index")
