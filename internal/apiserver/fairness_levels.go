package apiserver

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/auth"
)

// The built-in priority levels, named and weighted as upstream's default
// PriorityLevelConfigurations. Upstream deals each flow a hand of
// handSize of the level's `queues` shuffle-sharded queues and puts a
// request in the shortest of them, so a flow alone at its level may have
// handSize*queueLength requests waiting; here each flow has one queue of
// that length, and at most `queues` flows wait at once.
var builtinLevels = []levelConfig{
	{name: "exempt", exempt: true},
	{name: "system", shares: 30, queues: 64, handSize: 6, queueLength: 50},
	{name: "node-high", shares: 40, queues: 64, handSize: 6, queueLength: 50},
	{name: "leader-election", shares: 10, queues: 16, handSize: 4, queueLength: 50},
	{name: "workload-high", shares: 40, queues: 128, handSize: 6, queueLength: 50},
	{name: "workload-low", shares: 100, queues: 128, handSize: 6, queueLength: 50},
	{name: "global-default", shares: 20, queues: 128, handSize: 6, queueLength: 50},
	{name: "catch-all", shares: 5, reject: true},
}

// Service account groups, as the token authenticator sets them.
const (
	groupServiceAccounts           = "system:serviceaccounts"
	groupKubeSystemServiceAccounts = "system:serviceaccounts:kube-system"
	userControllerManager          = "system:kube-controller-manager"
	userScheduler                  = "system:kube-scheduler"
)

// classification is where the flow control filter puts a request: the
// flow schema that matched, its priority level, and the flow (schema plus
// distinguisher) the request queues in.
type classification struct {
	flowSchema string
	level      string
	flow       string
}

// classify matches a request against the built-in flow schemas in
// upstream's matching precedence, first match wins:
//
//	exempt                       system:masters                        → exempt
//	probes                       /healthz /livez /readyz, /metrics     → exempt
//	system-leader-election       controller-manager, scheduler: leases
//	                             in kube-system                        → leader-election
//	workload-leader-election     kube-system service accounts: leases
//	                             in kube-system                        → leader-election
//	system-node-high             system:nodes: nodes (and status),
//	                             leases in kube-node-lease             → node-high
//	system-nodes                 system:nodes: everything else         → system
//	kube-controller-manager      the controller-manager                → workload-high
//	kube-scheduler               the scheduler                         → workload-high
//	kube-system-service-accounts kube-system service accounts          → workload-high
//	service-accounts             other service accounts                → workload-low
//	global-default               every other user, and anonymous       → global-default
//	catch-all                    anything else                         → catch-all
//
// Flows are per user, except per namespace (of the object; "" for
// cluster-scoped ones) in the controller-manager, scheduler and
// kube-system service account schemas, and one flow in the exempt ones,
// as upstream's distinguisher methods. Upstream's probes
// schema does not cover /metrics; here scraping is exempt too, so a
// monitoring stack still sees an overloaded server. u nil is anonymous.
func classify(u *auth.User, ri requestInfo) classification {
	if u == nil {
		u = &auth.User{Name: auth.AnonymousUser, Groups: []string{auth.GroupUnauthenticated}}
	}
	byUser := func(schema, level string) classification {
		return classification{flowSchema: schema, level: level, flow: schema + "/" + u.Name}
	}
	byNamespace := func(schema, level string) classification {
		return classification{flowSchema: schema, level: level, flow: schema + "/" + ri.Namespace}
	}
	switch {
	case u.InGroup(auth.GroupMasters):
		return classification{flowSchema: "exempt", level: "exempt", flow: "exempt"}
	case !ri.ResourceRequest && isProbePath(ri.Path):
		return classification{flowSchema: "probes", level: "exempt", flow: "probes"}
	}
	leaderElection := ri.ResourceRequest && ri.APIGroup == "coordination.k8s.io" && ri.Resource == "leases" &&
		ri.Namespace == metav1.NamespaceSystem && (ri.Verb == "get" || ri.Verb == "create" || ri.Verb == "update")
	nodes := u.InGroup(auth.GroupNodes)
	switch {
	case leaderElection && (u.Name == userControllerManager || u.Name == userScheduler):
		return byUser("system-leader-election", "leader-election")
	case leaderElection && u.InGroup(groupKubeSystemServiceAccounts):
		return byUser("workload-leader-election", "leader-election")
	case nodes && isNodeHeartbeat(ri):
		return byUser("system-node-high", "node-high")
	case nodes:
		return byUser("system-nodes", "system")
	case u.Name == userControllerManager:
		return byNamespace("kube-controller-manager", "workload-high")
	case u.Name == userScheduler:
		return byNamespace("kube-scheduler", "workload-high")
	case u.InGroup(groupKubeSystemServiceAccounts):
		return byNamespace("kube-system-service-accounts", "workload-high")
	case u.InGroup(groupServiceAccounts):
		return byUser("service-accounts", "workload-low")
	case u.InGroup(auth.GroupAuthenticated) || u.InGroup(auth.GroupUnauthenticated):
		return byUser("global-default", "global-default")
	}
	return byUser("catch-all", "catch-all")
}

// isNodeHeartbeat: what a kubelet must get through to stay Ready — its
// Node object and status, and its Lease in kube-node-lease.
func isNodeHeartbeat(ri requestInfo) bool {
	if !ri.ResourceRequest {
		return false
	}
	switch {
	case ri.APIGroup == "" && ri.Resource == "nodes":
		return true
	case ri.APIGroup == "coordination.k8s.io" && ri.Resource == "leases" && ri.Namespace == "kube-node-lease":
		return true
	}
	return false
}

func isProbePath(p string) bool {
	for _, probe := range []string{"/healthz", "/livez", "/readyz"} {
		if p == probe || strings.HasPrefix(p, probe+"/") {
			return true
		}
	}
	return p == "/metrics"
}

// isLongRunning reports the requests upstream calls long-running: watches,
// and the proxy verb and the attach, exec, log, portforward and proxy
// subresources. Flow control lets all but watches through untouched; a
// watch holds a seat only while it starts.
func isLongRunning(ri requestInfo) bool {
	if ri.Verb == "watch" {
		return true
	}
	if !ri.ResourceRequest {
		return false
	}
	switch ri.Subresource {
	case "attach", "exec", "log", "portforward", "proxy":
		return true
	}
	return false
}

// flowControlUID is the stable UID of a built-in flow schema or priority
// level, reported in the X-Kubernetes-PF-*-UID response headers. Every
// request sends two, from a dozen names: each is hashed once.
func flowControlUID(kind, name string) string {
	key := [2]string{kind, name}
	flowControlUIDs.RLock()
	uid, ok := flowControlUIDs.m[key]
	flowControlUIDs.RUnlock()
	if ok {
		return uid
	}
	h := sha256.Sum256([]byte("skiff/" + kind + "/" + name))
	uid = fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
	flowControlUIDs.Lock()
	flowControlUIDs.m[key] = uid
	flowControlUIDs.Unlock()
	return uid
}

// flowControlUIDs memoizes flowControlUID.
var flowControlUIDs = struct {
	sync.RWMutex
	m map[[2]string]string
}{m: map[[2]string]string{}}
