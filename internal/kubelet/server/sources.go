package server

import (
	"context"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	corelisters "k8s.io/client-go/listers/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/skiff-sh/skiff/internal/kubelet/kubetypes"
)

// ListerPods is a PodSource over a pod informer's lister: the pods bound
// to NodeName.
type ListerPods struct {
	Lister   corelisters.PodLister
	NodeName string
}

var _ PodSource = ListerPods{}

func (l ListerPods) GetPod(namespace, name string) (*corev1.Pod, bool) {
	p, err := l.Lister.Pods(namespace).Get(name)
	if err != nil || p.Spec.NodeName != l.NodeName {
		return nil, false
	}
	return p, true
}

func (l ListerPods) ListPods() []*corev1.Pod {
	all, err := l.Lister.List(labels.Everything())
	if err != nil {
		return nil
	}
	var out []*corev1.Pod
	for _, p := range all {
		if p.Spec.NodeName == l.NodeName {
			out = append(out, p)
		}
	}
	return out
}

// RuntimeLister is the part of the CRI runtime service LabeledContainers
// reads.
type RuntimeLister interface {
	ListContainers(ctx context.Context, filter *runtimeapi.ContainerFilter) ([]*runtimeapi.Container, error)
	ListPodSandbox(ctx context.Context, filter *runtimeapi.PodSandboxFilter) ([]*runtimeapi.PodSandbox, error)
}

// LabeledContainers is a ContainerSource that asks the runtime, finding
// a pod's containers and sandbox by the kubelet's labels: the current
// container is the newest of that name, the previous one the one before.
// A kubelet that keeps this mapping itself can serve it directly instead.
type LabeledContainers struct {
	Runtime RuntimeLister
	// Timeout bounds each runtime call (default 10s).
	Timeout time.Duration
}

var _ ContainerSource = LabeledContainers{}

func (l LabeledContainers) ctx() (context.Context, context.CancelFunc) {
	d := l.Timeout
	if d <= 0 {
		d = 10 * time.Second
	}
	return context.WithTimeout(context.Background(), d)
}

func (l LabeledContainers) Container(podUID types.UID, name string, previous bool) (ContainerInfo, bool) {
	ctx, cancel := l.ctx()
	defer cancel()
	cs, err := l.Runtime.ListContainers(ctx, &runtimeapi.ContainerFilter{
		LabelSelector: map[string]string{kubetypes.PodUIDLabel: string(podUID), kubetypes.ContainerNameLabel: name}})
	if err != nil {
		return ContainerInfo{}, false
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].CreatedAt > cs[j].CreatedAt })
	i := 0
	if previous {
		i = 1
	}
	if i >= len(cs) {
		return ContainerInfo{}, false
	}
	return ContainerInfo{ID: cs[i].Id}, true
}

func (l LabeledContainers) Sandbox(podUID types.UID) (string, bool) {
	ctx, cancel := l.ctx()
	defer cancel()
	sbs, err := l.Runtime.ListPodSandbox(ctx, &runtimeapi.PodSandboxFilter{
		State:         &runtimeapi.PodSandboxStateValue{State: runtimeapi.PodSandboxState_SANDBOX_READY},
		LabelSelector: map[string]string{kubetypes.PodUIDLabel: string(podUID)}})
	if err != nil || len(sbs) == 0 {
		return "", false
	}
	sort.Slice(sbs, func(i, j int) bool { return sbs[i].CreatedAt > sbs[j].CreatedAt })
	return sbs[0].Id, true
}
