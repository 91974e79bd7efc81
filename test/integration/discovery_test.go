package integration

import (
	"crypto/tls"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"
)

func insecureHTTP() *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
}

func TestDiscoveryAndVersion(t *testing.T) {
	s, _ := start(t)
	cs, err := kubernetes.NewForConfig(s.RestConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	v, err := cs.Discovery().ServerVersion()
	if err != nil || v.Major != "1" || v.Minor != "32" {
		t.Fatalf("version %+v %v", v, err)
	}
	// client-go uses aggregated discovery.
	groups, resources, err := cs.Discovery().ServerGroupsAndResources()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, g := range groups {
		names[g.Name] = true
	}
	for _, g := range []string{"", "apps", "coordination.k8s.io", "discovery.k8s.io", "events.k8s.io"} {
		if !names[g] {
			t.Errorf("group %q missing from discovery", g)
		}
	}
	want := map[string]bool{"pods": false, "pods/status": false, "pods/eviction": false, "pods/binding": false,
		"deployments/scale": false, "namespaces/finalize": false, "services/status": false}
	for _, rl := range resources {
		for _, r := range rl.APIResources {
			if _, ok := want[r.Name]; ok {
				want[r.Name] = true
			}
			if r.Name == "pods" && (!contains(r.ShortNames, "po") || !contains(r.Categories, "all")) {
				t.Errorf("pods short names/categories: %v %v", r.ShortNames, r.Categories)
			}
			if r.Name == "deployments/scale" && (r.Group != "autoscaling" || r.Kind != "Scale") {
				t.Errorf("deployments/scale = %+v", r)
			}
			if r.Name == "pods/eviction" && (r.Group != "policy" || r.Kind != "Eviction") {
				t.Errorf("pods/eviction = %+v", r)
			}
		}
	}
	for name, ok := range want {
		if !ok {
			t.Errorf("%s missing from discovery", name)
		}
	}
	// Legacy (unaggregated) discovery works too.
	raw := newRaw(t, s)
	code, body, hdr := raw.do("GET", "/api/v1", "", nil, "Accept", "application/json")
	if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
		t.Fatalf("/api/v1: %d %s", code, hdr)
	}
	var rl metav1.APIResourceList
	if err := json.Unmarshal(body, &rl); err != nil || rl.GroupVersion != "v1" {
		t.Fatalf("/api/v1 body: %v", err)
	}
	code, _, hdr = raw.do("GET", "/apis", "", nil, "Accept", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json")
	if code != 200 || !strings.Contains(hdr.Get("Content-Type"), "as=APIGroupDiscoveryList") {
		t.Fatalf("aggregated /apis: %d %s", code, hdr.Get("Content-Type"))
	}
	// OpenAPI v3 index lists each group version.
	code, body, _ = raw.do("GET", "/openapi/v3", "", nil)
	if code != 200 || !strings.Contains(string(body), `"apis/apps/v1"`) || !strings.Contains(string(body), `"api/v1"`) {
		t.Fatalf("/openapi/v3: %d %.200s", code, body)
	}
	var _ discovery.DiscoveryInterface = cs.Discovery()
}

func TestTableOutput(t *testing.T) {
	s, cs := start(t)
	ctx := ctxFor(t)
	cs.CoreV1().Pods("default").Create(ctx, testPod("tbl"), metav1.CreateOptions{})
	raw := newRaw(t, s)
	code, body, _ := raw.do("GET", "/api/v1/namespaces/default/pods?limit=500", "", nil,
		"Accept", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json")
	if code != 200 {
		t.Fatalf("table: %d %s", code, body)
	}
	var table metav1.Table
	if err := json.Unmarshal(body, &table); err != nil {
		t.Fatal(err)
	}
	if table.Kind != "Table" || len(table.Rows) != 1 || len(table.ColumnDefinitions) < 5 {
		t.Fatalf("table = %+v", table)
	}
	if table.ColumnDefinitions[0].Name != "Name" || table.Rows[0].Cells[0] != "tbl" || table.Rows[0].Cells[2] != "Pending" {
		t.Fatalf("row = %v (columns %v)", table.Rows[0].Cells, table.ColumnDefinitions)
	}
	if !strings.Contains(string(table.Rows[0].Object.Raw), `"PartialObjectMetadata"`) {
		t.Fatalf("row object: %s", table.Rows[0].Object.Raw)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
