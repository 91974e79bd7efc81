package clusterbench

import (
	"context"
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// Scopes of an API call, as the read-only SLO tells them apart.
const (
	ScopeResource  = "resource"
	ScopeNamespace = "namespace"
	ScopeCluster   = "cluster"
)

// APIResult is the latency of one kind of API call at one concurrency.
type APIResult struct {
	Verb        string `json:"verb"`
	Resource    string `json:"resource"`
	Scope       string `json:"scope"`
	Concurrency int    `json:"concurrency"`
	Summary
	Errors int `json:"errors"`
	// FirstError is the first failed call's error, when there was one.
	FirstError string `json:"first_error,omitempty"`
}

// Mutating reports whether the call changes state (POST, PUT, PATCH,
// DELETE), the calls of the mutating-latency SLO.
func (r APIResult) Mutating() bool {
	switch r.Verb {
	case "create", "update", "patch", "delete":
		return true
	}
	return false
}

// apiCalls measures the life of ops ConfigMaps in ns, one verb at a
// time: create, get, list (the namespace), update, patch, delete, with
// conc callers. Each object is touched by one caller at a time, so an
// update never conflicts with another. prefix keeps rounds apart.
func apiCalls(ctx context.Context, cs kubernetes.Interface, ns, prefix string, ops, conc int) []APIResult {
	cms := cs.CoreV1().ConfigMaps(ns)
	name := func(i int) string { return prefix + "-" + strconv.Itoa(i) }
	objs := make([]*corev1.ConfigMap, ops)
	// The same size of data as a small application config.
	data := map[string]string{"config.yaml": fmt.Sprintf("%0512d", 0)}
	steps := []struct {
		verb, scope string
		n           int
		call        func(i int) error
	}{
		{"create", ScopeResource, ops, func(i int) error {
			o, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name(i), Labels: map[string]string{"skiff-bench": prefix}}, Data: data}, metav1.CreateOptions{})
			objs[i] = o
			return err
		}},
		{"get", ScopeResource, ops, func(i int) error {
			_, err := cms.Get(ctx, name(i), metav1.GetOptions{})
			return err
		}},
		// A LIST returns every object of the namespace, so fewer of them.
		{"list", ScopeNamespace, max(ops/10, 3), func(i int) error {
			l, err := cms.List(ctx, metav1.ListOptions{LabelSelector: "skiff-bench=" + prefix})
			if err == nil && len(l.Items) != ops {
				err = fmt.Errorf("list: %d configmaps, want %d", len(l.Items), ops)
			}
			return err
		}},
		{"update", ScopeResource, ops, func(i int) error {
			if objs[i] == nil {
				return fmt.Errorf("update: configmap %s was not created", name(i))
			}
			o := objs[i].DeepCopy()
			o.Data = map[string]string{"config.yaml": fmt.Sprintf("%0512d", 1)}
			o, err := cms.Update(ctx, o, metav1.UpdateOptions{})
			if err == nil {
				objs[i] = o
			}
			return err
		}},
		{"patch", ScopeResource, ops, func(i int) error {
			_, err := cms.Patch(ctx, name(i), types.MergePatchType, []byte(`{"data":{"patched":"true"}}`), metav1.PatchOptions{})
			return err
		}},
		{"delete", ScopeResource, ops, func(i int) error {
			return cms.Delete(ctx, name(i), metav1.DeleteOptions{})
		}},
	}
	var out []APIResult
	for _, s := range steps {
		if ctx.Err() != nil {
			break
		}
		out = append(out, measure(s.verb, "configmaps", s.scope, s.n, conc, s.call))
	}
	return out
}

// clusterList measures n first pages (limit 500, as kubectl asks) of
// the pods of all namespaces, one call at a time: the cluster scope.
func clusterList(ctx context.Context, cs kubernetes.Interface, n int) APIResult {
	return measure("list", "pods", ScopeCluster, n, 1, func(int) error {
		_, err := cs.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{Limit: 500})
		return err
	})
}

// measure samples n calls over conc callers as one APIResult.
func measure(verb, resource, scope string, n, conc int, call func(i int) error) APIResult {
	start := time.Now()
	lat, failed, first := Sample(n, conc, call)
	r := APIResult{Verb: verb, Resource: resource, Scope: scope, Concurrency: conc,
		Summary: Summarize(lat, time.Since(start)), Errors: failed}
	if first != nil {
		r.FirstError = first.Error()
	}
	return r
}
