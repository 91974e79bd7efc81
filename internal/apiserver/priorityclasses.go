package apiserver

import (
	"context"

	schedulingv1 "k8s.io/api/scheduling/v1"

	"github.com/skiff-sh/skiff/internal/apiserver/resources"
	"github.com/skiff-sh/skiff/internal/storage"
)

// storedPriorityClasses is the resources.PriorityClassLister admission
// hooks use: the stored classes, read when a pod or class is created
// (there are few classes, and no watch cache yet). Like upstream's
// informer-backed admission it may read slightly stale data
// (resourceVersion "0"), which spares every pod create a quorum read. The
// endpoint is looked up per call because the resources are built before
// their endpoints exist.
type storedPriorityClasses struct{ s *Server }

var _ resources.PriorityClassLister = storedPriorityClasses{}

func (l storedPriorityClasses) ListPriorityClasses(ctx context.Context) ([]schedulingv1.PriorityClass, error) {
	ep := l.s.endpoints[schedulingv1.SchemeGroupVersion.WithResource("priorityclasses")]
	if ep == nil {
		return nil, nil
	}
	list := &schedulingv1.PriorityClassList{}
	if err := ep.store.List(ctx, ep.listKey(""), storage.ListOptions{ResourceVersion: "0", Recursive: true}, list); err != nil {
		return nil, toAPIError(err, ep.res.GroupResource(), "")
	}
	return list.Items, nil
}
