package storagetest

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiff-sh/skiff/internal/storage"
)

// appIs selects pods labelled app=value.
func appIs(value string) storage.Predicate {
	return func(obj runtime.Object) (bool, error) {
		return obj.(*corev1.Pod).Labels["app"] == value, nil
	}
}

func testListPredicate(h *harness) {
	t := h.t
	h.create(newPod("a", "a1", "app", "web"))
	h.create(newPod("a", "a2", "app", "db"))
	h.create(newPod("a", "a3", "app", "web"))
	h.create(newPod("ab", "x", "app", "web")) // shares "a" as a key prefix
	last := rv(t, h.create(newPod("b", "b1", "app", "web")))

	list, err := h.list("a", storage.ListOptions{Predicate: appIs("web")})
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if got := names(list.Items); !slices.Equal(got, []string{"a1", "a3"}) {
		t.Fatalf("list a with app=web: %v", got)
	}
	if rv(t, list) < last {
		t.Fatalf("list resourceVersion %s is older than the last write %d", list.ResourceVersion, last)
	}
	if list.Continue != "" || list.RemainingItemCount != nil {
		t.Fatalf("unpaged list has continue %q remaining %v", list.Continue, list.RemainingItemCount)
	}
	for _, p := range list.Items {
		if rv(t, &p) == 0 {
			t.Fatalf("item %s without resourceVersion", p.Name)
		}
	}

	all, err := h.list("", storage.ListOptions{})
	if err != nil || len(all.Items) != 5 {
		t.Fatalf("list all: %v %v", names(all.Items), err)
	}
}

func testListSingleKey(h *harness) {
	t := h.t
	h.create(newPod("a", "a1", "app", "web"))
	h.create(newPod("a", "a10", "app", "web"))
	for _, tc := range []struct {
		key  string
		pred storage.Predicate
		want []string
	}{
		{h.key("a", "a1"), nil, []string{"a1"}},
		{h.key("a", "a1"), appIs("db"), nil},
		{h.key("a", "missing"), nil, nil},
	} {
		list := &corev1.PodList{}
		if err := h.s.List(h.ctx, tc.key, storage.ListOptions{Predicate: tc.pred}, list); err != nil {
			t.Fatalf("list %s: %v", tc.key, err)
		}
		if got := names(list.Items); !slices.Equal(got, tc.want) {
			t.Fatalf("list %s: %v, want %v", tc.key, got, tc.want)
		}
		rv(t, list)
	}
}

// testListPaging reads a paged list while the data changes: every page
// must come from the first page's snapshot.
func testListPaging(h *harness) {
	t := h.t
	for i := range 10 {
		h.create(newPod("a", fmt.Sprintf("p%02d", i)))
	}
	first, err := h.list("a", storage.ListOptions{Limit: 3})
	if err != nil {
		t.Fatalf("first page: %v", err)
	}
	snapshot := first.ResourceVersion
	// Changes after the first page must not show in later pages.
	h.create(newPod("a", "p10"))
	h.remove("a", "p05")
	h.update("a", "p07", "changed", "yes")

	var got []string
	var remaining []int64
	page := first
	for {
		got = append(got, names(page.Items)...)
		if page.ResourceVersion != snapshot {
			t.Fatalf("page at %s, want the snapshot %s", page.ResourceVersion, snapshot)
		}
		for _, p := range page.Items {
			if p.Labels["changed"] != "" {
				t.Fatalf("page shows %s changed after the snapshot", p.Name)
			}
		}
		if page.Continue == "" {
			if page.RemainingItemCount != nil {
				t.Fatalf("last page has remainingItemCount %d", *page.RemainingItemCount)
			}
			break
		}
		if page.RemainingItemCount == nil {
			t.Fatalf("page before %v has no remainingItemCount", got)
		}
		remaining = append(remaining, *page.RemainingItemCount)
		if len(page.Items) != 3 {
			t.Fatalf("page of %d items with limit 3", len(page.Items))
		}
		if page, err = h.list("a", storage.ListOptions{Limit: 3, Continue: page.Continue}); err != nil {
			t.Fatalf("next page: %v", err)
		}
	}
	want := []string{"p00", "p01", "p02", "p03", "p04", "p05", "p06", "p07", "p08", "p09"}
	if !slices.Equal(got, want) {
		t.Fatalf("paged list %v, want %v", got, want)
	}
	if !slices.Equal(remaining, []int64{7, 4, 1}) {
		t.Fatalf("remainingItemCounts %v, want [7 4 1]", remaining)
	}
}

