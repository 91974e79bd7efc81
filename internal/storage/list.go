package storage

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
)

// maxPageSize caps the pages List reads from etcd while it looks for Limit
// objects that match a predicate.
const maxPageSize = 10000

// listRead says where and at which revision a List reads.
type listRead struct {
	start, end   string // key range [start, end)
	prefix       string // what continue tokens are relative to
	rev          int64  // revision to read at; 0 means the latest
	minRev       int64  // the latest must be at least this (NotOlderThan)
	serializable bool   // any member's state will do ("0")
	// index, if set, is the index value the predicate promises every
	// match has (ListOptions.IndexValue): a watch cache with that index
	// reads only those entries.
	index *string
}

// planList turns ListOptions into a listRead.
func planList(key string, opts ListOptions) (listRead, error) {
	r := listRead{start: key, end: key + "\x00", prefix: key}
	if opts.Recursive {
		if !strings.HasSuffix(key, "/") {
			key += "/"
		}
		r = listRead{start: key, end: clientv3.GetPrefixRangeEnd(key), prefix: key}
	}
	r.index = opts.IndexValue
	if opts.Continue != "" {
		rev, start, err := decodeContinue(opts.Continue, r.prefix)
		if err != nil {
			return r, err
		}
		r.start, r.rev = start, rev
		return r, nil
	}
	n, err := parseResourceVersion(opts.ResourceVersion)
	if err != nil {
		return r, err
	}
	switch {
	case opts.ResourceVersion == "":
		// a consistent read of the latest revision
	case n == 0:
		r.serializable = true
	case opts.ResourceVersionMatch == "Exact":
		r.rev = n
	case opts.ResourceVersionMatch == "" || opts.ResourceVersionMatch == "NotOlderThan":
		r.minRev = n
	default:
		return r, fmt.Errorf("%w: unknown resourceVersionMatch %q", ErrInvalidResourceVersion, opts.ResourceVersionMatch)
	}
	return r, nil
}

// listPage is what one List call returns.
type listPage struct {
	items     []runtime.Object
	rev       int64  // the revision read at
	next      string // the key the next page starts at; "" when done
	remaining int64  // keys after this page when known, else -1
}

// List reads the keys under key (or key itself when not Recursive) at one
// revision. With a Limit, it returns at most Limit matching objects and a
// continue token pinned to that revision, so all pages of a list are one
// snapshot; with a Predicate it reads further pages from etcd, growing in
// size, until Limit objects match or the keys run out.
func (s *store) List(ctx context.Context, key string, opts ListOptions, listObj runtime.Object) error {
	if served, err := s.listFromCache(ctx, key, opts, listObj); served || err != nil {
		return err
	}
	read, err := planList(key, opts)
	if err != nil {
		return err
	}
	page, err := s.readList(ctx, read, opts.Limit, opts.Predicate)
	if read.rev > 0 && opts.Continue == "" && errors.Is(err, ErrTooLargeResourceVersion) {
		// Exact N that etcd has not reached yet: give it a moment.
		if _, err = s.waitForRevision(ctx, read.rev); err == nil {
			page, err = s.readList(ctx, read, opts.Limit, opts.Predicate)
		}
	}
	if err != nil {
		if opts.Continue != "" && errors.Is(err, ErrExpired) {
			return fmt.Errorf("%w: the continue token's revision %d has been compacted; start a new list", ErrExpired, read.rev)
		}
		return err
	}
	if page.rev < read.minRev {
		if _, err := s.waitForRevision(ctx, read.minRev); err != nil {
			return err
		}
		if page, err = s.readList(ctx, read, opts.Limit, opts.Predicate); err != nil {
			return err
		}
	}
	return s.fillList(listObj, read, page, opts.Predicate == nil)
}

// readList reads one page of a List.
func (s *store) readList(ctx context.Context, read listRead, limit int64, pred Predicate) (*listPage, error) {
	page := &listPage{rev: read.rev, remaining: -1}
	key, pageSize := read.start, limit
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(read.end)}
		if pageSize > 0 {
			opts = append(opts, clientv3.WithLimit(pageSize))
		}
		if page.rev > 0 {
			opts = append(opts, clientv3.WithRev(page.rev))
		}
		if read.serializable {
			opts = append(opts, clientv3.WithSerializable())
		}
		resp, err := s.read(ctx, opList, key, opts...)
		if err != nil {
			return nil, translateError(err, page.rev)
		}
		if page.rev == 0 {
			page.rev = resp.Header.Revision
		}
		for i, kv := range resp.Kvs {
			if limit > 0 && int64(len(page.items)) == limit {
				page.next, page.remaining = string(kv.Key), resp.Count-int64(i)
				return page, nil
			}
			obj, err := s.decodeNew(kv.Value, kv.ModRevision)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", kv.Key, err)
			}
			if ok, err := matches(pred, obj); err != nil {
				return nil, err
			} else if ok {
				page.items = append(page.items, obj)
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return page, nil
		}
		key = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
		if limit > 0 && int64(len(page.items)) == limit {
			page.next, page.remaining = key, resp.Count-int64(len(resp.Kvs))
			return page, nil
		}
		pageSize = min(2*pageSize, max(limit, maxPageSize))
	}
}

// fillList stores the page in listObj with the list's resourceVersion and
// continue token. remainingItemCount is only exact without a predicate.
func (s *store) fillList(listObj runtime.Object, read listRead, page *listPage, exactCount bool) error {
	if err := meta.SetList(listObj, page.items); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidObject, err)
	}
	list, err := meta.ListAccessor(listObj)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidObject, err)
	}
	list.SetResourceVersion(strconv.FormatInt(page.rev, 10))
	list.SetContinue("")
	list.SetRemainingItemCount(nil)
	if page.next == "" {
		return nil
	}
	token, err := encodeContinue(page.next, read.prefix, page.rev)
	if err != nil {
		return err
	}
	list.SetContinue(token)
	if exactCount && page.remaining > 0 {
		remaining := page.remaining
		list.SetRemainingItemCount(&remaining)
	}
	return nil
}

// matches applies a possibly nil predicate.
func matches(pred Predicate, obj runtime.Object) (bool, error) {
	if pred == nil {
		return true, nil
	}
	return pred(obj)
}
