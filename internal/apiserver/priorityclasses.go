package apiserver

import (
	"context"
	"slices"
	"strings"

	schedulingv1 "k8s.io/api/scheduling/v1"

	"github.com/skiff-sh/skiff/internal/apiserver/resources"
	"github.com/skiff-sh/skiff/internal/storage"
)

// storedPriorityClasses is the resources.PriorityClassLister admission
// hooks use when a pod or class is created: the server's PriorityClass
// cache (objectcache.go), as upstream's admission reads an informer, so a
// pod create costs no etcd read; before the cache is filled, the stored
// classes, read consistently (a lagging etcd member once let a second
// globalDefault class in). The endpoint
// is looked up per call because the resources are built before their
// endpoints exist.
type storedPriorityClasses struct{ s *Server }

var _ resources.PriorityClassLister = storedPriorityClasses{}

func (l storedPriorityClasses) ListPriorityClasses(ctx context.Context) ([]schedulingv1.PriorityClass, error) {
	if c := l.s.priorityClassCache; c != nil {
		if objs, synced := c.List(); synced {
			out := make([]schedulingv1.PriorityClass, 0, len(objs))
			for _, obj := range objs {
				// Shallow copies: the caller only reads them.
				out = append(out, *obj.(*schedulingv1.PriorityClass))
			}
			// In name order, as a list from etcd is.
			slices.SortFunc(out, func(a, b schedulingv1.PriorityClass) int { return strings.Compare(a.Name, b.Name) })
			return out, nil
		}
	}
	ep := l.s.endpoints[schedulingv1.SchemeGroupVersion.WithResource("priorityclasses")]
	if ep == nil {
		return nil, nil
	}
	list := &schedulingv1.PriorityClassList{}
	if err := ep.store.List(ctx, ep.listKey(""), storage.ListOptions{Recursive: true}, list); err != nil {
		return nil, toAPIError(err, ep.res.GroupResource(), "")
	}
	return list.Items, nil
}
