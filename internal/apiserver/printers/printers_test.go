package printers

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// testNow is the clock of every case; testdata timestamps are set against it.
var testNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// printer is one kind's columns and row function, with a new object to
// decode test input into.
type printer struct {
	columns []metav1.TableColumnDefinition
	row     func(runtime.Object, time.Time) []interface{}
	newObj  func() runtime.Object
}

// printersByType maps "apiVersion Kind" to its printer; other kinds print
// with the defaults.
var printersByType = map[string]printer{
	"v1 Pod":                            {PodColumns, PodRow, func() runtime.Object { return &corev1.Pod{} }},
	"apps/v1 Deployment":                {DeploymentColumns, DeploymentRow, func() runtime.Object { return &appsv1.Deployment{} }},
	"apps/v1 ReplicaSet":                {ReplicaSetColumns, ReplicaSetRow, func() runtime.Object { return &appsv1.ReplicaSet{} }},
	"v1 Service":                        {ServiceColumns, ServiceRow, func() runtime.Object { return &corev1.Service{} }},
	"v1 Endpoints":                      {EndpointsColumns, EndpointsRow, func() runtime.Object { return &corev1.Endpoints{} }},
	"discovery.k8s.io/v1 EndpointSlice": {EndpointSliceColumns, EndpointSliceRow, func() runtime.Object { return &discoveryv1.EndpointSlice{} }},
	"v1 Node":                           {NodeColumns, NodeRow, func() runtime.Object { return &corev1.Node{} }},
	"v1 Namespace":                      {NamespaceColumns, NamespaceRow, func() runtime.Object { return &corev1.Namespace{} }},
	"v1 ConfigMap":                      {ConfigMapColumns, ConfigMapRow, func() runtime.Object { return &corev1.ConfigMap{} }},
	"v1 Secret":                         {SecretColumns, SecretRow, func() runtime.Object { return &corev1.Secret{} }},
	"v1 ServiceAccount":                 {ServiceAccountColumns, ServiceAccountRow, func() runtime.Object { return &corev1.ServiceAccount{} }},
	"v1 Event":                          {EventColumns, EventRow, func() runtime.Object { return &corev1.Event{} }},
	"events.k8s.io/v1 Event":            {EventV1Columns, EventV1Row, func() runtime.Object { return &eventsv1.Event{} }},
	"coordination.k8s.io/v1 Lease":      {LeaseColumns, LeaseRow, func() runtime.Object { return &coordinationv1.Lease{} }},
}

var defaultPrinter = printer{DefaultColumns, DefaultRow, func() runtime.Object { return &unstructured.Unstructured{} }}

// testCase is one YAML document of a testdata file: the object and the
// comment lines above it, which describe the case.
type testCase struct {
	comment []string
	typ     string
	obj     runtime.Object
	printer printer
}

// TestGolden prints every object of testdata/*.yaml and compares the rows
// with testdata/*.golden. Each kind's section starts with its columns
// (wide ones marked *); each row is the JSON array the Table carries.
func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no testdata inputs: %v", err)
	}
	for _, in := range inputs {
		t.Run(strings.TrimSuffix(filepath.Base(in), ".yaml"), func(t *testing.T) {
			cases := readCases(t, in)
			got := renderCases(t, cases)
			goldenPath := strings.TrimSuffix(in, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(goldenPath, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(goldenPath)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the output; run with -update and review the diff.\n--- got ---\n%s", goldenPath, got)
			}
		})
	}
}

// TestCellTypes checks every golden row against its columns: one cell per
// column, int64 under "integer" and string under "string".
func TestCellTypes(t *testing.T) {
	inputs, _ := filepath.Glob("testdata/*.yaml")
	for _, in := range inputs {
		for _, c := range readCases(t, in) {
			checkRow(t, c.typ+" "+strings.Join(c.comment, " "), c.printer.columns, c.printer.row(c.obj, testNow))
		}
	}
}

