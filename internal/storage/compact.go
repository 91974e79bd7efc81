package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// compactKey coordinates compaction between API servers sharing one etcd:
// its version counts compactions, and a server compacts only if it can
// bump that version from the value it last saw. Upstream Kubernetes uses
// the same key name, so a skiff and a kube-apiserver never compact twice.
const compactKey = "compact_rev_key"

// DefaultCompactInterval is how often RunCompactor compacts unless told.
const DefaultCompactInterval = 5 * time.Minute

// RunCompactor compacts etcd's history every interval until ctx is done,
// then returns nil. Each tick compacts to the revision seen at the previous
// tick, so watchers always have about one interval of history to resume
// from. Several servers may run it against one cluster: a compare-and-swap
// on compactKey lets only one of them compact per interval. Failures are
// logged and retried at the next tick.
func RunCompactor(ctx context.Context, client *clientv3.Client, interval time.Duration) error {
	if interval <= 0 {
		interval = DefaultCompactInterval
	}
	log := slog.Default().With("component", "etcd-compactor")
	c := &compactor{client: client}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
		if err := c.tick(ctx); err != nil && ctx.Err() == nil {
			log.Warn("compacting etcd", "err", err)
		}
	}
}

// compactor is RunCompactor's state between ticks.
type compactor struct {
	client *clientv3.Client
	// version is compactKey's version when last seen: a tick may compact
	// only if no other server has compacted since.
	version int64
	// rev is the revision seen at the previous tick: what the next
	// compaction may remove history up to.
	rev int64
}

// tick claims this interval's compaction and, if won, compacts to the
// revision seen at the previous tick.
func (c *compactor) tick(ctx context.Context) error {
	resp, err := c.client.Txn(ctx).
		If(clientv3.Compare(clientv3.Version(compactKey), "=", c.version)).
		Then(clientv3.OpPut(compactKey, strconv.FormatInt(c.rev, 10))).
		Else(clientv3.OpGet(compactKey)).
		Commit()
	if err != nil {
		return err
	}
	prevRev := c.rev
	c.rev = resp.Header.Revision
	if !resp.Succeeded {
		// Another server compacted since we looked: follow its count and
		// let it keep the job while it keeps ticking.
		if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) > 0 {
			c.version = kvs[0].Version
		}
		return nil
	}
	c.version++
	if prevRev == 0 {
		return nil // first tick: nothing seen an interval ago
	}
	return Compact(ctx, c.client, prevRev)
}

// Compact removes etcd's history before rev. Compacting to a revision
// that is already compacted is not an error.
func Compact(ctx context.Context, client *clientv3.Client, rev int64) error {
	if _, err := client.Compact(ctx, rev); err != nil && !errors.Is(err, rpctypes.ErrCompacted) {
		return fmt.Errorf("storage: compacting to revision %d: %w", rev, err)
	}
	return nil
}
