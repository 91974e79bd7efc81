package storagetest

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/skiff-sh/skiff/internal/storage"
)

// harness is one subtest's store and helpers.
type harness struct {
	t       *testing.T
	ctx     context.Context
	s       storage.Interface
	prefix  string // ends in "/pods/"
	compact func(rev int64)
}

// key is the etcd key of pod ns/name.
func (h *harness) key(ns, name string) string { return h.prefix + ns + "/" + name }

// nsKey is the key namespace ns's pods are listed under.
func (h *harness) nsKey(ns string) string { return h.prefix + ns }

// newPod returns a pod with labels given as alternating keys and values.
func newPod(ns, name string, labels ...string) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("uid-" + ns + "-" + name)},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox:1.36"}}},
	}
	if len(labels) > 0 {
		p.Labels = map[string]string{}
		for i := 0; i+1 < len(labels); i += 2 {
			p.Labels[labels[i]] = labels[i+1]
		}
	}
	return p
}

// create stores pod and returns the stored state.
func (h *harness) create(pod *corev1.Pod) *corev1.Pod {
	h.t.Helper()
	out := &corev1.Pod{}
	if err := h.s.Create(h.ctx, h.key(pod.Namespace, pod.Name), pod, out); err != nil {
		h.t.Fatalf("create %s/%s: %v", pod.Namespace, pod.Name, err)
	}
	return out
}

// update sets label k=v on ns/name and returns the stored state.
func (h *harness) update(ns, name, k, v string) *corev1.Pod {
	h.t.Helper()
	out := &corev1.Pod{}
	err := h.s.GuaranteedUpdate(h.ctx, h.key(ns, name), out, false, nil, func(cur runtime.Object) (runtime.Object, error) {
		p := cur.(*corev1.Pod)
		if p.Labels == nil {
			p.Labels = map[string]string{}
		}
		p.Labels[k] = v
		return p, nil
	})
	if err != nil {
		h.t.Fatalf("update %s/%s: %v", ns, name, err)
	}
	return out
}

// remove deletes ns/name and returns its last state.
func (h *harness) remove(ns, name string) *corev1.Pod {
	h.t.Helper()
	out := &corev1.Pod{}
	if err := h.s.Delete(h.ctx, h.key(ns, name), out, nil, nil); err != nil {
		h.t.Fatalf("delete %s/%s: %v", ns, name, err)
	}
	return out
}

// list lists ns (all namespaces for "") with opts made recursive.
func (h *harness) list(ns string, opts storage.ListOptions) (*corev1.PodList, error) {
	opts.Recursive = true
	list := &corev1.PodList{}
	err := h.s.List(h.ctx, h.nsKey(ns), opts, list)
	return list, err
}

// currentRevision is the store's current revision.
func (h *harness) currentRevision() int64 {
	h.t.Helper()
	rev, err := h.s.CurrentRevision(h.ctx)
	if err != nil {
		h.t.Fatalf("current revision: %v", err)
	}
	return rev
}

// rv parses an object's or a list's resourceVersion.
func rv(t *testing.T, obj interface{ GetResourceVersion() string }) int64 {
	t.Helper()
	n, err := strconv.ParseInt(obj.GetResourceVersion(), 10, 64)
	if err != nil || n <= 0 {
		t.Fatalf("%T: resourceVersion %q is not a positive revision", obj, obj.GetResourceVersion())
	}
	return n
}

// wantErr fails unless errors.Is(err, want).
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

// names lists the pods' names in order.
func names(pods []corev1.Pod) []string {
	out := make([]string, len(pods))
	for i := range pods {
		out[i] = pods[i].Name
	}
	return out
}

// watchTimeout bounds waiting for one expected event.
const watchTimeout = 10 * time.Second

// watch starts a watch on key and stops it with the test.
func (h *harness) watch(key string, opts storage.WatchOptions) watch.Interface {
	h.t.Helper()
	w, err := h.s.Watch(h.ctx, key, opts)
	if err != nil {
		h.t.Fatalf("watch %s: %v", key, err)
	}
	h.t.Cleanup(w.Stop)
	return w
}

// next returns the next event, skipping bookmarks unless wanted.
func (h *harness) next(w watch.Interface, bookmarks bool) watch.Event {
	h.t.Helper()
	timeout := time.After(watchTimeout)
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				h.t.Fatalf("watch closed, want an event")
			}
			if ev.Type == watch.Bookmark && !bookmarks {
				continue
			}
			return ev
		case <-timeout:
			h.t.Fatalf("no watch event within %v", watchTimeout)
		}
	}
}

// expect reads the next non-bookmark event and checks its type, name and
// (if rev > 0) resourceVersion.
func (h *harness) expect(w watch.Interface, typ watch.EventType, name string, rev int64) *corev1.Pod {
	h.t.Helper()
	ev := h.next(w, false)
	pod, ok := ev.Object.(*corev1.Pod)
	if ev.Type != typ || !ok || pod.Name != name {
		h.t.Fatalf("got %s %T %v, want %s of pod %s", ev.Type, ev.Object, describe(ev.Object), typ, name)
	}
	if rev > 0 && rv(h.t, pod) != rev {
		h.t.Fatalf("%s %s: resourceVersion %s, want %d", typ, name, pod.ResourceVersion, rev)
	}
	return pod
}

// expectNone fails if a non-bookmark event arrives within d.
func (h *harness) expectNone(w watch.Interface, d time.Duration) {
	h.t.Helper()
	timeout := time.After(d)
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				h.t.Fatalf("watch closed, want it open")
			}
			if ev.Type != watch.Bookmark {
				h.t.Fatalf("unexpected %s event: %v", ev.Type, describe(ev.Object))
			}
		case <-timeout:
			return
		}
	}
}

// describe names an event's object for failure messages.
func describe(obj runtime.Object) string {
	if m, ok := obj.(metav1.Object); ok {
		return m.GetNamespace() + "/" + m.GetName() + "@" + m.GetResourceVersion()
	}
	if s, ok := obj.(*metav1.Status); ok {
		return s.Message
	}
	return ""
}
