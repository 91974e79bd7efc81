package storagetest

import (
	"errors"
	"strconv"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiff-sh/skiff/internal/storage"
)

func testCreateGet(h *harness) {
	t := h.t
	created := h.create(newPod("ns", "a", "app", "web"))
	rev := rv(t, created)
	if created.Labels["app"] != "web" || created.Spec.Containers[0].Image != "busybox:1.36" {
		t.Fatalf("created object lost fields: %+v", created)
	}

	got := &corev1.Pod{}
	if err := h.s.Get(h.ctx, h.key("ns", "a"), storage.GetOptions{}, got); err != nil {
		t.Fatalf("get: %v", err)
	}
	if rv(t, got) != rev || got.UID != created.UID || got.Labels["app"] != "web" {
		t.Fatalf("get returned %s@%s, want the created object @%d", got.Name, got.ResourceVersion, rev)
	}

	err := h.s.Create(h.ctx, h.key("ns", "a"), newPod("ns", "a"), &corev1.Pod{})
	wantErr(t, "second create", err, storage.ErrAlreadyExists)

	err = h.s.Get(h.ctx, h.key("ns", "missing"), storage.GetOptions{}, &corev1.Pod{})
	wantErr(t, "get missing", err, storage.ErrNotFound)

	withRV := newPod("ns", "b")
	withRV.ResourceVersion = "5"
	if err := h.s.Create(h.ctx, h.key("ns", "b"), withRV, &corev1.Pod{}); err == nil {
		t.Fatalf("create with a resourceVersion succeeded")
	}
}

func testGetResourceVersion(h *harness) {
	t := h.t
	rev := rv(t, h.create(newPod("ns", "a")))
	for _, v := range []string{"", "0", strconv.FormatInt(rev, 10)} {
		got := &corev1.Pod{}
		if err := h.s.Get(h.ctx, h.key("ns", "a"), storage.GetOptions{ResourceVersion: v}, got); err != nil {
			t.Fatalf("get at %q: %v", v, err)
		}
		if rv(t, got) != rev {
			t.Fatalf("get at %q: resourceVersion %s, want %d", v, got.ResourceVersion, rev)
		}
	}
	future := strconv.FormatInt(h.currentRevision()+1000, 10)
	err := h.s.Get(h.ctx, h.key("ns", "a"), storage.GetOptions{ResourceVersion: future}, &corev1.Pod{})
	wantErr(t, "get at a future revision", err, storage.ErrTooLargeResourceVersion)
	err = h.s.Get(h.ctx, h.key("ns", "a"), storage.GetOptions{ResourceVersion: "x1"}, &corev1.Pod{})
	wantErr(t, "get at a malformed revision", err, storage.ErrInvalidResourceVersion)
}

func testUpdatePreconditions(h *harness) {
	t := h.t
	created := h.create(newPod("ns", "a"))
	h.update("ns", "a", "v", "1")
	noop := func(cur runtime.Object) (runtime.Object, error) { return cur, nil }

	stale := created.ResourceVersion
	err := h.s.GuaranteedUpdate(h.ctx, h.key("ns", "a"), &corev1.Pod{}, false,
		&storage.Preconditions{ResourceVersion: &stale}, noop)
	wantErr(t, "update with a stale resourceVersion", err, storage.ErrConflict)

	otherUID := types.UID("someone-else")
	err = h.s.GuaranteedUpdate(h.ctx, h.key("ns", "a"), &corev1.Pod{}, false,
		&storage.Preconditions{UID: &otherUID}, noop)
	wantErr(t, "update with another UID", err, storage.ErrConflict)

	cur := &corev1.Pod{}
	if err := h.s.Get(h.ctx, h.key("ns", "a"), storage.GetOptions{}, cur); err != nil {
		t.Fatal(err)
	}
	out := &corev1.Pod{}
	err = h.s.GuaranteedUpdate(h.ctx, h.key("ns", "a"), out, false,
		&storage.Preconditions{UID: &cur.UID, ResourceVersion: &cur.ResourceVersion},
		func(obj runtime.Object) (runtime.Object, error) {
			obj.(*corev1.Pod).Labels["v"] = "2"
			return obj, nil
		})
	if err != nil {
		t.Fatalf("update with matching preconditions: %v", err)
	}
	if rv(t, out) <= rv(t, cur) || out.Labels["v"] != "2" {
		t.Fatalf("update returned %s with labels %v", out.ResourceVersion, out.Labels)
	}
}

