package storage

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
)

// objState is what a read-modify-write knows of a key.
type objState struct {
	obj    runtime.Object // decoded value, or NewFunc() when absent
	data   []byte         // stored bytes; nil when absent or not yet encoded
	rev    int64          // mod revision; 0 when absent
	exists bool
	// current is true when the state came from a linearizable read or from
	// a failed transaction, so a failed check on it is final. A state from
	// a serializable read may be stale and is re-read before failing.
	current bool
}

// readState reads key; serializable reads are cheap but may be stale.
func (s *store) readState(ctx context.Context, key string, serializable bool) (*objState, error) {
	var opts []clientv3.OpOption
	if serializable {
		opts = append(opts, clientv3.WithSerializable())
	}
	resp, err := s.read(ctx, opGet, key, opts...)
	if err != nil {
		return nil, translateError(err, 0)
	}
	return s.stateFromKVs(resp.Kvs, !serializable)
}

// stateFromKVs builds the state of a key from a range response.
func (s *store) stateFromKVs(kvs []*mvccpb.KeyValue, current bool) (*objState, error) {
	if len(kvs) == 0 {
		return &objState{obj: s.newFunc(), current: current}, nil
	}
	kv := kvs[0]
	obj, err := s.decodeNew(kv.Value, kv.ModRevision)
	if err != nil {
		return nil, err
	}
	return &objState{obj: obj, data: kv.Value, rev: kv.ModRevision, exists: true, current: current}, nil
}

// checkPreconditions tests p against the state's object.
func checkPreconditions(key string, p *Preconditions, obj runtime.Object) error {
	if p == nil {
		return nil
	}
	accessor, err := meta.Accessor(obj)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidObject, err)
	}
	if p.UID != nil && *p.UID != accessor.GetUID() {
		return fmt.Errorf("%w: %s: UID in precondition %q, UID in object %q", ErrConflict, key, *p.UID, accessor.GetUID())
	}
	if p.ResourceVersion != nil && *p.ResourceVersion != accessor.GetResourceVersion() {
		return fmt.Errorf("%w: %s: resourceVersion in precondition %q, resourceVersion in object %q",
			ErrConflict, key, *p.ResourceVersion, accessor.GetResourceVersion())
	}
	return nil
}

// cachedState is key's state from the watch cache, when the cache has
// listed its prefix and holds the key: like a serializable read it may be
// stale, and then the transaction's compare fails and returns the current
// state. The object is the cache's, shared with readers: it is copied for
// tryUpdate, and its stored bytes are encoded (from a shallow copy) when
// the no-op check needs them.
func (s *store) cachedState(key string) *objState {
	c := s.cacheFor(key)
	if c == nil {
		return nil
	}
	c.mu.Lock()
	var e *stateEntry
	if c.ready {
		e = c.state.get(key)
	}
	c.mu.Unlock()
	if e == nil {
		return nil
	}
	return &objState{obj: e.obj, rev: e.rev, exists: true}
}

// GuaranteedUpdate is a compare-and-swap loop on the key's mod revision.
// The first state comes from the watch cache when it holds the key, as
// upstream's cacher does, else from a serializable read; a check that
// fails on it (not found, a precondition, tryUpdate's error, or a no-op
// result that would skip the write) is repeated on a linearizable read
// before it is believed.
func (s *store) GuaranteedUpdate(ctx context.Context, key string, out runtime.Object, ignoreNotFound bool,
	preconditions *Preconditions, tryUpdate UpdateFunc) error {
	st := s.cachedState(key)
	if st == nil {
		var err error
		if st, err = s.readState(ctx, key, true); err != nil {
			return err
		}
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		next, err := s.tryUpdateOnce(ctx, key, st, out, ignoreNotFound, preconditions, tryUpdate)
		if err != nil || next == nil {
			return err
		}
		st = next
	}
}

// tryUpdateOnce runs one round of GuaranteedUpdate on st. It returns a
// newer state to retry with, or nil and the final result.
func (s *store) tryUpdateOnce(ctx context.Context, key string, st *objState, out runtime.Object, ignoreNotFound bool,
	preconditions *Preconditions, tryUpdate UpdateFunc) (*objState, error) {
	refresh := func(final error) (*objState, error) {
		if st.current {
			return nil, final
		}
		return s.readState(ctx, key, false)
	}
	if !st.exists && !ignoreNotFound {
		return refresh(fmt.Errorf("%w: %s", ErrNotFound, key))
	}
	if err := checkPreconditions(key, preconditions, st.obj); err != nil {
		return refresh(err)
	}
	updated, err := tryUpdate(st.obj.DeepCopyObject())
	if err != nil {
		return refresh(err)
	}
	data, err := s.encode(updated)
	if err != nil {
		return nil, err
	}
	if st.exists && st.data == nil {
		// A state from the cache: its bytes as they would be stored.
		if st.data, err = s.encodeShared(st.obj); err != nil {
			return nil, err
		}
	}
	if st.exists && bytes.Equal(data, st.data) {
		// Nothing changed: write nothing, but only trust a current state,
		// since a stale one may hide a change tryUpdate would make.
		if !st.current {
			return s.readState(ctx, key, false)
		}
		return nil, s.decode(st.data, st.rev, out)
	}
	putOpts, err := s.leaseOptions(ctx, updated)
	if err != nil {
		return nil, err
	}
	cmp := clientv3.Compare(clientv3.ModRevision(key), "=", st.rev)
	if !st.exists {
		cmp = clientv3.Compare(clientv3.CreateRevision(key), "=", 0)
	}
	start := time.Now()
	resp, err := s.client.Txn(ctx).If(cmp).
		Then(clientv3.OpPut(key, string(data), putOpts...)).
		Else(clientv3.OpGet(key)).
		Commit()
	s.metrics.observe(opUpdate, start, err)
	if err != nil {
		return nil, translateError(err, 0)
	}
	if !resp.Succeeded {
		// Someone wrote in between; the Else branch read what they wrote.
		return s.stateFromKVs(resp.Responses[0].GetResponseRange().Kvs, true)
	}
	return nil, s.decode(data, resp.Header.Revision, out)
}
