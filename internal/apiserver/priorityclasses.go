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
// informer-backed admission it reads the classes on each create. The
// endpoint is looked up per call because the resources are built before
// their endpoints exist.
//
// The read is consistent (quorum), not from a possibly lagging member:
// only one globalDefault class may exist, and with several etcd members a
// stale read let a second one in (and pods take its value).
type storedPriorityClasses struct{ s *Server }

var _ resources.PriorityClassLister = storedPriorityClasses{}

func (l storedPriorityClasses) ListPriorityClasses(ctx context.Context) ([]schedulingv1.PriorityClass, error) {
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
