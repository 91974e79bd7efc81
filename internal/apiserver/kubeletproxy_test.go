package apiserver

import (
	"net/url"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPodContainerName(t *testing.T) {
	pod := func(names ...string) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}}
		for _, n := range names {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: n})
		}
		return p
	}
	withInit := pod("a", "b")
	withInit.Spec.InitContainers = []corev1.Container{{Name: "setup"}}
	for _, tc := range []struct {
		pod     *corev1.Pod
		name    string
		want    string
		wantErr string
	}{
		{pod("only"), "", "only", ""},
		{pod("a", "b"), "b", "b", ""},
		{withInit, "setup", "setup", ""},
		{pod("a", "b"), "", "", "a container name must be specified for pod p, choose one of: [a b]"},
		{withInit, "", "", "a container name must be specified for pod p, choose one of: [setup a b]"},
		{pod(), "", "", "a container name must be specified for pod p"},
		{pod("a"), "nope", "", "container nope is not valid for pod p"},
	} {
		got, err := podContainerName(tc.pod, tc.name)
		if tc.wantErr != "" {
			if !apierrors.IsBadRequest(err) || err.Error() != tc.wantErr {
				t.Errorf("%q: got %v, want BadRequest %q", tc.name, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: got %q %v, want %q", tc.name, got, err, tc.want)
		}
	}
}

func TestContainerLogStatusError(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{
		{Name: "creating", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}},
		{Name: "pull", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff"}}},
		{Name: "crashing", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}}},
		{Name: "running", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
	}}}
	for _, tc := range []struct {
		container string
		previous  bool
		want      string
	}{
		{"creating", false, `container "creating" in pod "p" is waiting to start: ContainerCreating`},
		{"pull", false, `container "pull" in pod "p" is waiting to start: trying and failing to pull image`},
		{"crashing", false, ""}, // shows the last run's log
		{"crashing", true, ""},
		{"running", false, ""},
		{"running", true, `previous terminated container "running" in pod "p" not found`},
		{"unreported", false, ""}, // the kubelet decides
	} {
		err := containerLogStatusError(pod, tc.container, tc.previous)
		got := ""
		if err != nil {
			if !apierrors.IsBadRequest(err) {
				t.Errorf("%s: %v is not a BadRequest", tc.container, err)
			}
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%s previous=%v: got %q, want %q", tc.container, tc.previous, got, tc.want)
		}
	}
}

func TestParsePodLogOptions(t *testing.T) {
	q, _ := url.ParseQuery("container=c&follow=true&tailLines=2&timestamps=1&limitBytes=10&sinceTime=2024-05-01T10:00:00Z")
	o, err := parsePodLogOptions(q)
	if err != nil {
		t.Fatal(err)
	}
	if got := o.kubeletQuery().Encode(); got != "follow=true&limitBytes=10&sinceTime=2024-05-01T10%3A00%3A00Z&tailLines=2&timestamps=true" {
		t.Errorf("kubelet query %s", got)
	}
	for _, bad := range []string{"tailLines=-1", "limitBytes=0", "sinceSeconds=0", "sinceSeconds=5&sinceTime=2024-05-01T10:00:00Z",
		"follow=sometimes", "tailLines=ten", "sinceTime=noon"} {
		q, _ := url.ParseQuery(bad)
		if _, err := parsePodLogOptions(q); !apierrors.IsBadRequest(err) {
			t.Errorf("%s: %v, want BadRequest", bad, err)
		}
	}
}

func TestParseRemoteCommandOptions(t *testing.T) {
	q, _ := url.ParseQuery("command=sh&command=-c&command=true&stdin=true&stdout=true&stderr=true&tty=true")
	o, err := parseRemoteCommandOptions(q, true)
	if err != nil {
		t.Fatal(err)
	}
	// A terminal carries stderr: the kubelet is not asked for it.
	if got := o.kubeletQuery().Encode(); got != "command=sh&command=-c&command=true&input=1&output=1&tty=1" {
		t.Errorf("kubelet query %s", got)
	}
	for _, bad := range []string{"command=ls", "stdout=true", "command=ls&stdout=maybe"} {
		q, _ := url.ParseQuery(bad)
		if _, err := parseRemoteCommandOptions(q, true); !apierrors.IsBadRequest(err) {
			t.Errorf("%s: %v, want BadRequest", bad, err)
		}
	}
	q, _ = url.ParseQuery("stdout=true")
	if _, err := parseRemoteCommandOptions(q, false); err != nil {
		t.Errorf("attach without a command: %v", err)
	}
}

func TestNodeAddress(t *testing.T) {
	node := &corev1.Node{Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{
		{Type: corev1.NodeExternalIP, Address: "203.0.113.1"}, {Type: corev1.NodeHostName, Address: "n1"}, {Type: corev1.NodeInternalIP, Address: "10.0.0.1"}}}}
	if got := nodeAddress(node); got != "10.0.0.1" {
		t.Errorf("got %s, want the InternalIP", got)
	}
	node.Status.Addresses = node.Status.Addresses[:2]
	if got := nodeAddress(node); got != "n1" {
		t.Errorf("got %s, want the Hostname", got)
	}
	if got := nodeAddress(&corev1.Node{}); got != "" {
		t.Errorf("got %q for no addresses", got)
	}
}
