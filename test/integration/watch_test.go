package integration

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	clientfeatures "k8s.io/client-go/features"
	clientfeaturestesting "k8s.io/client-go/features/testing"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-sh/skiff/internal/storage"
	"github.com/skiff-sh/skiff/test/framework"
)

// runInformer syncs a pod informer and reports every name it holds.
func runInformer(t *testing.T, s *framework.Server) cache.SharedIndexInformer {
	t.Helper()
	cs := s.Client(t)
	factory := informers.NewSharedInformerFactory(cs, 0)
	inf := factory.Core().V1().Pods().Informer()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	factory.Start(ctx.Done())
	syncCtx, done := context.WithTimeout(ctx, 20*time.Second)
	defer done()
	if !cache.WaitForCacheSync(syncCtx.Done(), inf.HasSynced) {
		t.Fatalf("informer did not sync")
	}
	return inf
}

func testInformer(t *testing.T) {
	s, cs := start(t)
	ctx := ctxFor(t)
	for i := 0; i < 5; i++ {
		if _, err := cs.CoreV1().Pods("default").Create(ctx, testPod(fmt.Sprintf("pre-%d", i)), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	inf := runInformer(t, s)
	if n := len(inf.GetStore().List()); n != 5 {
		t.Fatalf("informer has %d pods after sync, want 5", n)
	}
	if _, err := cs.CoreV1().Pods("default").Create(ctx, testPod("post"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cs.CoreV1().Pods("default").Delete(ctx, "pre-0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "informer to see create and delete", func() bool {
		_, hasPost, _ := inf.GetStore().GetByKey("default/post")
		_, hasPre0, _ := inf.GetStore().GetByKey("default/pre-0")
		return hasPost && !hasPre0
	})
}

func TestInformerSyncsByWatchList(t *testing.T) {
	clientfeaturestesting.SetFeatureDuringTest(t, clientfeatures.WatchListClient, true)
	testInformer(t)
}

func TestInformerSyncsByListAndWatch(t *testing.T) {
	clientfeaturestesting.SetFeatureDuringTest(t, clientfeatures.WatchListClient, false)
	testInformer(t)
}

func TestWatchResumesAfterServerRestart(t *testing.T) {
	s1 := framework.StartServer(t, framework.Options{})
	cs := s1.Client(t)
	ctx := ctxFor(t)
	cm, err := cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rv := cm.ResourceVersion
	s1.Stop()
	s2 := framework.StartServer(t, framework.Options{DataDir: s1.DataDir, EtcdServers: s1.EtcdServers, EtcdPrefix: s1.EtcdPrefix})
	cs2 := s2.Client(t)
	// State survived the restart.
	if _, err := cs2.CoreV1().ConfigMaps("default").Get(ctx, "a", metav1.GetOptions{}); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	w, err := cs2.CoreV1().ConfigMaps("default").Watch(ctx, metav1.ListOptions{ResourceVersion: rv})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if _, err := cs2.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "b"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-w.ResultChan():
		got := ev.Object.(*corev1.ConfigMap)
		if ev.Type != watch.Added || got.Name != "b" {
			t.Fatalf("first event after resume = %s %s, want ADDED b", ev.Type, got.Name)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no event after resume")
	}
}

func TestWatchExpiredAfterCompaction(t *testing.T) {
	s, cs := start(t)
	ctx := ctxFor(t)
	cms := cs.CoreV1().ConfigMaps("default")
	first, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c0"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var last *corev1.ConfigMap
	for i := 1; i < 5; i++ {
		last, _ = cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("c%d", i)}}, metav1.CreateOptions{})
	}
	rev, _ := strconv.ParseInt(last.ResourceVersion, 10, 64)
	client := etcdClient(t, s)
	if err := storage.Compact(ctx, client, rev); err != nil {
		t.Fatal(err)
	}
	w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: first.ResourceVersion})
	if err != nil {
		if !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
			t.Fatalf("watch from compacted rv: %v", err)
		}
		return
	}
	defer w.Stop()
	select {
	case ev := <-w.ResultChan():
		if ev.Type != watch.Error {
			t.Fatalf("event %s, want ERROR", ev.Type)
		}
		st := ev.Object.(*metav1.Status)
		if st.Code != 410 || st.Reason != metav1.StatusReasonExpired {
			t.Fatalf("status %+v, want 410 Expired", st)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no error event")
	}
	// A list at the compacted revision (Exact) is 410 too.
	_, err = cms.List(ctx, metav1.ListOptions{ResourceVersion: first.ResourceVersion, ResourceVersionMatch: metav1.ResourceVersionMatchExact})
	if !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
		t.Fatalf("exact list at compacted rv: %v", err)
	}
}

func TestWatchSendInitialEventsBookmark(t *testing.T) {
	s, cs := start(t)
	ctx := ctxFor(t)
	for i := 0; i < 3; i++ {
		cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("i%d", i)}}, metav1.CreateOptions{})
	}
	raw := newRaw(t, s)
	// Without resourceVersionMatch the request is invalid, never ignored.
	code, body, _ := raw.do("GET", "/api/v1/namespaces/default/configmaps?watch=true&sendInitialEvents=true&allowWatchBookmarks=true&timeoutSeconds=1", "", nil)
	expectStatus(t, code, body, 422, metav1.StatusReasonInvalid)

	w, err := cs.CoreV1().ConfigMaps("default").Watch(ctx, metav1.ListOptions{
		SendInitialEvents: ptrBool(true), ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan, AllowWatchBookmarks: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	added := 0
	for {
		select {
		case ev := <-w.ResultChan():
			switch ev.Type {
			case watch.Added:
				added++
			case watch.Bookmark:
				cm := ev.Object.(*corev1.ConfigMap)
				if cm.Annotations[metav1.InitialEventsAnnotationKey] != "true" {
					t.Fatalf("bookmark without initial-events-end: %+v", cm.ObjectMeta)
				}
				if added < 3 || cm.ResourceVersion == "" {
					t.Fatalf("bookmark after %d adds with rv %q", added, cm.ResourceVersion)
				}
				return
			default:
				t.Fatalf("unexpected %s", ev.Type)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no initial-events-end bookmark (added %d)", added)
		}
	}
}

func ptrBool(b bool) *bool { return &b }
