package server

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/skiff-sh/skiff/internal/kubelet/kubetypes"
)

func TestListerPods(t *testing.T) {
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	for _, p := range []*corev1.Pod{
		{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "mine"}, Spec: corev1.PodSpec{NodeName: "n1"}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "theirs"}, Spec: corev1.PodSpec{NodeName: "n2"}},
	} {
		if err := idx.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	src := ListerPods{Lister: corelisters.NewPodLister(idx), NodeName: "n1"}
	if p, ok := src.GetPod("default", "mine"); !ok || p.Name != "mine" {
		t.Errorf("GetPod mine: %v %v", p, ok)
	}
	if _, ok := src.GetPod("default", "theirs"); ok {
		t.Error("GetPod found another node's pod")
	}
	if _, ok := src.GetPod("default", "none"); ok {
		t.Error("GetPod found a pod that does not exist")
	}
	if ps := src.ListPods(); len(ps) != 1 || ps[0].Name != "mine" {
		t.Errorf("ListPods: %v", ps)
	}
}

// listed answers List calls by matching labels, as a runtime does.
type listed struct {
	containers []*runtimeapi.Container
	sandboxes  []*runtimeapi.PodSandbox
}

func matches(labels, selector map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func (l listed) ListContainers(_ context.Context, f *runtimeapi.ContainerFilter) ([]*runtimeapi.Container, error) {
	var out []*runtimeapi.Container
	for _, c := range l.containers {
		if matches(c.Labels, f.GetLabelSelector()) {
			out = append(out, c)
		}
	}
	return out, nil
}

func (l listed) ListPodSandbox(_ context.Context, f *runtimeapi.PodSandboxFilter) ([]*runtimeapi.PodSandbox, error) {
	var out []*runtimeapi.PodSandbox
	for _, s := range l.sandboxes {
		if matches(s.Labels, f.GetLabelSelector()) && (f.GetState() == nil || f.GetState().State == s.State) {
			out = append(out, s)
		}
	}
	return out, nil
}

func TestLabeledContainers(t *testing.T) {
	labels := func(uid, name string) map[string]string {
		m := map[string]string{kubetypes.PodUIDLabel: uid}
		if name != "" {
			m[kubetypes.ContainerNameLabel] = name
		}
		return m
	}
	src := LabeledContainers{Runtime: listed{
		containers: []*runtimeapi.Container{
			{Id: "old", CreatedAt: 1, Labels: labels("u1", "app")},
			{Id: "new", CreatedAt: 3, Labels: labels("u1", "app")},
			{Id: "mid", CreatedAt: 2, Labels: labels("u1", "app")},
			{Id: "other-pod", CreatedAt: 9, Labels: labels("u2", "app")},
		},
		sandboxes: []*runtimeapi.PodSandbox{
			{Id: "sb-dead", CreatedAt: 5, State: runtimeapi.PodSandboxState_SANDBOX_NOTREADY, Labels: labels("u1", "")},
			{Id: "sb", CreatedAt: 1, State: runtimeapi.PodSandboxState_SANDBOX_READY, Labels: labels("u1", "")},
		},
	}}
	if c, ok := src.Container("u1", "app", false); !ok || c.ID != "new" {
		t.Errorf("current: %+v %v", c, ok)
	}
	if c, ok := src.Container("u1", "app", true); !ok || c.ID != "mid" {
		t.Errorf("previous: %+v %v", c, ok)
	}
	if _, ok := src.Container("u1", "side", false); ok {
		t.Error("found a container that does not exist")
	}
	if _, ok := src.Container("u2", "app", true); ok {
		t.Error("found a previous container that does not exist")
	}
	if id, ok := src.Sandbox("u1"); !ok || id != "sb" {
		t.Errorf("sandbox: %q %v", id, ok)
	}
	if _, ok := src.Sandbox("u3"); ok {
		t.Error("found a sandbox that does not exist")
	}
}
