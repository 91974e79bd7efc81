package app_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-sh/skiff/internal/app"
	"github.com/skiff-sh/skiff/test/framework"
)

// TestSharedInformersTerms checks the informer cache the in-process
// scheduler and controller manager share: each leader term's handlers see
// the whole cache once the term has synced, the terms share one informer,
// and a term's handlers stop when the term ends while the cache runs on.
func TestSharedInformersTerms(t *testing.T) {
	t.Run("http", func(t *testing.T) {
		testSharedInformersTerms(t, func(ctx context.Context, cs kubernetes.Interface, _ *framework.Server) app.SharedInformers {
			return app.NewSharedInformers(ctx, cs)
		})
	})
	t.Run("local", func(t *testing.T) {
		testSharedInformersTerms(t, func(ctx context.Context, cs kubernetes.Interface, srv *framework.Server) app.SharedInformers {
			return app.NewLocalSharedInformers(ctx, cs, srv.App)
		})
	})
}

func testSharedInformersTerms(t *testing.T, newShared func(context.Context, kubernetes.Interface, *framework.Server) app.SharedInformers) {
	srv, cs, ctx := startWithPods(t, 3)

	procCtx, stop := context.WithCancel(context.Background())
	shared := newShared(procCtx, cs, srv)
	defer func() {
		stop()
		done := make(chan struct{})
		go func() { shared.Shutdown(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("the shared informers did not stop within 10s of the process ending")
		}
	}()

	// A term's handler has every pod once the term's informer has synced.
	term := func(name string, adds *atomic.Int64) (cache.SharedIndexInformer, func()) {
		f := shared.ForTerm()
		inf := f.Core().V1().Pods().Informer()
		if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: func(any) { adds.Add(1) }}); err != nil {
			t.Fatal(err)
		}
		f.Start(ctx.Done())
		if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
			t.Fatalf("%s: pod informer not synced", name)
		}
		if n := adds.Load(); n != 3 {
			t.Fatalf("%s synced with its handler given %d pods, want 3", name, n)
		}
		return inf, f.Shutdown
	}
	var adds1, adds2 atomic.Int64
	inf1, end1 := term("term 1", &adds1)
	// The second term joins the running informer: it is given the pods
	// the informer already holds.
	inf2, end2 := term("term 2", &adds2)
	if inf1.GetIndexer() != inf2.GetIndexer() {
		t.Fatal("the terms have informers of their own, want one shared cache")
	}

	end1()
	createPod(ctx, t, cs, "p3")
	waitFor(t, "term 2 to see p3", func() bool { return adds2.Load() == 4 })
	time.Sleep(300 * time.Millisecond)
	if n := adds1.Load(); n != 3 {
		t.Fatalf("term 1's handler ran %d times after its term ended, want none (3 adds before)", n-3)
	}
	// A handler a finished term adds is removed at once.
	var late atomic.Int64
	if _, err := inf1.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: func(obj any) {
		if obj.(*corev1.Pod).Name == "p4" {
			late.Add(1)
		}
	}}); err != nil {
		t.Fatal(err)
	}

	// With every term over, the cache keeps following the API.
	end2()
	createPod(ctx, t, cs, "p4")
	waitFor(t, "the shared cache to hold p4", func() bool {
		_, ok, _ := inf2.GetIndexer().GetByKey("shared/p4")
		return ok
	})
	time.Sleep(300 * time.Millisecond)
	if adds2.Load() != 4 || late.Load() != 0 {
		t.Fatalf("handlers ran after their terms ended: term 2 saw %d adds (want 4), a late handler saw p4 %d times",
			adds2.Load(), late.Load())
	}
}

// startWithPods starts a server whose namespace "shared" holds pods p0 to
// p<n-1>, and returns it, an admin client and a context for the test.
func startWithPods(t *testing.T, n int) (*framework.Server, kubernetes.Interface, context.Context) {
	t.Helper()
	srv := framework.StartServer(t, framework.Options{})
	cs := srv.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shared"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		createPod(ctx, t, cs, fmt.Sprintf("p%d", i))
	}
	return srv, cs, ctx
}