// testListPagingPredicate pages through a selective predicate: pages fill
// up to the limit from further etcd reads, without an item count.
func testListPagingPredicate(h *harness) {
	t := h.t
	for i := range 9 {
		app := "db"
		if i%3 == 0 {
			app = "web"
		}
		h.create(newPod("a", fmt.Sprintf("p%d", i), "app", app))
	}
	page, err := h.list("a", storage.ListOptions{Limit: 2, Predicate: appIs("web")})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(page.Items); !slices.Equal(got, []string{"p0", "p3"}) || page.Continue == "" || page.RemainingItemCount != nil {
		t.Fatalf("first page %v continue %q remaining %v", got, page.Continue, page.RemainingItemCount)
	}
	page, err = h.list("a", storage.ListOptions{Limit: 2, Predicate: appIs("web"), Continue: page.Continue})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(page.Items); !slices.Equal(got, []string{"p6"}) || page.Continue != "" {
		t.Fatalf("second page %v continue %q", got, page.Continue)
	}
}

func testListResourceVersion(h *harness) {
	t := h.t
	h.create(newPod("a", "a"))
	revB := rv(t, h.create(newPod("a", "b")))
	revC := rv(t, h.create(newPod("a", "c")))
	at := func(v int64) string { return strconv.FormatInt(v, 10) }

	exact, err := h.list("a", storage.ListOptions{ResourceVersion: at(revB), ResourceVersionMatch: "Exact"})
	if err != nil {
		t.Fatalf("exact list: %v", err)
	}
	if got := names(exact.Items); !slices.Equal(got, []string{"a", "b"}) || rv(t, exact) != revB {
		t.Fatalf("list at exactly %d: %v at %s", revB, got, exact.ResourceVersion)
	}
	for _, opts := range []storage.ListOptions{
		{ResourceVersion: at(revB)},
		{ResourceVersion: at(revB), ResourceVersionMatch: "NotOlderThan"},
		{ResourceVersion: "0"},
		{ResourceVersion: ""},
	} {
		list, err := h.list("a", opts)
		if err != nil {
			t.Fatalf("list %+v: %v", opts, err)
		}
		if len(list.Items) != 3 || rv(t, list) < revC {
			t.Fatalf("list %+v: %v at %s, want all three at >= %d", opts, names(list.Items), list.ResourceVersion, revC)
		}
	}
	future := at(h.currentRevision() + 1000)
	_, err = h.list("a", storage.ListOptions{ResourceVersion: future})
	wantErr(t, "list not older than a future revision", err, storage.ErrTooLargeResourceVersion)
}

func testListExpired(h *harness) {
	t := h.t
	for i := range 4 {
		h.create(newPod("a", fmt.Sprintf("p%d", i)))
	}
	first, err := h.list("a", storage.ListOptions{Limit: 2})
	if err != nil || first.Continue == "" {
		t.Fatalf("first page: continue %q, %v", first.Continue, err)
	}
	h.update("a", "p0", "v", "1")
	h.update("a", "p3", "v", "1")
	h.compact(h.currentRevision())

	_, err = h.list("a", storage.ListOptions{Limit: 2, Continue: first.Continue})
	wantErr(t, "continue after compaction", err, storage.ErrExpired)
	_, err = h.list("a", storage.ListOptions{ResourceVersion: first.ResourceVersion, ResourceVersionMatch: "Exact"})
	wantErr(t, "exact list at a compacted revision", err, storage.ErrExpired)
	if list, err := h.list("a", storage.ListOptions{}); err != nil || len(list.Items) != 4 {
		t.Fatalf("fresh list after compaction: %v %v", names(list.Items), err)
	}
}

func testListInvalidContinue(h *harness) {
	t := h.t
	h.create(newPod("a", "p"))
	for _, token := range []string{
		"not a token",
		base64.RawURLEncoding.EncodeToString([]byte(`{"v":"other/v9","rv":1,"start":"p"}`)),
		base64.RawURLEncoding.EncodeToString([]byte(`[1,2]`)),
	} {
		_, err := h.list("a", storage.ListOptions{Limit: 1, Continue: token})
		wantErr(t, fmt.Sprintf("continue %q", token), err, storage.ErrInvalidContinue)
	}
}