// TestColumns checks each kind's column definitions and that an empty
// object, and an object of the wrong type, still give a full row.
func TestColumns(t *testing.T) {
	all := map[string]printer{"default": defaultPrinter}
	for k, p := range printersByType {
		all[k] = p
	}
	for name, p := range all {
		names := 0
		for _, c := range p.columns {
			if c.Format == "name" {
				names++
			}
			if c.Name == "" || c.Description == "" || (c.Type != "string" && c.Type != "integer") || c.Priority > 1 {
				t.Errorf("%s: bad column %+v", name, c)
			}
		}
		if names != 1 {
			t.Errorf("%s: %d columns with format name, want 1", name, names)
		}
		checkRow(t, name+" empty object", p.columns, p.row(p.newObj(), testNow))

		// A printer handed another kind keeps the table's shape.
		var wrong runtime.Object = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x"}}
		if _, isConfigMap := p.newObj().(*corev1.ConfigMap); isConfigMap {
			wrong = &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "x"}}
		}
		row := p.row(wrong, testNow)
		if len(row) != len(p.columns) {
			t.Errorf("%s: wrong-type row has %d cells for %d columns", name, len(row), len(p.columns))
			continue
		}
		for i, c := range p.columns {
			want := "<unknown>"
			switch {
			case c.Format == "name":
				want = "x"
			case name == "default":
				continue // NAME and AGE fit every object
			}
			if row[i] != want {
				t.Errorf("%s: wrong-type row %v: column %s is %v, want %q", name, row, c.Name, row[i], want)
			}
		}
	}
}

func checkRow(t *testing.T, what string, columns []metav1.TableColumnDefinition, cells []interface{}) {
	t.Helper()
	if len(cells) != len(columns) {
		t.Errorf("%s: %d cells for %d columns", what, len(cells), len(columns))
		return
	}
	for i, c := range columns {
		switch cells[i].(type) {
		case string:
			if c.Type != "string" {
				t.Errorf("%s: column %s is %s, cell %q is a string", what, c.Name, c.Type, cells[i])
			}
		case int64:
			if c.Type != "integer" {
				t.Errorf("%s: column %s is %s, cell %v is an int64", what, c.Name, c.Type, cells[i])
			}
		default:
			t.Errorf("%s: column %s: cell %v has type %T", what, c.Name, cells[i], cells[i])
		}
	}
}

// readCases splits a testdata file into YAML documents and decodes each
// strictly (a misspelt field fails the test) into its kind's type.
func readCases(t *testing.T, path string) []testCase {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cases []testCase
	for i, doc := range strings.Split(string(data), "\n---\n") {
		var c testCase
		for _, line := range strings.Split(strings.TrimSpace(doc), "\n") {
			if !strings.HasPrefix(line, "#") {
				break
			}
			c.comment = append(c.comment, strings.TrimSpace(strings.TrimPrefix(line, "#")))
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			t.Fatalf("%s document %d: %v", path, i, err)
		}
		c.typ = tm.APIVersion + " " + tm.Kind
		p, ok := printersByType[c.typ]
		if !ok {
			p = defaultPrinter
		}
		c.printer, c.obj = p, p.newObj()
		if err := yaml.UnmarshalStrict([]byte(doc), c.obj); err != nil {
			t.Fatalf("%s document %d (%s): %v", path, i, c.typ, err)
		}
		cases = append(cases, c)
	}
	return cases
}

// renderCases prints the cases in the golden format.
func renderCases(t *testing.T, cases []testCase) []byte {
	t.Helper()
	var b bytes.Buffer
	section := ""
	for _, c := range cases {
		if c.typ != section {
			if section != "" {
				b.WriteString("\n")
			}
			section = c.typ
			fmt.Fprintf(&b, "== %s: %s\n", c.typ, columnHeader(c.printer.columns))
		}
		for _, line := range c.comment {
			fmt.Fprintf(&b, "# %s\n", line)
		}
		b.Write(jsonLine(t, c.printer.row(c.obj, testNow)))
	}
	return b.Bytes()
}

// columnHeader lists column names as kubectl prints them, wide ones
// marked with *.
func columnHeader(columns []metav1.TableColumnDefinition) string {
	names := make([]string, len(columns))
	for i, c := range columns {
		names[i] = strings.ToUpper(c.Name)
		if c.Priority > 0 {
			names[i] += "*"
		}
	}
	return strings.Join(names, " | ")
}

// jsonLine encodes cells as the Table's JSON does, without HTML escaping so
// that "<none>" stays readable.
func jsonLine(t *testing.T, cells []interface{}) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(cells); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
