package integration

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestListPaginationAndSelectors(t *testing.T) {
	_, cs := start(t)
	ctx := ctxFor(t)
	createNamespace(t, cs, "other")
	for i := 0; i < 25; i++ {
		p := testPod(fmt.Sprintf("p%02d", i))
		if i%2 == 0 {
			p.Labels["parity"] = "even"
		}
		if _, err := cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	cs.CoreV1().Pods("other").Create(ctx, testPod("elsewhere"), metav1.CreateOptions{})

	// Pages of 10 are one consistent snapshot: a pod added between pages
	// is not seen.
	var names []string
	opts := metav1.ListOptions{Limit: 10}
	page := 0
	for {
		list, err := cs.CoreV1().Pods("default").List(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		if list.ResourceVersion == "" {
			t.Fatal("list without resourceVersion")
		}
		for _, p := range list.Items {
			names = append(names, p.Name)
		}
		if page == 0 {
			cs.CoreV1().Pods("default").Create(ctx, testPod("late"), metav1.CreateOptions{})
		}
		page++
		if list.Continue == "" {
			break
		}
		opts.Continue = list.Continue
	}
	if len(names) != 25 || page != 3 {
		t.Fatalf("paged list got %d names in %d pages", len(names), page)
	}
	// Label selectors, with a limit smaller than the matches.
	even, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "parity=even", Limit: 5})
	if err != nil || len(even.Items) != 5 || even.Continue == "" {
		t.Fatalf("label selector page: %v %d %q", err, len(even.Items), even.Continue)
	}
	all, _ := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "parity in (even),app=web"})
	if len(all.Items) != 13 {
		t.Fatalf("set selector: %d, want 13", len(all.Items))
	}
	notEven, _ := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "!parity"})
	if len(notEven.Items) != 13 { // 12 odd + late
		t.Fatalf("!parity: %d, want 13", len(notEven.Items))
	}
	// Field selectors.
	one, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=elsewhere"})
	if err != nil || len(one.Items) != 1 || one.Items[0].Namespace != "other" {
		t.Fatalf("name selector across namespaces: %v %+v", err, one.Items)
	}
	pending, _ := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{FieldSelector: "status.phase!=Succeeded,status.phase!=Failed"})
	if len(pending.Items) != 26 {
		t.Fatalf("phase selector: %d", len(pending.Items))
	}
	_, err = cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{FieldSelector: "spec.bogus=1"})
	if !apierrors.IsBadRequest(err) {
		t.Fatalf("unsupported field: %v", err)
	}
	// All namespaces.
	everything, _ := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if len(everything.Items) != 27 {
		t.Fatalf("all namespaces: %d", len(everything.Items))
	}
	// resourceVersion=0 and Exact reads.
	if _, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{ResourceVersion: "0", Limit: 500}); err != nil {
		t.Fatal(err)
	}
	exact, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{ResourceVersion: everything.ResourceVersion, ResourceVersionMatch: metav1.ResourceVersionMatchExact})
	if err != nil || len(exact.Items) != 26 {
		t.Fatalf("exact list: %v", err)
	}
	// Events by involvedObject fields, as kubectl describe asks.
	ev := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "e1"}, InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "p00", Namespace: "default", UID: "u1"},
		Reason: "Test", Message: "hello", Type: "Normal", Source: corev1.EventSource{Component: "test"}}
	if _, err := cs.CoreV1().Events("default").Create(ctx, ev, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	evs, err := cs.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=p00,involvedObject.namespace=default,involvedObject.uid=u1"})
	if err != nil || len(evs.Items) != 1 {
		t.Fatalf("event field selector: %v %d", err, len(evs.Items))
	}
}
