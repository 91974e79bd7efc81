package dns

import (
	"hash/maphash"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Cache bounds, CoreDNS's cache plugin defaults: a record's own TTL is
// honoured up to an hour, a negative answer's (RFC 2308) up to 30 minutes.
const (
	maxPositiveTTL = time.Hour
	maxNegativeTTL = 30 * time.Minute
	cacheShards    = 16
)

// cacheKey names one question. The DO and CD bits change what an upstream
// answers (signatures, validation), so they are part of it.
type cacheKey struct {
	name          string // canonical
	qtype, qclass uint16
	do, cd        bool
}

func keyOf(q dns.Question, do, cd bool) cacheKey {
	return cacheKey{name: strings.ToLower(q.Name), qtype: q.Qtype, qclass: q.Qclass, do: do, cd: cd}
}

// responseCache holds upstream answers, positive and negative, until their
// TTL runs out. It is sharded by name so concurrent clients rarely share
// a lock, and capped: a full shard drops expired entries, then an
// arbitrary one (random eviction, as CoreDNS's cache).
type responseCache struct {
	shards   [cacheShards]cacheShard
	perShard int
	seed     maphash.Seed
	now      func() time.Time
}

type cacheShard struct {
	mu      sync.RWMutex
	entries map[cacheKey]cacheEntry
}

// cacheEntry's msg is never modified after insertion; readers copy it.
type cacheEntry struct {
	msg      *dns.Msg
	stored   time.Time
	expires  time.Time
	negative bool
}

func newResponseCache(size int, now func() time.Time) *responseCache {
	c := &responseCache{perShard: max(1, size/cacheShards), seed: maphash.MakeSeed(), now: now}
	for i := range c.shards {
		c.shards[i].entries = make(map[cacheKey]cacheEntry)
	}
	return c
}

func (c *responseCache) shard(k cacheKey) *cacheShard {
	return &c.shards[maphash.String(c.seed, k.name)%cacheShards]
}

// get returns a private copy of the cached answer to k with its TTLs
// lowered by the time it spent in the cache, and whether it is negative.
func (c *responseCache) get(k cacheKey) (m *dns.Msg, negative, ok bool) {
	sh := c.shard(k)
	sh.mu.RLock()
	e, ok := sh.entries[k]
	sh.mu.RUnlock()
	now := c.now()
	if !ok || !now.Before(e.expires) {
		return nil, false, false
	}
	m = e.msg.Copy()
	age := uint32(now.Sub(e.stored) / time.Second)
	for _, section := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range section {
			if h := rr.Header(); h.Rrtype != dns.TypeOPT {
				h.Ttl -= min(age, h.Ttl)
			}
		}
	}
	return m, e.negative, true
}

// put stores m (which the caller must no longer modify) if it may be
// cached: a complete NOERROR or NXDOMAIN answer with a TTL.
func (c *responseCache) put(k cacheKey, m *dns.Msg) {
	ttl, negative, ok := cacheTTL(m)
	if !ok {
		return
	}
	now := c.now()
	sh := c.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, exists := sh.entries[k]; !exists {
		if len(sh.entries) >= c.perShard {
			sh.evict(now)
		}
		cacheEntries.Inc()
	}
	sh.entries[k] = cacheEntry{msg: m, stored: now, expires: now.Add(ttl), negative: negative}
}

// evict makes room for one entry: every expired one goes if any, else one
// at random (map order).
func (sh *cacheShard) evict(now time.Time) {
	freed := false
	for k, e := range sh.entries {
		if !now.Before(e.expires) {
			delete(sh.entries, k)
			cacheEntries.Dec()
			freed = true
		}
	}
	if freed {
		return
	}
	for k := range sh.entries {
		delete(sh.entries, k)
		cacheEntries.Dec()
		return
	}
}

func (c *responseCache) len() int {
	n := 0
	for i := range c.shards {
		c.shards[i].mu.RLock()
		n += len(c.shards[i].entries)
		c.shards[i].mu.RUnlock()
	}
	return n
}

// cacheTTL is how long m may be cached: a positive answer for its
// smallest TTL, a negative one (NXDOMAIN, or NOERROR without answers) for
// its SOA's negative TTL (RFC 2308 §5), both capped. Truncated answers,
// other rcodes, and negative answers without an SOA are not cached.
func cacheTTL(m *dns.Msg) (ttl time.Duration, negative, ok bool) {
	if m.Truncated || m.Rcode != dns.RcodeSuccess && m.Rcode != dns.RcodeNameError {
		return 0, false, false
	}
	if m.Rcode == dns.RcodeSuccess && len(m.Answer) > 0 {
		least := ^uint32(0)
		for _, section := range [][]dns.RR{m.Answer, m.Ns} {
			for _, rr := range section {
				least = min(least, rr.Header().Ttl)
			}
		}
		ttl = min(time.Duration(least)*time.Second, maxPositiveTTL)
		return ttl, false, ttl > 0
	}
	for _, rr := range m.Ns {
		if soa, isSOA := rr.(*dns.SOA); isSOA {
			ttl = min(time.Duration(min(soa.Hdr.Ttl, soa.Minttl))*time.Second, maxNegativeTTL)
			return ttl, true, ttl > 0
		}
	}
	return 0, true, false
}
