package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Reading pods, events and endpoints of a node test, and waiting for
// them to change.

// pod reads a pod through the API.
func (n *nodeTest) pod(name string) (*corev1.Pod, error) {
	return n.client.CoreV1().Pods(n.ns).Get(context.Background(), name, metav1.GetOptions{})
}

// waitPod polls the pod until cond holds and returns it; on timeout it
// fails the test with what the pod last looked like.
func (n *nodeTest) waitPod(name string, timeout time.Duration, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	n.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		p, err := n.pod(name)
		if err == nil && cond(p) {
			return p
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("pod %s/%s: not %s after %v; last: %s", n.ns, name, what, timeout, describeStatus(p, err))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitReady waits for the pod's Ready condition.
func (n *nodeTest) waitReady(name string, timeout time.Duration) *corev1.Pod {
	n.t.Helper()
	return n.waitPod(name, timeout, "Ready", podReady)
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// containerStatus returns the status of the pod's container name, or nil.
func containerStatus(p *corev1.Pod, name string) *corev1.ContainerStatus {
	for i := range p.Status.ContainerStatuses {
		if p.Status.ContainerStatuses[i].Name == name {
			return &p.Status.ContainerStatuses[i]
		}
	}
	return nil
}

// describeStatus is a one-line account of a pod's status for failures.
func describeStatus(p *corev1.Pod, err error) string {
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "phase=%s", p.Status.Phase)
	for _, c := range p.Status.Conditions {
		fmt.Fprintf(&b, " %s=%s", c.Type, c.Status)
	}
	for _, c := range p.Status.ContainerStatuses {
		fmt.Fprintf(&b, " [%s restarts=%d ready=%v state=%s last=%s]", c.Name, c.RestartCount, c.Ready, stateString(c.State), stateString(c.LastTerminationState))
	}
	return b.String()
}

func stateString(s corev1.ContainerState) string {
	switch {
	case s.Running != nil:
		return "running since " + s.Running.StartedAt.Format(time.RFC3339)
	case s.Waiting != nil:
		return fmt.Sprintf("waiting(%s: %s)", s.Waiting.Reason, s.Waiting.Message)
	case s.Terminated != nil:
		return fmt.Sprintf("terminated(%s, exit %d: %s)", s.Terminated.Reason, s.Terminated.ExitCode, s.Terminated.Message)
	}
	return "none"
}

// events returns "Reason: message" of every event about the object, one
// a line.
func (n *nodeTest) events(name string) string {
	n.t.Helper()
	list, err := n.client.CoreV1().Events(n.ns).List(context.Background(), metav1.ListOptions{
		FieldSelector: "involvedObject.name=" + name})
	if err != nil {
		n.t.Fatalf("listing events of %s/%s: %v", n.ns, name, err)
	}
	var b strings.Builder
	for _, e := range list.Items {
		fmt.Fprintf(&b, "%s: %s\n", e.Reason, e.Message)
	}
	return b.String()
}

// waitEvents polls the object's events until each of subs appears.
func (n *nodeTest) waitEvents(name string, timeout time.Duration, subs ...string) {
	n.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		evs := n.events(name)
		missing := ""
		for _, s := range subs {
			if !strings.Contains(evs, s) {
				missing = s
				break
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			n.t.Errorf("events of %s/%s: no %q after %v; events:\n%s", n.ns, name, missing, timeout, evs)
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// waitEndpoint waits until the Service's EndpointSlices list ip with
// conditions.ready == ready.
func (n *nodeTest) waitEndpoint(service, ip string, ready bool) {
	n.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		slices, err := n.client.DiscoveryV1().EndpointSlices(n.ns).List(context.Background(), metav1.ListOptions{
			LabelSelector: discoveryv1.LabelServiceName + "=" + service})
		if err != nil {
			n.t.Fatal(err)
		}
		var seen []string
		for _, sl := range slices.Items {
			for _, ep := range sl.Endpoints {
				r := ep.Conditions.Ready != nil && *ep.Conditions.Ready
				seen = append(seen, fmt.Sprintf("%v ready=%v", ep.Addresses, r))
				if len(ep.Addresses) > 0 && ep.Addresses[0] == ip && r == ready {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("service %s: no endpoint %s with ready=%v after 20s; endpoints: %v", service, ip, ready, seen)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitLeaseRenewedAfter waits for the node's Lease to be renewed after t0:
// a kubelet is running and talking to the API server.
func (n *nodeTest) waitLeaseRenewedAfter(t0 time.Time, timeout time.Duration) {
	n.t.Helper()
	deadline := time.Now().Add(timeout)
	last := "no lease"
	for {
		l, err := n.client.CoordinationV1().Leases("kube-node-lease").Get(context.Background(), nodeName, metav1.GetOptions{})
		if err == nil && l.Spec.RenewTime != nil {
			if l.Spec.RenewTime.After(t0) {
				return
			}
			last = "renewed at " + l.Spec.RenewTime.Format(time.RFC3339Nano)
		} else if err != nil {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("node %s: lease not renewed in the %v after %s (last: %s)", nodeName, timeout, t0.Format(time.RFC3339Nano), last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitExec retries `kubectl exec pod -- true` until it succeeds: the
// kubelet server answers for the pod.
func (n *nodeTest) waitExec(pod string, timeout time.Duration) {
	n.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		_, errOut, err := n.kubectl("exec", pod, "--", "true")
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("kubectl exec %s still failing after %v: %v: %s", pod, timeout, err, errOut)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// portForward runs `kubectl port-forward target :port` for the rest of
// the test and returns the local port kubectl chose.
func (n *nodeTest) portForward(target string, port int) int {
	n.t.Helper()
	b := n.background(2*time.Minute, "port-forward", target, ":"+strconv.Itoa(port))
	re := regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+) -> ` + strconv.Itoa(port))
	if !b.waitOutput(20*time.Second, re.MatchString) {
		n.t.Fatalf("kubectl port-forward %s: no forwarding after 20s; stdout %q stderr %q", target, b.stdout(), b.stderr())
	}
	local, _ := strconv.Atoi(re.FindStringSubmatch(b.stdout())[1])
	return local
}

// httpGet returns the body of a GET, failing t (and returning "") unless
// it answers 200 within 10s.
func httpGet(t *testing.T, url string) string {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	resp, err := client.Get(url)
	if err != nil {
		t.Errorf("GET %s: %v", url, err)
		return ""
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s: %s %q (%v)", url, resp.Status, body, err)
		return ""
	}
	return string(body)
}

// waitHTTP polls url until it answers 200 with want, failing t after
// timeout.
func waitHTTP(t *testing.T, url, want string, timeout time.Duration) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		resp, err := client.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && string(body) == want {
				return
			}
			last = fmt.Sprintf("%s %q", resp.Status, body)
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: no 200 %q after %v (last: %s)", url, want, timeout, last)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
