package proxy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/knftables"

	"github.com/skiff-sh/skiff/internal/controller/controllertest"
	"github.com/skiff-sh/skiff/internal/metrics"
	"github.com/skiff-sh/skiff/internal/proxy"
)

// TestProxyRunFollowsTheAPI runs the proxy against a real in-process API
// server; the nftables side is knftables' in-memory fake, so the test
// needs no root. It checks the informer → sync path, the label filter,
// the health-check node port, rate limiting and the metrics.
func TestProxyRunFollowsTheAPI(t *testing.T) {
	client, ns := controllertest.Start(t)
	ctx := controllertest.Context(t)
	_, cidr, _ := net.ParseCIDR("10.42.0.0/16")
	fake := knftables.NewFake(knftables.IPv4Family, proxy.TableName)
	p, err := proxy.New(proxy.Config{Client: client, NodeName: "node-a", NodeIPs: []net.IP{net.ParseIP("192.168.50.10")},
		ClusterCIDR: cidr, MinSyncPeriod: 300 * time.Millisecond, NFT: fake, HealthCheckAddress: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	proxy.DisableConntrack(p) // the host's conntrack is not the test's
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})

	svc := createService(t, client, ns, "web", nil)
	other := createService(t, client, ns, "not-mine", map[string]string{proxy.LabelServiceProxyName: "someone-else"})
	createSlice(t, client, ns, "web", "10.42.0.5", "node-a")
	createSlice(t, client, ns, "not-mine", "10.42.0.6", "node-a")

	key := fmt.Sprintf("%s . tcp . 80", svc.Spec.ClusterIP)
	controllertest.Eventually(t, 10*time.Second, func() error {
		dump := fake.Dump()
		if !strings.Contains(dump, key+" : goto service-"+ns+"/web/tcp/http") ||
			!strings.Contains(dump, "dnat to 10.42.0.5:8080") {
			return fmt.Errorf("web not programmed:\n%s", dump)
		}
		return nil
	})
	if dump := fake.Dump(); strings.Contains(dump, other.Spec.ClusterIP) || strings.Contains(dump, "not-mine") {
		t.Fatalf("a Service of another proxy was programmed:\n%s", dump)
	}

	hc := svc.Spec.HealthCheckNodePort
	if hc == 0 {
		t.Fatal("the API server allocated no health-check node port")
	}
	wantHealth(t, hc, http.StatusOK, 1)

	// The endpoint moves to another node: the load balancer must stop
	// sending here.
	before := counterValue(t, proxy.SyncsTotal.WithLabelValues("partial", "success"))
	start := time.Now()
	for i := range 10 { // a burst of changes is batched by MinSyncPeriod
		updateSlice(t, client, ns, "web", fmt.Sprintf("10.42.1.%d", 10+i), "node-b")
	}
	wantHealth(t, hc, http.StatusServiceUnavailable, 0)
	controllertest.Eventually(t, 10*time.Second, func() error {
		if !strings.Contains(fake.Dump(), "dnat to 10.42.1.19:8080") {
			return fmt.Errorf("last endpoint not programmed")
		}
		return nil
	})
	syncs := counterValue(t, proxy.SyncsTotal.WithLabelValues("partial", "success")) - before
	if limit := float64(time.Since(start)/(300*time.Millisecond)) + 2; syncs > limit {
		t.Errorf("%v syncs in %v: MinSyncPeriod not honoured", syncs, time.Since(start))
	}

	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, f := range families {
		found[f.GetName()] = true
	}
	for _, name := range []string{"skiff_proxy_sync_proxy_rules_duration_seconds", "skiff_proxy_syncs_total"} {
		if !found[name] {
			t.Errorf("metric %s not registered", name)
		}
	}
}

func createService(t *testing.T, client kubernetes.Interface, ns, name string, labels map[string]string) *corev1.Service {
	t.Helper()
	svc, err := client.CoreV1().Services(ns).Create(context.Background(), &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: corev1.ServiceSpec{
			Type:                  corev1.ServiceTypeLoadBalancer,
			ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal,
			Ports:                 []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func slice(ns, svc, ip, node string) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: svc + "-x", Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: new("http"), Port: new(int32(8080)), Protocol: new(corev1.ProtocolTCP)}},
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{ip}, NodeName: new(node)}},
	}
}

func createSlice(t *testing.T, client kubernetes.Interface, ns, svc, ip, node string) {
	t.Helper()
	if _, err := client.DiscoveryV1().EndpointSlices(ns).Create(context.Background(), slice(ns, svc, ip, node), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func updateSlice(t *testing.T, client kubernetes.Interface, ns, svc, ip, node string) {
	t.Helper()
	cur, err := client.DiscoveryV1().EndpointSlices(ns).Get(context.Background(), svc+"-x", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	next := slice(ns, svc, ip, node)
	next.ResourceVersion = cur.ResourceVersion
	if _, err := client.DiscoveryV1().EndpointSlices(ns).Update(context.Background(), next, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func wantHealth(t *testing.T, port int32, code, local int) {
	t.Helper()
	controllertest.Eventually(t, 10*time.Second, func() error {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", port))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var body struct {
			Service        struct{ Namespace, Name string }
			LocalEndpoints int
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			return err
		}
		if resp.StatusCode != code || body.LocalEndpoints != local || body.Service.Name != "web" {
			return fmt.Errorf("health check: %d %+v, want %d with %d local endpoints", resp.StatusCode, body, code, local)
		}
		return nil
	})
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