func createPod(ctx context.Context, t *testing.T, cs kubernetes.Interface, name string) {
	t.Helper()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shared"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	if _, err := cs.CoreV1().Pods("shared").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// relabelP0 sets pod p0's labels to changed=yes and returns it updated.
func relabelP0(ctx context.Context, t *testing.T, cs kubernetes.Interface) *corev1.Pod {
	t.Helper()
	p, err := cs.CoreV1().Pods("shared").Get(ctx, "p0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Labels = map[string]string{"changed": "yes"}
	if p, err = cs.CoreV1().Pods("shared").Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	return p
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSharedInformersLocal checks the informers a server's components
// share when they read its API server directly: the informer holds the
// watch cache's own object, the one every watcher is given (not a decoded
// copy), managedFields included; and the local reads check their options
// and end as a request's would.
func TestSharedInformersLocal(t *testing.T) {
	srv, cs, ctx := startWithPods(t, 1)

	procCtx, stop := context.WithCancel(context.Background())
	shared := app.NewLocalSharedInformers(procCtx, cs, srv.App)
	defer func() { stop(); shared.Shutdown() }()
	f := shared.ForTerm()
	inf := f.Core().V1().Pods().Informer()
	f.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		t.Fatal("pod informer not synced")
	}
	if _, ok, _ := inf.GetIndexer().GetByKey("shared/p0"); !ok {
		t.Fatal("the synced informer has no p0")
	}

	pods := corev1.SchemeGroupVersion.WithResource("pods")
	list, err := app.LocalList(ctx, srv.App, pods, "shared", metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(list.(*corev1.PodList).Items); n != 1 {
		t.Fatalf("local list of namespace shared: %d pods, want 1", n)
	}
	w, err := app.LocalWatch(ctx, srv.App, pods, "shared", metav1.ListOptions{ResourceVersion: list.(*corev1.PodList).ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	p := relabelP0(ctx, t, cs)
	var watched *corev1.Pod
	select {
	case ev := <-w.ResultChan():
		if ev.Type != "MODIFIED" {
			t.Fatalf("local watch: %s %T, want MODIFIED", ev.Type, ev.Object)
		}
		watched = ev.Object.(*corev1.Pod)
	case <-ctx.Done():
		t.Fatal("local watch: no event")
	}
	var held *corev1.Pod
	waitFor(t, "the informer to hold the update", func() bool {
		obj, ok, _ := inf.GetIndexer().GetByKey("shared/p0")
		if ok && obj.(*corev1.Pod).ResourceVersion == p.ResourceVersion {
			held = obj.(*corev1.Pod)
			return true
		}
		return false
	})
	if held != watched {
		t.Fatal("the informer holds a copy of the pod, want the watch cache's object that every watcher is given")
	}
	if len(held.ManagedFields) == 0 {
		t.Fatal("the shared pod lost its managedFields: an informer transform changed the cache's object")
	}
	w.Stop()
	select {
	case _, ok := <-w.ResultChan():
		if ok {
			t.Fatal("an event after Stop")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the local watch did not end within 5s of Stop")
	}

	// Bad options and unknown resources are the API errors a request gets.
	if _, err := app.LocalList(ctx, srv.App, pods, "", metav1.ListOptions{FieldSelector: "spec.bogus=x"}); !apierrors.IsBadRequest(err) {
		t.Fatalf("list with an unsupported field selector: %v, want BadRequest", err)
	}
	if _, err := app.LocalWatch(ctx, srv.App, pods, "", metav1.ListOptions{ResourceVersionMatch: "Exact"}); !apierrors.IsInvalid(err) && !apierrors.IsBadRequest(err) {
		t.Fatalf("watch with resourceVersionMatch and no resourceVersion: %v, want Invalid", err)
	}
	if _, err := app.LocalList(ctx, srv.App, corev1.SchemeGroupVersion.WithResource("bogus"), "", metav1.ListOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("list of an unserved resource: %v, want NotFound", err)
	}
}

// TestMetadataListerWatcher checks what a server's garbage collector
// reads: the API server's pods as PartialObjectMetadata without
// managedFields, in lists and watches; a resource the server does not serve reads
// over HTTP instead; and Stop ends the watch even when nobody reads it.
func TestMetadataListerWatcher(t *testing.T) {
	srv, cs, ctx := startWithPods(t, 2)
	pods := corev1.SchemeGroupVersion.WithResource("pods")
	if lw := app.MetadataListerWatcher(srv.App, corev1.SchemeGroupVersion.WithResource("bogus")); lw != nil {
		t.Fatal("a lister-watcher for an unserved resource, want nil (read over HTTP)")
	}
	lw := app.MetadataListerWatcher(srv.App, pods)
	if lw == nil {
		t.Fatal("no local lister-watcher for pods")
	}
	obj, err := lw.List(metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	list, ok := obj.(*metav1.PartialObjectMetadataList)
	if !ok {
		t.Fatalf("list is %T, want *PartialObjectMetadataList", obj)
	}
	if len(list.Items) != 2 || list.ResourceVersion == "" {
		t.Fatalf("list: %d items at resourceVersion %q, want 2 at a revision", len(list.Items), list.ResourceVersion)
	}
	for _, it := range list.Items {
		if it.Namespace != "shared" || it.UID == "" || it.ManagedFields != nil || it.Kind != "PartialObjectMetadata" {
			t.Fatalf("list item %+v: want the pod's metadata, no managedFields, kind PartialObjectMetadata", it.ObjectMeta)
		}
	}

	w, err := lw.Watch(metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	relabelP0(ctx, t, cs)
	select {
	case ev := <-w.ResultChan():
		m, ok := ev.Object.(*metav1.PartialObjectMetadata)
		if ev.Type != watch.Modified || !ok || m.Name != "p0" || m.Labels["changed"] != "yes" || m.ManagedFields != nil {
			t.Fatalf("watch event %s %T %+v, want MODIFIED p0's metadata with its new labels and no managedFields", ev.Type, ev.Object, ev.Object)
		}
	case <-ctx.Done():
		t.Fatal("no watch event")
	}
	// Another change nobody reads: Stop must still end the watch.
	if err := cs.CoreV1().Pods("shared").Delete(ctx, "p1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	w.Stop()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-w.ResultChan():
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("the watch did not end within 5s of Stop")
		}
	}
}
