package storage

import (
	"context"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/runtime"
)

// Delete is a compare-and-delete on the key's mod revision. Preconditions
// and validate are checked against the state the delete is conditioned on;
// if the key changes in between, they are checked again on the new state.
// out receives the deleted state with the deletion revision as its
// resourceVersion, which is also the revision of the DELETED watch event.
func (s *store) Delete(ctx context.Context, key string, out runtime.Object, preconditions *Preconditions,
	validate func(current runtime.Object) error) error {
	st, err := s.readState(ctx, key, true)
	if err != nil {
		return err
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		next, err := s.tryDeleteOnce(ctx, key, st, out, preconditions, validate)
		if err != nil || next == nil {
			return err
		}
		st = next
	}
}

// tryDeleteOnce runs one round of Delete on st. It returns a newer state to
// retry with, or nil and the final result.
func (s *store) tryDeleteOnce(ctx context.Context, key string, st *objState, out runtime.Object,
	preconditions *Preconditions, validate func(runtime.Object) error) (*objState, error) {
	refresh := func(final error) (*objState, error) {
		if st.current {
			return nil, final
		}
		return s.readState(ctx, key, false)
	}
	if !st.exists {
		return refresh(fmt.Errorf("%w: %s", ErrNotFound, key))
	}
	if err := checkPreconditions(key, preconditions, st.obj); err != nil {
		return refresh(err)
	}
	if validate != nil {
		if err := validate(st.obj); err != nil {
			return refresh(err)
		}
	}
	start := time.Now()
	resp, err := s.client.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(key), "=", st.rev)).
		Then(clientv3.OpDelete(key)).
		Else(clientv3.OpGet(key)).
		Commit()
	s.metrics.observe(opDelete, start, err)
	if err != nil {
		return nil, translateError(err, 0)
	}
	if !resp.Succeeded {
		return s.stateFromKVs(resp.Responses[0].GetResponseRange().Kvs, true)
	}
	return nil, s.decode(st.data, resp.Header.Revision, out)
}
