package e2e

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestGetOptions: the list options behind kubectl get's flags — paging
// (--chunk-size), label and field selectors, --sort-by (full objects in
// the Table), all namespaces, and the client-side output formats.
func TestGetOptions(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "get-options")
	// Every namespace gets the cluster CA as kube-root-ca.crt, soon after
	// it is made; the lists below include it, as they do upstream.
	waitFor(t, 30*time.Second, func() bool {
		_, _, err := kubectl(t, "get", "cm", "kube-root-ca.crt", "-n", ns)
		return err == nil
	})
	for _, c := range []struct{ name, tier, data string }{
		{"c-one", "front", "--from-literal=x=3"},
		{"c-two", "back", "--from-literal=x=1"},
		{"c-three", "front", "--from-literal=x=2"},
	} {
		mustKubectl(t, "create", "configmap", c.name, c.data, "-n", ns)
		mustKubectl(t, "label", "cm", c.name, "tier="+c.tier, "-n", ns)
	}
	names := func(out string) []string { return strings.Fields(strings.ReplaceAll(out, "configmap/", "")) }

	// Paging: one object per request, following continue tokens.
	tb := parseTable(t, mustKubectl(t, "get", "cm", "-n", ns, "--chunk-size=1"))
	wantHeader(t, tb, "NAME", "DATA", "AGE")
	if got := tb.column("NAME"); !reflect.DeepEqual(got, []string{"c-one", "c-three", "c-two", "kube-root-ca.crt"}) {
		t.Errorf("get --chunk-size=1 rows = %q, want c-one c-three c-two kube-root-ca.crt", got)
	}
	if got := names(mustKubectl(t, "get", "cm", "-n", ns, "--chunk-size=2", "-o", "name")); !reflect.DeepEqual(got, []string{"c-one", "c-three", "c-two", "kube-root-ca.crt"}) {
		t.Errorf("get --chunk-size=2 -o name = %q", got)
	}

	for _, c := range []struct {
		selector []string
		want     []string
	}{
		{[]string{"-l", "tier=front"}, []string{"c-one", "c-three"}},
		{[]string{"-l", "tier!=front"}, []string{"c-two", "kube-root-ca.crt"}},
		{[]string{"-l", "tier in (back,side)"}, []string{"c-two"}},
		{[]string{"-l", "!tier"}, []string{"kube-root-ca.crt"}},
		{[]string{"-l", "tier"}, []string{"c-one", "c-three", "c-two"}},
		{[]string{"--field-selector", "metadata.name=c-two"}, []string{"c-two"}},
		{[]string{"--field-selector", "metadata.name!=c-two"}, []string{"c-one", "c-three", "kube-root-ca.crt"}},
		{[]string{"--field-selector", "metadata.namespace=" + ns, "-l", "tier=front"}, []string{"c-one", "c-three"}},
	} {
		out := mustKubectl(t, append([]string{"get", "cm", "-n", ns, "-o", "name"}, c.selector...)...)
		if got := names(out); !reflect.DeepEqual(got, c.want) && !(len(got) == 0 && len(c.want) == 0) {
			t.Errorf("get cm %q = %q, want %q", c.selector, got, c.want)
		}
	}
	stdout, stderr, err := kubectl(t, "get", "cm", "-n", ns, "--field-selector", "data.x=1")
	wantContains(t, "unsupported field selector", wantFail(t, "unsupported field selector", stdout, stderr, err),
		"Error from server (BadRequest)", "field label not supported: data.x")
	stdout, stderr, err = kubectl(t, "get", "cm", "-n", ns, "-l", "bad selector==")
	wantContains(t, "malformed label selector", wantFail(t, "malformed label selector", stdout, stderr, err),
		"Error from server (BadRequest)", `field selector "": unable to parse requirement: found 'selector', expected: in, notin`)

	// --sort-by asks for the objects inside the Table.
	tb = parseTable(t, mustKubectl(t, "get", "cm", "-n", ns, "-l", "tier", "--sort-by=.data.x"))
	if got := tb.column("NAME"); !reflect.DeepEqual(got, []string{"c-two", "c-three", "c-one"}) {
		t.Errorf("get --sort-by=.data.x = %q, want c-two c-three c-one", got)
	}

	// All namespaces adds the NAMESPACE column.
	tb = parseTable(t, mustKubectl(t, "get", "cm", "-A", "-l", "tier=back"))
	wantHeader(t, tb, "NAMESPACE", "NAME", "DATA", "AGE")
	if rows := tb.rowsWhere(map[string]string{"NAMESPACE": ns, "NAME": "c-two", "DATA": "1"}); len(rows) != 1 {
		t.Errorf("get -A rows = %q", tb.rows)
	}

	// Client-side formats over plain JSON.
	tb = parseTable(t, mustKubectl(t, "get", "cm", "-n", ns, "-o", "custom-columns=N:.metadata.name,X:.data.x,T:.metadata.labels.tier"))
	wantHeader(t, tb, "N", "X", "T")
	wantRow(t, tb, "c-three", map[string]string{"X": "2", "T": "front"})
	if got := mustKubectl(t, "get", "cm", "c-one", "-n", ns, "-o", `go-template={{.metadata.name}}:{{.data.x}}`); got != "c-one:3" {
		t.Errorf("go-template = %q", got)
	}
	out := mustKubectl(t, "get", "cm", "-n", ns, "-o", "jsonpath={.kind} {.items[*].metadata.name}")
	if out != "List c-one c-three c-two kube-root-ca.crt" {
		t.Errorf("list jsonpath = %q", out)
	}

	// Several kinds in one get, and --show-kind.
	mustKubectl(t, "create", "secret", "generic", "s", "--from-literal=a=b", "-n", ns)
	tables := parseTables(mustKubectl(t, "get", "cm,secret", "-n", ns, "-l", "tier=back"))
	if len(tables) != 1 || len(tables[0].rows) != 1 || tables[0].rows[0][0] != "configmap/c-two" {
		t.Errorf("get cm,secret -l tier=back = %+v", tables)
	}
	tables = parseTables(mustKubectl(t, "get", "cm,secret", "-n", ns))
	if len(tables) != 2 {
		t.Fatalf("get cm,secret printed %d tables, want 2", len(tables))
	}
	wantRow(t, tables[1], "secret/s", map[string]string{"TYPE": "Opaque", "DATA": "1"})
}
