package storage

import (
	"context"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// maxLeaseReuse caps how long one lease is shared by writes with the same
// TTL. Granting a lease per write would cost a raft round trip and an etcd
// lease object per Event; sharing one per minute keeps both small.
const maxLeaseReuse = time.Minute

// leaseCache hands out etcd leases for objects with a TTL. A lease granted
// for ttl seconds is reused by later writes with the same ttl for a reuse
// window, and is granted that window longer so every object attached to it
// lives at least its ttl (and at most ttl plus the window).
type leaseCache struct {
	client *clientv3.Client

	mu     sync.Mutex
	leases map[int64]cachedLease // by requested ttl
}

type cachedLease struct {
	id      clientv3.LeaseID
	granted time.Time
}

func newLeaseCache(client *clientv3.Client) *leaseCache {
	return &leaseCache{client: client, leases: make(map[int64]cachedLease)}
}

// reuseWindow is how long a lease for ttl seconds is shared: a tenth of the
// ttl, at most maxLeaseReuse, in whole seconds (0 below ten seconds, so
// short TTLs stay exact).
func reuseWindow(ttl int64) time.Duration {
	return min(time.Duration(ttl/10)*time.Second, maxLeaseReuse)
}

// lease returns a lease under which an object written now lives at least
// ttl seconds.
func (c *leaseCache) lease(ctx context.Context, ttl int64) (clientv3.LeaseID, error) {
	window := reuseWindow(ttl)
	now := time.Now()
	c.mu.Lock()
	l, ok := c.leases[ttl]
	c.mu.Unlock()
	if ok && now.Sub(l.granted) < window {
		return l.id, nil
	}
	// Two writers may both grant here; the spare lease simply expires.
	resp, err := c.client.Grant(ctx, ttl+int64(window/time.Second))
	if err != nil {
		return 0, err
	}
	if window > 0 {
		c.mu.Lock()
		c.leases[ttl] = cachedLease{id: resp.ID, granted: now}
		c.mu.Unlock()
	}
	return resp.ID, nil
}