// testUpdateConcurrent has writers race to increment a counter: every
// increment must survive, by retrying tryUpdate on conflicts.
func testUpdateConcurrent(h *harness) {
	t := h.t
	h.create(newPod("ns", "counter", "n", "0"))
	const writers, increments = 6, 5
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for range writers {
		wg.Go(func() {
			for range increments {
				err := h.s.GuaranteedUpdate(h.ctx, h.key("ns", "counter"), &corev1.Pod{}, false, nil,
					func(cur runtime.Object) (runtime.Object, error) {
						p := cur.(*corev1.Pod)
						n, err := strconv.Atoi(p.Labels["n"])
						if err != nil {
							return nil, err
						}
						p.Labels["n"] = strconv.Itoa(n + 1)
						return p, nil
					})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent update: %v", err)
	}
	got := &corev1.Pod{}
	if err := h.s.Get(h.ctx, h.key("ns", "counter"), storage.GetOptions{}, got); err != nil {
		t.Fatal(err)
	}
	if want := strconv.Itoa(writers * increments); got.Labels["n"] != want {
		t.Fatalf("counter = %s, want %s: updates were lost", got.Labels["n"], want)
	}
}

func testUpdateNoop(h *harness) {
	t := h.t
	created := h.create(newPod("ns", "a", "app", "web"))
	out := &corev1.Pod{}
	err := h.s.GuaranteedUpdate(h.ctx, h.key("ns", "a"), out, false, nil,
		func(cur runtime.Object) (runtime.Object, error) {
			cur.(*corev1.Pod).Labels["app"] = "web" // the same value
			return cur, nil
		})
	if err != nil {
		t.Fatalf("no-op update: %v", err)
	}
	if out.ResourceVersion != created.ResourceVersion || out.Labels["app"] != "web" {
		t.Fatalf("no-op update returned %s, want the stored %s", out.ResourceVersion, created.ResourceVersion)
	}
	got := &corev1.Pod{}
	if err := h.s.Get(h.ctx, h.key("ns", "a"), storage.GetOptions{}, got); err != nil {
		t.Fatal(err)
	}
	if got.ResourceVersion != created.ResourceVersion {
		t.Fatalf("no-op update wrote: resourceVersion %s -> %s", created.ResourceVersion, got.ResourceVersion)
	}
}

func testUpdateIgnoreNotFound(h *harness) {
	t := h.t
	create := func(cur runtime.Object) (runtime.Object, error) {
		if cur.(*corev1.Pod).Name != "" {
			return nil, errors.New("tryUpdate got a non-empty object for a missing key")
		}
		return newPod("ns", "a"), nil
	}
	err := h.s.GuaranteedUpdate(h.ctx, h.key("ns", "a"), &corev1.Pod{}, false, nil, create)
	wantErr(t, "update of a missing key", err, storage.ErrNotFound)

	out := &corev1.Pod{}
	if err := h.s.GuaranteedUpdate(h.ctx, h.key("ns", "a"), out, true, nil, create); err != nil {
		t.Fatalf("update with ignoreNotFound: %v", err)
	}
	if out.Name != "a" || rv(t, out) == 0 {
		t.Fatalf("ignoreNotFound created %+v", out.ObjectMeta)
	}
	got := &corev1.Pod{}
	if err := h.s.Get(h.ctx, h.key("ns", "a"), storage.GetOptions{}, got); err != nil || got.ResourceVersion != out.ResourceVersion {
		t.Fatalf("get after ignoreNotFound create: %v %s", err, got.ResourceVersion)
	}
}

type refusal struct{}

func (refusal) Error() string { return "refused" }

func testUpdateErrorPassThrough(h *harness) {
	h.create(newPod("ns", "a"))
	want := refusal{}
	err := h.s.GuaranteedUpdate(h.ctx, h.key("ns", "a"), &corev1.Pod{}, false, nil,
		func(runtime.Object) (runtime.Object, error) { return nil, want })
	if err != want {
		h.t.Fatalf("got %v (%T), want tryUpdate's error unwrapped", err, err)
	}
}

func testDelete(h *harness) {
	t := h.t
	created := h.create(newPod("ns", "a"))
	updated := h.update("ns", "a", "v", "1")

	stale := created.ResourceVersion
	err := h.s.Delete(h.ctx, h.key("ns", "a"), &corev1.Pod{}, &storage.Preconditions{ResourceVersion: &stale}, nil)
	wantErr(t, "delete with a stale resourceVersion", err, storage.ErrConflict)

	otherUID := types.UID("someone-else")
	err = h.s.Delete(h.ctx, h.key("ns", "a"), &corev1.Pod{}, &storage.Preconditions{UID: &otherUID}, nil)
	wantErr(t, "delete with another UID", err, storage.ErrConflict)

	want := refusal{}
	err = h.s.Delete(h.ctx, h.key("ns", "a"), &corev1.Pod{}, nil, func(runtime.Object) error { return want })
	if err != want {
		t.Fatalf("delete with a refusing validate: got %v, want its error", err)
	}

	out := &corev1.Pod{}
	err = h.s.Delete(h.ctx, h.key("ns", "a"), out, &storage.Preconditions{UID: &created.UID, ResourceVersion: &updated.ResourceVersion},
		func(cur runtime.Object) error {
			if cur.(*corev1.Pod).Labels["v"] != "1" {
				return errors.New("validate saw an old state")
			}
			return nil
		})
	if err != nil {
		t.Fatalf("delete: %v", err)
	}
	if out.Labels["v"] != "1" || rv(t, out) <= rv(t, updated) {
		t.Fatalf("delete returned %s with labels %v, want the last state at the deletion revision", out.ResourceVersion, out.Labels)
	}
	if got := h.currentRevision(); got < rv(t, out) {
		t.Fatalf("deletion revision %s is past the current revision %d", out.ResourceVersion, got)
	}
	err = h.s.Get(h.ctx, h.key("ns", "a"), storage.GetOptions{}, &corev1.Pod{})
	wantErr(t, "get after delete", err, storage.ErrNotFound)
	err = h.s.Delete(h.ctx, h.key("ns", "a"), &corev1.Pod{}, nil, nil)
	wantErr(t, "second delete", err, storage.ErrNotFound)
}
