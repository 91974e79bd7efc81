package storage

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/runtime"
)

// StoreConfig configures one resource's Store.
type StoreConfig struct {
	// Codec encodes values for etcd and decodes them (see NewCodec).
	Codec runtime.Codec
	// NewFunc returns an empty object of the resource (e.g. &corev1.Pod{});
	// NewListFunc an empty list (e.g. &corev1.PodList{}).
	NewFunc, NewListFunc func() runtime.Object
	// TTL, if set, gives the seconds an object lives after each write (0 =
	// forever). Objects are attached to etcd leases that are shared by
	// writes within about a minute, so an object may outlive its TTL by up
	// to a minute. Events use one hour.
	TTL func(obj runtime.Object) int64
	// BookmarkInterval is how often a watch with AllowBookmarks sends a
	// BOOKMARK; default one minute.
	BookmarkInterval time.Duration
	// Logger receives the store's few warnings; default slog.Default().
	Logger *slog.Logger
	// KeyPrefix, if set, is the prefix of all of the resource's keys
	// ("/registry/pods/"). Watches under it share one etcd watch and a
	// buffer of recent events (see watch_cache.go); without it each watch
	// opens an etcd watch of its own.
	KeyPrefix string
	// WatchCacheSize is how many events that buffer keeps; default
	// DefaultWatchCacheSize.
	WatchCacheSize int
	// WatchIndex, optional, returns an object's value of a field that
	// many watches select one value of (a pod's spec.nodeName: each
	// kubelet watches its node's pods). The shared watch then offers an
	// event only to the watches whose WatchOptions.IndexValue is the
	// value of the object before or after it, and to those without one;
	// and the watch cache's state keeps its objects by value too, so a
	// list or a watch's initial state with an IndexValue reads only the
	// objects of that value.
	WatchIndex func(obj runtime.Object) string
	// Metrics, if set, records the store's etcd requests and object count
	// under Resource (the type and resource labels: "pods",
	// "leases.coordination.k8s.io").
	Metrics  *Metrics
	Resource string
}

// DefaultBookmarkInterval is the BookmarkInterval when none is configured.
const DefaultBookmarkInterval = time.Minute

// watchBuffer is the capacity of a watch's result channel.
const watchBuffer = 100

// store is the etcd3 implementation of Interface.
type store struct {
	client           *clientv3.Client
	codec            runtime.Codec
	newFunc          func() runtime.Object
	newListFunc      func() runtime.Object
	ttl              func(runtime.Object) int64
	leases           *leaseCache
	progress         *progressRequester
	bookmarkInterval time.Duration
	revisionWait     time.Duration
	log              *slog.Logger
	metrics          requestMetrics
	cache            *watchCache // nil without a KeyPrefix
	// stateReads bounds the watches reading their initial state from
	// etcd at once (see initialState).
	stateReads chan struct{}
}

// maxConcurrentStateReads is how many watches of one resource may read
// their initial state from etcd at a time.
const maxConcurrentStateReads = 2

var _ Interface = (*store)(nil)

// NewStore returns the Store of one resource over client. Codec, NewFunc
// and NewListFunc are required; NewStore panics without them, since that
// is a programming error in the caller's wiring.
func NewStore(client *clientv3.Client, cfg StoreConfig) Interface {
	if client == nil || cfg.Codec == nil || cfg.NewFunc == nil || cfg.NewListFunc == nil {
		panic("storage.NewStore: client, Codec, NewFunc and NewListFunc are required")
	}
	if cfg.BookmarkInterval <= 0 {
		cfg.BookmarkInterval = DefaultBookmarkInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &store{
		client:           client,
		codec:            cfg.Codec,
		newFunc:          cfg.NewFunc,
		newListFunc:      cfg.NewListFunc,
		ttl:              cfg.TTL,
		leases:           newLeaseCache(client),
		progress:         newProgressRequester(client, cfg.BookmarkInterval),
		bookmarkInterval: cfg.BookmarkInterval,
		revisionWait:     revisionWait,
		log:              cfg.Logger.With("component", "storage"),
		stateReads:       make(chan struct{}, maxConcurrentStateReads),
		metrics:          cfg.Metrics.forResource(cfg.Resource),
	}
	if cfg.KeyPrefix != "" {
		s.cache = newWatchCache(s, cfg)
	}
	return s
}

// Create writes obj at key in a transaction that succeeds only if key has
// never been created (or was deleted since).
func (s *store) Create(ctx context.Context, key string, obj, out runtime.Object) error {
	rv, err := objectResourceVersion(obj)
	if err != nil {
		return err
	}
	if rv != 0 {
		return fmt.Errorf("%w: resourceVersion must not be set on create", ErrInvalidObject)
	}
	data, err := s.encode(obj)
	if err != nil {
		return err
	}
	putOpts, err := s.leaseOptions(ctx, obj)
	if err != nil {
		return err
	}
	start := time.Now()
	resp, err := s.client.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, string(data), putOpts...)).
		Commit()
	s.metrics.observe(opCreate, start, err)
	if err != nil {
		return translateError(err, 0)
	}
	if !resp.Succeeded {
		return fmt.Errorf("%w: %s", ErrAlreadyExists, key)
	}
	return s.decode(data, resp.Header.Revision, out)
}

// Get reads key. "" reads linearizably; "0" may be served by any member
// (serializable); N needs a state at least as new as N, and waits briefly
// for it.
func (s *store) Get(ctx context.Context, key string, opts GetOptions, out runtime.Object) error {
	minRev, err := parseResourceVersion(opts.ResourceVersion)
	if err != nil {
		return err
	}
	if opts.ResourceVersion != "" {
		if served, err := s.getFromCache(key, minRev, out); served || err != nil {
			return err
		}
	}
	var getOpts []clientv3.OpOption
	if opts.ResourceVersion != "" {
		// Any state at least minRev will do; a member's local state is
		// usually new enough and is the cheap read.
		getOpts = append(getOpts, clientv3.WithSerializable())
	}
	resp, err := s.read(ctx, opGet, key, getOpts...)
	if err != nil {
		return translateError(err, 0)
	}
	if resp.Header.Revision < minRev {
		if _, err := s.waitForRevision(ctx, minRev); err != nil {
			return err
		}
		if resp, err = s.read(ctx, opGet, key); err != nil {
			return translateError(err, 0)
		}
	}
	if len(resp.Kvs) == 0 {
		return fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	kv := resp.Kvs[0]
	return s.decode(kv.Value, kv.ModRevision, out)
}

// read is an etcd Get of key, recorded as the store's op (a get or a
// list).
func (s *store) read(ctx context.Context, op string, key string, opts ...clientv3.OpOption) (*clientv3.GetResponse, error) {
	start := time.Now()
	resp, err := s.client.Get(ctx, key, opts...)
	s.metrics.observe(op, start, err)
	return resp, err
}

// leaseOptions attaches obj to a lease when the store has a TTL for it.
func (s *store) leaseOptions(ctx context.Context, obj runtime.Object) ([]clientv3.OpOption, error) {
	if s.ttl == nil {
		return nil, nil
	}
	ttl := s.ttl(obj)
	if ttl <= 0 {
		return nil, nil
	}
	id, err := s.leases.lease(ctx, ttl)
	if err != nil {
		return nil, fmt.Errorf("storage: granting a %ds lease: %w", ttl, err)
	}
	return []clientv3.OpOption{clientv3.WithLease(id)}, nil
}
