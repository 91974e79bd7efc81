package storage

import (
	"slices"

	"k8s.io/apimachinery/pkg/runtime"
)

// fanout is the set of a shared watch's subscriptions. It is immutable:
// subscribing and unsubscribing make a new one, so dispatch reads a
// snapshot without holding the lock.
//
// Subscriptions that name an index value (WatchOptions.IndexValue) are
// kept by that value: an event is offered only to those of the values of
// its object before and after the change, plus every unindexed one. With
// a kubelet per node watching its node's pods, an event costs a couple of
// index lookups instead of a predicate call per kubelet.
type fanout struct {
	all       []*subscription
	unindexed []*subscription
	byValue   map[string][]*subscription
}

// with returns f plus sub.
func (f *fanout) with(sub *subscription) *fanout {
	out := &fanout{all: append(slices.Clip(f.all), sub), unindexed: f.unindexed, byValue: f.byValue}
	if !sub.indexed {
		out.unindexed = append(slices.Clip(f.unindexed), sub)
		return out
	}
	out.byValue = make(map[string][]*subscription, len(f.byValue)+1)
	for v, subs := range f.byValue {
		out.byValue[v] = subs
	}
	out.byValue[sub.indexValue] = append(slices.Clip(f.byValue[sub.indexValue]), sub)
	return out
}

// without returns f less sub, or f itself if sub is not in it.
func (f *fanout) without(sub *subscription) *fanout {
	i := slices.Index(f.all, sub)
	if i < 0 {
		return f
	}
	out := &fanout{all: slices.Delete(slices.Clone(f.all), i, i+1), unindexed: f.unindexed, byValue: f.byValue}
	if !sub.indexed {
		out.unindexed = slices.DeleteFunc(slices.Clone(f.unindexed), func(s *subscription) bool { return s == sub })
		return out
	}
	out.byValue = make(map[string][]*subscription, len(f.byValue))
	for v, subs := range f.byValue {
		out.byValue[v] = subs
	}
	rest := slices.DeleteFunc(slices.Clone(f.byValue[sub.indexValue]), func(s *subscription) bool { return s == sub })
	if len(rest) == 0 {
		delete(out.byValue, sub.indexValue)
	} else {
		out.byValue[sub.indexValue] = rest
	}
	return out
}

// targets appends to dst the subscriptions that may want e. index is the
// store's WatchIndex (nil when it has none).
func (f *fanout) targets(dst []*subscription, e *cachedEvent, index func(runtime.Object) string) []*subscription {
	if len(f.byValue) == 0 {
		return append(dst, f.all...)
	}
	if index == nil {
		return append(dst, f.all...)
	}
	cur, prev, hasCur, hasPrev, err := e.indexValues(index)
	if err != nil {
		// Every watcher of the key gets the error; convert reports it.
		return append(dst, f.all...)
	}
	dst = append(dst, f.unindexed...)
	if hasCur {
		dst = append(dst, f.byValue[cur]...)
	}
	if hasPrev && (!hasCur || prev != cur) {
		dst = append(dst, f.byValue[prev]...)
	}
	return dst
}
