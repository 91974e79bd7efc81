package storage

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Consistent reads from the watch cache trust etcd's progress
// notifications: "the watch has seen everything up to revision R". Before
// etcd 3.4.31 and 3.5.13 a progress request could be answered for a
// watcher still catching up (etcd issue 15220), so a cache fed by it would
// believe itself current while events were still on their way, and a
// consistent list would miss writes made just before it. Upstream's
// ConsistentListFromCache checks the members' versions for the same
// reason; so does this.

// progressSupport is one client's answer, found once.
type progressSupport struct {
	once sync.Once
	ok   bool
}

var progressSupportByClient sync.Map // *clientv3.Client → *progressSupport

// progressNotifyReliable reports whether every etcd member the client
// uses answers progress requests only for watchers that are current. An
// unreachable member or an unknown version counts as no.
func progressNotifyReliable(ctx context.Context, client *clientv3.Client) bool {
	v, _ := progressSupportByClient.LoadOrStore(client, &progressSupport{})
	ps := v.(*progressSupport)
	ps.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		eps := client.Endpoints()
		ps.ok = len(eps) > 0
		for _, ep := range eps {
			st, err := client.Status(ctx, ep)
			if err != nil || !progressFixedIn(st.Version) {
				ps.ok = false
				return
			}
		}
	})
	return ps.ok
}

// knownProgressSupport records the answer for a client whose members'
// versions are known without asking them.
func knownProgressSupport(client *clientv3.Client, ok bool) {
	ps := &progressSupport{ok: ok}
	ps.once.Do(func() {})
	progressSupportByClient.Store(client, ps)
}

// progressFixedIn reports whether etcd version v has the fix: 3.4.31+,
// 3.5.13+, or 3.6 and later.
func progressFixedIn(v string) bool {
	parts := strings.SplitN(strings.TrimPrefix(v, "v"), ".", 3)
	if len(parts) < 3 {
		return false
	}
	num := func(s string) int {
		if i := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
			s = s[:i]
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			return -1
		}
		return n
	}
	major, minor, patch := num(parts[0]), num(parts[1]), num(parts[2])
	switch {
	case major != 3:
		return major > 3
	case minor == 4:
		return patch >= 31
	case minor == 5:
		return patch >= 13
	default:
		return minor > 5
	}
}
