package integration

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// TestStorageMetrics checks the etcd series on /metrics, and through them
// that reads a client may take from the watch cache (resourceVersion "0")
// do not reach etcd, while consistent reads do.
func TestStorageMetrics(t *testing.T) {
	_, cs := start(t)
	ctx := ctxFor(t)
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "metrics-node"}}
	if _, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A list starts the nodes' watch cache; wait until it has the node.
	eventually(t, 10e9, "the watch cache to hold the node", func() bool {
		l, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{ResourceVersion: "0"})
		return err == nil && len(l.Items) == 1
	})

	before := etcdRequests(t, cs, "get", "nodes")
	for range 20 {
		if _, err := cs.CoreV1().Nodes().Get(ctx, "metrics-node", metav1.GetOptions{ResourceVersion: "0"}); err != nil {
			t.Fatal(err)
		}
	}
	if n := etcdRequests(t, cs, "get", "nodes") - before; n != 0 {
		t.Errorf("20 GETs at resourceVersion 0 sent %v reads to etcd, want 0 (served by the watch cache)", n)
	}
	before = etcdRequests(t, cs, "get", "nodes")
	for range 5 {
		if _, err := cs.CoreV1().Nodes().Get(ctx, "metrics-node", metav1.GetOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if n := etcdRequests(t, cs, "get", "nodes") - before; n != 5 {
		t.Errorf("5 consistent GETs counted %v etcd reads, want 5", n)
	}
	if n := etcdRequests(t, cs, "create", "nodes"); n < 1 {
		t.Errorf("etcd_requests_total{operation=\"create\",type=\"nodes\"} = %v, want at least 1", n)
	}
}

// etcdRequests reads etcd_requests_total{operation=op,type=typ} from
// /metrics (0 if absent).
func etcdRequests(t *testing.T, cs kubernetes.Interface, op, typ string) float64 {
	t.Helper()
	body, err := cs.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctxFor(t))
	if err != nil {
		t.Fatal(err)
	}
	want := `etcd_requests_total{operation="` + op + `",type="` + typ + `"} `
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), want); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s%s: %v", want, v, err)
			}
			return n
		}
	}
	return 0
}
