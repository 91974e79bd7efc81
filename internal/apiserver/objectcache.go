package apiserver

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/skiff-sh/skiff/internal/storage"
)

// objectCache is a watch-backed copy of one small resource (namespaces,
// PriorityClasses) that admission reads on every create instead of going
// to etcd, as upstream's admission plugins read informer caches. It is
// filled by a list and a watch, and also by this server's own writes as
// soon as they succeed (cachingStore), so a client that creates a
// namespace and then a pod in it is never refused by the cache lagging
// behind its own write. Writes through another API server sharing the
// etcd show up with the watch's delay.
//
// Entries are ordered by resourceVersion: a state older than the one held
// (or than a deletion seen) is ignored, whichever path brings it first.
// Objects handed out are shared and must not be modified.
type objectCache struct {
	ep  *endpoint
	log *slog.Logger

	mu      sync.RWMutex
	synced  bool
	objects map[string]cachedObject // by etcd key
	// deleted holds, per key removed by a write of this server, the
	// revision of its last state, so that the watch's older events for
	// it are not taken for news. Pruned as the watch passes them.
	deleted map[string]int64
}

type cachedObject struct {
	obj runtime.Object
	rev int64
}

func newObjectCache(ep *endpoint, log *slog.Logger) *objectCache {
	return &objectCache{ep: ep, log: log, objects: map[string]cachedObject{}, deleted: map[string]int64{}}
}

// Run keeps the cache filled until ctx ends: list, then watch from the
// list's revision; any watch failure re-lists after a short pause.
func (c *objectCache) Run(ctx context.Context) {
	for ctx.Err() == nil {
		if err := c.listAndWatch(ctx); err != nil && ctx.Err() == nil {
			c.log.Warn("object cache: re-listing", "resource", c.ep.res.GroupResource().String(), "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	c.mu.Lock()
	c.synced = false
	c.mu.Unlock()
}

func (c *objectCache) listAndWatch(ctx context.Context) error {
	list := c.ep.res.NewList()
	if err := c.ep.store.List(ctx, c.ep.listKey(""), storage.ListOptions{Recursive: true}, list); err != nil {
		return err
	}
	lm, err := meta.ListAccessor(list)
	if err != nil {
		return err
	}
	listRev, err := strconv.ParseInt(lm.GetResourceVersion(), 10, 64)
	if err != nil {
		return err
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		return err
	}
	c.replace(items, listRev)
	w, err := c.ep.store.Watch(ctx, c.ep.listKey(""), storage.WatchOptions{ResourceVersion: lm.GetResourceVersion(), Recursive: true})
	if err != nil {
		return err
	}
	defer w.Stop()
	for ev := range w.ResultChan() {
		switch ev.Type {
		case watch.Added, watch.Modified:
			c.put(ev.Object, true)
		case watch.Deleted:
			c.remove(ev.Object, true)
		case watch.Error:
			return errors.New("watch ended with an error event")
		}
	}
	return errors.New("watch closed")
}

// replace installs a fresh list read at rev, keeping states of this
// server's writes that are newer than the list.
func (c *objectCache) replace(items []runtime.Object, rev int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	next := make(map[string]cachedObject, len(items))
	for _, obj := range items {
		if key, r, ok := c.keyAndRev(obj); ok {
			next[key] = cachedObject{obj: obj, rev: r}
		}
	}
	for key, cur := range c.objects {
		if cur.rev > rev {
			next[key] = cur
		}
	}
	for key, r := range c.deleted {
		if r <= rev {
			delete(c.deleted, key)
		} else {
			delete(next, key)
		}
	}
	c.objects = next
	c.synced = true
}

// put records a state of an object unless a newer one is known.
// fromWatch says it came from the watch, which has then passed its
// revision.
func (c *objectCache) put(obj runtime.Object, fromWatch bool) {
	key, rev, ok := c.keyAndRev(obj)
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if fromWatch {
		c.pruneDeleted(rev)
	}
	if cur, ok := c.objects[key]; ok && cur.rev >= rev {
		return
	}
	if d, ok := c.deleted[key]; ok && d >= rev {
		return
	}
	delete(c.deleted, key)
	c.objects[key] = cachedObject{obj: obj, rev: rev}
}

// remove drops an object. fromWatch says obj carries the deletion's
// revision; a write's result carries its last state's instead, which is
// remembered so the watch's events up to it are ignored.
func (c *objectCache) remove(obj runtime.Object, fromWatch bool) {
	key, rev, ok := c.keyAndRev(obj)
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if fromWatch {
		c.pruneDeleted(rev)
	}
	if cur, ok := c.objects[key]; ok && cur.rev > rev {
		return
	}
	delete(c.objects, key)
	if !fromWatch && rev > c.deleted[key] {
		c.deleted[key] = rev
	}
}

// pruneDeleted forgets deletions the watch has passed: no older event can
// follow an event at rev (c.mu held).
func (c *objectCache) pruneDeleted(rev int64) {
	for key, r := range c.deleted {
		if r < rev {
			delete(c.deleted, key)
		}
	}
}

func (c *objectCache) keyAndRev(obj runtime.Object) (string, int64, bool) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return "", 0, false
	}
	rev, err := strconv.ParseInt(m.GetResourceVersion(), 10, 64)
	if err != nil {
		return "", 0, false
	}
	return c.ep.key(m.GetNamespace(), m.GetName()), rev, true
}

// Get returns the cached object ns/name; ok is false when it is not
// cached, and synced false when the cache has not been filled yet (then
// it knows nothing).
func (c *objectCache) Get(ns, name string) (obj runtime.Object, ok, synced bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	cur, ok := c.objects[c.ep.key(ns, name)]
	return cur.obj, ok, c.synced
}

// List returns every cached object, or synced false when the cache has not
// been filled yet.
func (c *objectCache) List() (objs []runtime.Object, synced bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if !c.synced {
		return nil, false
	}
	objs = make([]runtime.Object, 0, len(c.objects))
	for _, cur := range c.objects {
		objs = append(objs, cur.obj)
	}
	return objs, true
}

// cachingStore is a resource's store that tells its objectCache about
// every successful write, so the cache never lags behind this server's
// own writes.
type cachingStore struct {
	storage.Interface
	cache *objectCache
}

func (s cachingStore) Create(ctx context.Context, key string, obj, out runtime.Object) error {
	err := s.Interface.Create(ctx, key, obj, out)
	if err == nil {
		s.cache.put(out.DeepCopyObject(), false)
	}
	return err
}

func (s cachingStore) GuaranteedUpdate(ctx context.Context, key string, out runtime.Object, ignoreNotFound bool,
	preconditions *storage.Preconditions, tryUpdate storage.UpdateFunc) error {
	err := s.Interface.GuaranteedUpdate(ctx, key, out, ignoreNotFound, preconditions, tryUpdate)
	if err == nil {
		s.cache.put(out.DeepCopyObject(), false)
	}
	return err
}

func (s cachingStore) Delete(ctx context.Context, key string, out runtime.Object, preconditions *storage.Preconditions,
	validate func(current runtime.Object) error) error {
	err := s.Interface.Delete(ctx, key, out, preconditions, validate)
	if err == nil {
		s.cache.remove(out.DeepCopyObject(), false)
	}
	return err
}
