package apiserver

import (
	"context"
	"fmt"
	"reflect"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/skiff-sh/skiff/internal/apiserver/resources"
	"github.com/skiff-sh/skiff/internal/storage"
)

// convertingStore serves one version of a resource from another version's
// store (events.k8s.io/v1 Events from core/v1 Events).
type convertingStore struct {
	inner            storage.Interface
	conv             *resources.StorageConversion
	newFn, newListFn func() runtime.Object
}

var _ storage.Interface = (*convertingStore)(nil)

func (c *convertingStore) toStorage(obj runtime.Object) (runtime.Object, error) {
	return c.conv.ToStorage(obj)
}

// fromStorage converts a stored object into out (a served object).
func (c *convertingStore) fromStorage(stored, out runtime.Object) error {
	served, err := c.conv.FromStorage(stored)
	if err != nil {
		return err
	}
	return copyInto(served, out)
}

// copyInto sets *dst = *src for two pointers to the same struct type.
func copyInto(src, dst runtime.Object) error {
	sv, dv := reflect.ValueOf(src), reflect.ValueOf(dst)
	if sv.Type() != dv.Type() {
		return fmt.Errorf("converting %T into %T", src, dst)
	}
	dv.Elem().Set(sv.Elem())
	return nil
}

func (c *convertingStore) predicate(p storage.Predicate) storage.Predicate {
	if p == nil {
		return nil
	}
	return func(stored runtime.Object) (bool, error) {
		served, err := c.conv.FromStorage(stored)
		if err != nil {
			return false, err
		}
		return p(served)
	}
}

func (c *convertingStore) Create(ctx context.Context, key string, obj, out runtime.Object) error {
	stored, err := c.toStorage(obj)
	if err != nil {
		return err
	}
	storedOut := c.conv.New()
	if err := c.inner.Create(ctx, key, stored, storedOut); err != nil {
		return err
	}
	return c.fromStorage(storedOut, out)
}

func (c *convertingStore) Get(ctx context.Context, key string, opts storage.GetOptions, out runtime.Object) error {
	storedOut := c.conv.New()
	if err := c.inner.Get(ctx, key, opts, storedOut); err != nil {
		return err
	}
	return c.fromStorage(storedOut, out)
}

func (c *convertingStore) List(ctx context.Context, key string, opts storage.ListOptions, listObj runtime.Object) error {
	opts.Predicate = c.predicate(opts.Predicate)
	storedList := c.conv.NewList()
	if err := c.inner.List(ctx, key, opts, storedList); err != nil {
		return err
	}
	items, err := meta.ExtractList(storedList)
	if err != nil {
		return err
	}
	served := make([]runtime.Object, 0, len(items))
	for _, item := range items {
		obj := c.newFn()
		if err := c.fromStorage(item, obj); err != nil {
			return err
		}
		served = append(served, obj)
	}
	if err := meta.SetList(listObj, served); err != nil {
		return err
	}
	src, _ := meta.ListAccessor(storedList)
	dst, _ := meta.ListAccessor(listObj)
	dst.SetResourceVersion(src.GetResourceVersion())
	dst.SetContinue(src.GetContinue())
	dst.SetRemainingItemCount(src.GetRemainingItemCount())
	return nil
}

func (c *convertingStore) GuaranteedUpdate(ctx context.Context, key string, out runtime.Object, ignoreNotFound bool,
	pre *storage.Preconditions, tryUpdate storage.UpdateFunc) error {
	storedOut := c.conv.New()
	err := c.inner.GuaranteedUpdate(ctx, key, storedOut, ignoreNotFound, pre, func(stored runtime.Object) (runtime.Object, error) {
		served := c.newFn()
		if err := c.fromStorage(stored, served); err != nil {
			return nil, err
		}
		next, err := tryUpdate(served)
		if err != nil {
			return nil, err
		}
		return c.toStorage(next)
	})
	if err != nil {
		return err
	}
	return c.fromStorage(storedOut, out)
}

func (c *convertingStore) Delete(ctx context.Context, key string, out runtime.Object, pre *storage.Preconditions,
	validate func(runtime.Object) error) error {
	var v func(runtime.Object) error
	if validate != nil {
		v = func(stored runtime.Object) error {
			served := c.newFn()
			if err := c.fromStorage(stored, served); err != nil {
				return err
			}
			return validate(served)
		}
	}
	storedOut := c.conv.New()
	if err := c.inner.Delete(ctx, key, storedOut, pre, v); err != nil {
		return err
	}
	return c.fromStorage(storedOut, out)
}

func (c *convertingStore) Watch(ctx context.Context, key string, opts storage.WatchOptions) (watch.Interface, error) {
	opts.Predicate = c.predicate(opts.Predicate)
	w, err := c.inner.Watch(ctx, key, opts)
	if err != nil {
		return nil, err
	}
	return watch.Filter(w, func(ev watch.Event) (watch.Event, bool) {
		if ev.Type == watch.Error {
			return ev, true
		}
		served := c.newFn()
		if ev.Type == watch.Bookmark {
			m, _ := meta.Accessor(ev.Object)
			sm, _ := meta.Accessor(served)
			sm.SetResourceVersion(m.GetResourceVersion())
			sm.SetAnnotations(m.GetAnnotations())
			ev.Object = served
			return ev, true
		}
		if err := c.fromStorage(ev.Object, served); err != nil {
			return ev, false
		}
		ev.Object = served
		return ev, true
	}), nil
}

func (c *convertingStore) CurrentRevision(ctx context.Context) (int64, error) {
	return c.inner.CurrentRevision(ctx)
}
