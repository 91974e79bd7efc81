package namespace

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
)

// target is one namespaced resource the controller empties.
type target struct {
	gvr schema.GroupVersionResource
	// collection: the resource supports deletecollection.
	collection bool
}

// deletionResult is what one round of deleting a namespace's content
// found. Its zero value means: everything discovered, deleted and gone.
type deletionResult struct {
	// discoveryErr is set when some (or all) API groups could not be
	// discovered; their content may remain, so the namespace must wait.
	discoveryErr error
	// failures are "resource: error" for resources whose content could
	// not be listed or deleted, sorted.
	failures []string
	// remaining counts the objects still present per resource, and
	// finalizers how many of them still carry each finalizer.
	remaining  map[schema.GroupResource]int
	finalizers map[string]int
}

// errContentRemaining is returned while objects remain in a namespace.
var errContentRemaining = errors.New("content remaining in namespace")

// err is nil only when the namespace may be finalized.
func (r *deletionResult) err() error {
	switch {
	case r.discoveryErr != nil:
		return fmt.Errorf("discovery: %w", r.discoveryErr)
	case len(r.failures) > 0:
		return fmt.Errorf("deleting content: %s", strings.Join(r.failures, "; "))
	case len(r.remaining) > 0:
		return fmt.Errorf("%w: %s", errContentRemaining, strings.Join(remainingMessages(r.remaining), ", "))
	}
	return nil
}

// deletableResources picks from discovery the namespaced resources that
// support list and delete, subresources excluded, in a stable order.
func deletableResources(lists []*metav1.APIResourceList) []target {
	var out []target
	seen := map[schema.GroupVersionResource]bool{}
	for _, list := range lists {
		if list == nil {
			continue
		}
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range list.APIResources {
			if !r.Namespaced || strings.Contains(r.Name, "/") {
				continue
			}
			verbs := map[string]bool{}
			for _, v := range r.Verbs {
				verbs[v] = true
			}
			if !verbs["list"] || !verbs["delete"] {
				continue
			}
			gvr := gv.WithResource(r.Name)
			if seen[gvr] {
				continue
			}
			seen[gvr] = true
			out = append(out, target{gvr: gvr, collection: verbs["deletecollection"]})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].gvr.String() < out[j].gvr.String() })
	return out
}

// deleteContent deletes every object in namespace ns once and counts what
// is left afterwards (objects held by finalizers or graceful deletion).
func (c *Controller) deleteContent(ctx context.Context, ns string) *deletionResult {
	res := &deletionResult{remaining: map[schema.GroupResource]int{}, finalizers: map[string]int{}}
	lists, err := c.client.Discovery().ServerPreferredNamespacedResources()
	if err != nil {
		res.discoveryErr = err
		if !discovery.IsGroupDiscoveryFailedError(err) {
			return res // nothing usable was discovered
		}
	}
	for _, t := range deletableResources(lists) {
		if err := c.deleteResource(ctx, ns, t, res); err != nil {
			res.failures = append(res.failures, fmt.Sprintf("%s: %v", t.gvr.GroupResource(), err))
		}
	}
	sort.Strings(res.failures)
	return res
}

// deleteResource deletes the objects of one resource in ns and records
// what remains in res.
func (c *Controller) deleteResource(ctx context.Context, ns string, t target, res *deletionResult) error {
	client := c.metadata.Resource(t.gvr).Namespace(ns)
	background := metav1.DeletePropagationBackground
	opts := metav1.DeleteOptions{PropagationPolicy: &background}
	listed := false
	if t.collection {
		err := client.DeleteCollection(ctx, opts, metav1.ListOptions{})
		switch {
		case err == nil:
		case apierrors.IsMethodNotSupported(err) || apierrors.IsNotFound(err):
			t.collection = false // fall back to one by one
		default:
			return err
		}
	}
	if !t.collection {
		list, err := client.List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		listed = len(list.Items) == 0
		for _, item := range list.Items {
			if item.DeletionTimestamp != nil {
				continue // already going; deleting again changes nothing
			}
			err := client.Delete(ctx, item.Name, opts)
			if err != nil && !apierrors.IsNotFound(err) {
				return err
			}
		}
	}
	if listed {
		return nil // the list above was empty
	}
	list, err := client.List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	if n := len(list.Items); n > 0 {
		res.remaining[t.gvr.GroupResource()] += n
	}
	for _, item := range list.Items {
		for _, f := range item.Finalizers {
			res.finalizers[f]++
		}
	}
	return nil
}
