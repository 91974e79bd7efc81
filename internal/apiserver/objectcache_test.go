package apiserver

import (
	"log/slog"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiff-sh/skiff/internal/apiserver/resources"
)

func testNamespaceCache() *objectCache {
	ep := &endpoint{res: &resources.Resource{Resource: "namespaces"}, prefix: "/registry/namespaces/"}
	return newObjectCache(ep, slog.Default())
}

func nsAt(name, rv string, labels map[string]string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, ResourceVersion: rv, Labels: labels}}
}

func cachedLabel(t *testing.T, c *objectCache, name string) (string, bool) {
	t.Helper()
	obj, ok, _ := c.Get("", name)
	if !ok {
		return "", false
	}
	return obj.(*corev1.Namespace).Labels["v"], true
}

// The watch and this server's own writes reach the cache in either order;
// the newest state wins, and a deletion is not undone by the watch's
// older events.
func TestObjectCacheOrdersByResourceVersion(t *testing.T) {
	c := testNamespaceCache()
	if _, ok, synced := c.Get("", "a"); ok || synced {
		t.Fatal("an unfilled cache claims to know")
	}
	c.replace([]runtime.Object{nsAt("a", "5", map[string]string{"v": "5"})}, 5)
	if v, ok := cachedLabel(t, c, "a"); !ok || v != "5" {
		t.Fatalf("listed state: %q %v", v, ok)
	}

	// A write through this server lands before the watch reports it (and
	// an earlier change).
	c.put(nsAt("a", "9", map[string]string{"v": "9"}), false)
	c.put(nsAt("a", "7", map[string]string{"v": "7"}), true)
	c.put(nsAt("a", "9", map[string]string{"v": "9"}), true)
	if v, _ := cachedLabel(t, c, "a"); v != "9" {
		t.Fatalf("after an older watch event: %q, want 9", v)
	}

	// Deleted through this server (last state 11); the watch then brings
	// the update at 11 and the deletion at 12.
	c.put(nsAt("a", "11", map[string]string{"v": "11"}), false)
	c.remove(nsAt("a", "11", nil), false)
	c.put(nsAt("a", "11", map[string]string{"v": "11"}), true)
	if _, ok := cachedLabel(t, c, "a"); ok {
		t.Fatal("the watch's older event brought a deleted namespace back")
	}
	c.remove(nsAt("a", "12", nil), true)
	if len(c.deleted) != 0 {
		t.Fatalf("tombstones not pruned: %v", c.deleted)
	}
	// Created again later: a new state.
	c.put(nsAt("a", "15", map[string]string{"v": "15"}), true)
	if v, ok := cachedLabel(t, c, "a"); !ok || v != "15" {
		t.Fatalf("re-created: %q %v", v, ok)
	}

	// A re-list keeps own writes newer than the list and drops what the
	// list no longer has.
	c.put(nsAt("b", "30", nil), false)
	c.replace([]runtime.Object{nsAt("c", "20", nil)}, 20)
	objs, synced := c.List()
	if !synced || len(objs) != 2 {
		t.Fatalf("after re-list: %d objects", len(objs))
	}
	if _, ok, _ := c.Get("", "a"); ok {
		t.Fatal("re-list kept a namespace it no longer has")
	}
}
